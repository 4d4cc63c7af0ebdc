"""Benchmark ``plan`` on an export with one huge invalid cell, against ``validate`` of it.

Issue 15 found ``plan`` quadratic in the length of an invalid cell (1 MB 4.3 s, 2 MB
10.3 s, 4 MB 53.6 s, and 3.3 MB of output per MB of cell): the terminal table folded the
whole value, and rich splits a folded cell into lines with one ``str.partition`` per line
over the rest of the text. Values are now cut at 200 characters everywhere. This measures,
in one run, the real CLI as subprocesses against the embedded sandbox:

- ``validate FILE`` (the baseline: reads and checks the cell once) and ``plan FILE
  --sandbox`` for cells of 1, 2, 4 and 8 MB (``--sizes``), best of ``--runs``;
- the ratio plan / validate at each size (target: at most 2x: planning adds a sandbox and
  one GET, not work per byte of the cell);
- how plan's time grows from the smallest to the largest cell, next to validate's (linear
  growth keeps the two growths alike);
- plan's output in bytes (target: under 10 KB whatever the cell).

Run from the project root::

    .venv/bin/python bench/huge_cell.py
    .venv/bin/python bench/huge_cell.py --sizes 1 4 16 50 --runs 1

Exit status 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

MEGABYTE: Final = 1024 * 1024
PLAN_OVER_VALIDATE_MAX: Final = 2.0
OUTPUT_MAX_BYTES: Final = 10_000
CLI: Final = [sys.executable, "-m", "communal_sync"]


def write_export(path: Path, cell_bytes: int) -> None:
    """Two rows of the demo organization; the first with an invalid email of the size."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("id,First Name,Last Name,Email\n")
        handle.write("101,Amara,Okafor," + "x" * cell_bytes + "\n")
        handle.write("102,Bruno,Lefèvre,bruno.lefevre@example.org\n")


def timed(args: list[str], runs: int) -> tuple[float, int]:
    """The best wall time of ``args`` over ``runs``, and the bytes it printed."""
    best = float("inf")
    printed = 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, check=False)
        best = min(best, time.perf_counter() - started)
        printed = len(done.stdout) + len(done.stderr)
        if done.returncode != 3:
            raise SystemExit(f"{args[3:]} exited {done.returncode}: {done.stderr[:500]!r}")
    return best, printed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8], help="MB")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    passed = True
    rows: list[tuple[int, float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-huge-cell-") as folder:
        for size in args.sizes:
            export = Path(folder) / f"huge-{size}.csv"
            write_export(export, size * MEGABYTE)
            validate, _ = timed([*CLI, "validate", str(export)], args.runs)
            plan, printed = timed([*CLI, "plan", str(export), "--sandbox"], args.runs)
            rows.append((size, validate, plan, printed))
            export.unlink()
    print(f"{'cell':>6} {'validate s':>11} {'plan s':>8} {'plan/validate':>14} {'output B':>9}")
    for size, validate, plan, printed in rows:
        ratio = plan / validate
        ok = ratio <= PLAN_OVER_VALIDATE_MAX and printed < OUTPUT_MAX_BYTES
        passed = passed and ok
        verdict = "PASS" if ok else "FAIL"
        print(f"{size:>4}MB {validate:>11.2f} {plan:>8.2f} {ratio:>13.2f}x {printed:>9} {verdict}")
    (small, v0, p0, _), (large, v1, p1, _) = rows[0], rows[-1]
    print(
        f"from {small} MB to {large} MB: validate {v1 / v0:.2f}x, plan {p1 / p0:.2f}x "
        f"(the cell grew {large / small:.0f}x)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
