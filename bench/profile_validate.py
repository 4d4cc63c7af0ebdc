"""cProfile of one in-process ``validate`` of a bench profile: the top ten functions.

Writes ``--rows`` rows of ``--profile`` (see ``validate.py``) to a temporary folder, runs
``validate`` once (modules imported, regular expressions compiled), then once under
cProfile with its memo caches emptied (a new process has none: see ``validate.py``), and
prints the top functions by own time and by cumulative time, as shares of the profiled
total. CPU time of this process, not wall time, so other work on a shared machine does
not count (cProfile's per-call overhead still inflates Python calls against C ones).

    .venv/bin/python bench/profile_validate.py --profile messy --rows 100000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

from validate import PROFILES, validate, write_profile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--profile", choices=PROFILES, default="messy")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="communal-sync-profile-") as tmp:
        work = Path(tmp)
        export = work / "export.csv"
        write_profile(export, args.profile, args.rows)
        validate(export, work)
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        validate(export, work, cold=True)
        profiler.disable()
    stats = pstats.Stats(profiler)
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())
    print(f"{args.profile}, {args.rows:,} rows: {total:.3f} s under cProfile (CPU)")
    for title, column in (("own time", 2), ("cumulative", 3)):
        print(f"top {args.top} by {title}:")
        ranked = sorted(table.items(), key=lambda item: -item[1][column])[: args.top]
        for (filename, line, name), entry in ranked:
            where = f"{Path(filename).name}:{line}({name})"
            print(f"  {entry[column] / total * 100:5.1f}%  {entry[1]:>9,} calls  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
