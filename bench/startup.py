"""Start-up of the real CLI against a minimal one-command typer app, each in a fresh process.

Prints the best of ``--runs`` (default 10) wall-clock seconds of each side, the ratios, and
PASS/FAIL against issue 11's targets (``--help``, ``--version`` and ``validate`` of a 10-row
file each <= 2x the minimal app); exits 1 on a miss. ``push --help`` is shown too, without a
target. The sides run interleaved (one round is one run of each), so a change in the
machine's load reaches all of them alike.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAX_RATIO = 2.0
TARGETED = ("--help", "--version", "validate (10 rows)")
MINIMAL_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "x") -> None:
    typer.echo(name)
app()
"""


def timed(command: list[str]) -> float:
    """Wall-clock seconds of ``command`` in a fresh process."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def best_of(sides: dict[str, list[str]], runs: int) -> dict[str, float]:
    """The fastest of ``runs`` timings of each side, the sides interleaved."""
    timings: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, command in sides.items():
            timings[name].append(timed(command))
    return {name: min(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "ten.csv"
        rows = [f"Ana{n},Lee,ana{n}@example.org,CA" for n in range(10)]
        export.write_text("first_name,last_name,email,country\n" + "\n".join(rows) + "\n")
        cli = [sys.executable, "-m", "communal_sync"]
        sides = {
            "minimal typer app": [sys.executable, "-c", MINIMAL_APP, "--help"],
            "--help": [*cli, "--help"],
            "--version": [*cli, "--version"],
            "validate (10 rows)": [*cli, "validate", str(export)],
            "push --help": [*cli, "push", "--help"],
        }
        figures = best_of(sides, runs)
    baseline = figures.pop("minimal typer app")
    print(f"minimal typer app: {baseline:.3f} s (best of {runs})")
    missed = False
    for name, seconds in figures.items():
        ratio = seconds / baseline
        if name not in TARGETED:
            print(f"{name}: {seconds:.3f} s = {ratio:.2f}x the minimal app  (no target)")
            continue
        verdict = "PASS" if ratio <= MAX_RATIO else "FAIL"
        missed = missed or verdict == "FAIL"
        target = f"{verdict} (<= {MAX_RATIO}x)"
        print(f"{name}: {seconds:.3f} s = {ratio:.2f}x the minimal app  {target}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
