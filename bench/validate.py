"""Benchmark ``communal-sync validate`` against a bare ``csv.DictReader`` loop, per profile.

Profiles (``--profile``, repeatable; all three by default; see ``exports.py``):

- ``bench``: a CRM export (external id, names, email, phone, date of birth, address,
  country; 1% dirty rows, 3% sloppy ones, a few duplicates), the benchmark's original data;
- ``messy``: a real CRM export's dirt (countries as names, alpha-3 or lower case, phones in
  national formats, shouted and accented emails, names in several scripts, 1% invalid);
- ``quoted``: the messy rows with every cell quoted, CRLF and a BOM (Salesforce, Excel).

For each profile it measures, in one run:

- the floor: the best CPU time of a plain ``csv.DictReader`` loop over the file;
- validate in-process: the best CPU time of exactly what ``communal-sync validate FILE``
  runs (``open_intake`` + ``Intake.summary``, default options), each run with its memo
  caches emptied first (a new process has none); target at most 2x the floor;
- the real CLI ``communal-sync validate FILE`` as a subprocess, start-up and the text
  report included: the best CPU time (user + system, from ``os.wait4``) of ``--cli-runs``
  runs, and its wall time; target at most 2.5x the floor;
- the peak RSS (``ru_maxrss`` of the child) of the real ``communal-sync validate FILE
  --format json`` on ``--rss-rows`` rows (default 1,000,000; 0 skips it); target 150 MB;
- with ``--instructions``: the instructions (valgrind cachegrind, deterministic, unlike
  times on a shared machine) of the floor and of validate on 20,000 rows, each run once in
  its own process, Python start-up and imports subtracted.

Run from the project root::

    .venv/bin/python bench/validate.py                      # every profile: 2-3 minutes
    .venv/bin/python bench/validate.py --profile messy --rss-rows 0
    .venv/bin/python bench/validate.py --instructions       # needs valgrind

CPU times, not wall times, are compared: other work on a shared machine does not count.
Exit status 0 when every measured target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from communal_sync.intake.pipeline import IntakeOptions, open_intake
from communal_sync.intake.validate import ValidationSummary, summarize

# bench/ is not a package: its modules find each other when loaded by path (the tests)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from exports import write_messy

DEFAULT_ROWS: Final = 100_000
MILLION: Final = 1_000_000
DEFAULT_RUNS: Final = 5
CLI_RUNS: Final = 3
CORE_TARGET: Final = 2.0
"""validate in-process, at most this many times the floor (issue 11)."""
CLI_TARGET: Final = 2.5
"""The real CLI subprocess, start-up included, at most this many times the floor."""
MEMORY_TARGET_MB: Final = 150.0
PROFILES: Final = ("bench", "messy", "quoted")
SEED: Final = 20260325
INSTRUCTION_ROWS: Final = 20_000
"""Rows of the file measured under cachegrind (about 50 times slower than native)."""

DIRTY_SHARE: Final = 0.01
"""Share of rows with a real error (blank name, bad email, impossible date, unknown country)."""

MESSY_SHARE: Final = 0.03
"""Share of valid rows written sloppily (stray spaces, upper-case domain, "Canada")."""

DUPLICATES: Final = 3
"""Rows that repeat an earlier row's email or external id."""

HEADER: Final = (
    "External ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Date of Birth",
    "Street",
    "City",
    "State/Province",
    "Zip",
    "Country",
)

FIRST_NAMES: Final = (
    "Ann", "Bob", "Chloé", "David", "Emma", "François", "Grace", "Hiro", "Isabelle", "Jamal",
    "Kateryna", "Liam", "Maya", "Noah", "Olivia", "Priya", "Quinn", "Raphaël", "Sofia", "Tom",
    "Uma", "Victor", "Wen", "Xavier", "Yasmin", "Zoë", "Mary-Jane", "O'Neil", "Ahmed", "Léa",
)  # fmt: skip
LAST_NAMES: Final = (
    "Lee", "Smith", "Nguyen", "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Martin",
    "Brown", "Wilson", "Taylor", "Singh", "Patel", "Kim", "García", "Müller", "O'Brien",
    "Van der Berg", "Johnson", "Williams", "Chen", "Wang", "Lavoie", "Fortin", "Morin",
)  # fmt: skip
DOMAINS: Final = ("example.org", "example.com", "mail.example.net", "school.example.ca")
STREETS: Final = ("Main St", "Rue Saint-Denis", "King Street West", "Elm Ave", "Oak Road")
PLACES: Final = (
    ("Montréal", "QC", "H2X {d}A{d}", "CA"),
    ("Toronto", "ON", "M5V {d}K{d}", "CA"),
    ("Vancouver", "BC", "V6B {d}Z{d}", "Canada"),
    ("Boston", "MA", "021{d}{d}", "US"),
    ("Seattle", "WA", "981{d}{d}", "USA"),
    ("London", "", "SW1A {d}AA", "GB"),
)


def generate(path: Path, rows: int, seed: int = SEED, *, quote_all: bool = False) -> None:
    """Write a ``rows``-row CRM export to ``path`` (deterministic for a given seed).

    Cells are quoted only where needed (as Excel and most CRMs write them), or all of them
    with ``quote_all`` (as Salesforce's Data Loader does).
    """
    rng = random.Random(seed)
    dirty_every = round(1 / DIRTY_SHARE)
    messy_every = round(1 / MESSY_SHARE)
    duplicate_at = {rows * (k + 1) // (DUPLICATES + 1): k for k in range(DUPLICATES)}
    originals = {n // 2 for n in duplicate_at}
    remembered: dict[int, list[str]] = {}
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        writer.writerow(HEADER)
        for n in range(rows):
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(LAST_NAMES)
            local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
            local = local.encode("ascii", "ignore").decode()
            email = f"{local}{n}@{rng.choice(DOMAINS)}"
            city, state, zip_pattern, country = rng.choice(PLACES)
            d = rng.randrange(10)
            phone = rng.choice(("(514) 555-01{:02d}", "+1 416 555 01{:02d}", "604.555.01{:02d}"))
            row = [
                f"CRM-{n:07d}",
                first,
                last,
                email,
                phone.format(rng.randrange(100)) if rng.random() < 0.8 else "",
                f"{rng.randrange(1940, 2015)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
                if rng.random() < 0.7
                else "",
                f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}",
                city,
                state,
                zip_pattern.format(d=d),
                country,
            ]
            if n % dirty_every == dirty_every // 2:
                _make_dirty(row, rng)
            elif n % messy_every == messy_every // 3:
                _make_messy(row, rng)
            if n in originals:
                remembered[n] = row
            if n in duplicate_at:
                original = remembered[n // 2]
                if duplicate_at[n] % 2 == 0:
                    row[3] = original[3].upper()  # the same address, in other case
                else:
                    row[0] = original[0]
            writer.writerow(row)


def _make_dirty(row: list[str], rng: random.Random) -> None:
    kind = rng.randrange(5)
    if kind == 0:
        row[1] = ""
    elif kind == 1:
        row[3] = row[3].replace("@", " at ")
    elif kind == 2:
        row[5] = "2001-02-30"
    elif kind == 3:
        row[10] = "Atlantis"
    else:
        row[5] = "03/04/2001"


def _make_messy(row: list[str], rng: random.Random) -> None:
    kind = rng.randrange(3)
    if kind == 0:
        row[1] = f"  {row[1]} "
    elif kind == 1:
        local, _, domain = row[3].partition("@")
        row[3] = f"{local}@{domain.upper()}"
    else:
        row[10] = "Canada" if row[10] == "CA" else "United States"


def write_profile(path: Path, profile: str, rows: int, seed: int = SEED) -> None:
    """Write ``rows`` rows of ``profile`` (see the module docstring) to ``path``."""
    if profile == "bench":
        generate(path, rows, seed)
    else:
        write_messy(path, rows, seed, quoted=profile == "quoted")


def floor(path: Path) -> int:
    """The floor: a bare ``csv.DictReader`` loop over the file (its BOM skipped, if any)."""
    count = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for _ in csv.DictReader(handle):
            count += 1
    return count


def forget_caches() -> None:
    """Empty every memo cache a fresh ``communal-sync`` process starts without.

    The ``functools`` caches of communal_sync's modules (country spellings, scripts, the
    country table) and pycountry's loaded database: a measured in-process run pays for
    them cold, as the CLI does, instead of reading what an earlier run left behind.
    """
    for name, module in list(sys.modules.items()):
        if name == "communal_sync" or name.startswith("communal_sync."):
            for value in list(vars(module).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear) and getattr(value, "__module__", None) == name:
                    clear()
    pycountry = sys.modules.get("pycountry")
    if pycountry is not None:
        for database in vars(pycountry).values():
            if isinstance(database, pycountry.db.Database):
                database._clear()


def validate(path: Path, cwd: Path, *, cold: bool = False) -> ValidationSummary:
    """What ``communal-sync validate FILE`` runs, with its default options.

    ``cold``: first forget every memo cache (``forget_caches``), as a new process has none.
    """
    if cold:
        forget_caches()
    intake = open_intake(str(path), IntakeOptions(), cwd=cwd)
    summary = getattr(intake, "summary", None)  # a copy of an older main has none
    if summary is None:
        return summarize(intake.results(), intake.mapping)
    result: ValidationSummary = summary()
    return result


def best_of(runs: int, *functions: Callable[[], object]) -> list[float]:
    """The best CPU time of each function over ``runs`` interleaved rounds.

    CPU time of this process, not wall time, so other work on a shared machine does not
    count; interleaving spreads any remaining drift over both sides of the ratio.
    """
    best = [float("inf")] * len(functions)
    for _ in range(runs):
        for index, function in enumerate(functions):
            gc.collect()
            start = time.process_time()
            function()
            best[index] = min(best[index], time.process_time() - start)
    return best


def cli_command(path: Path, *extra: str) -> list[str]:
    """The installed ``communal-sync`` console script, else ``python -m communal_sync``."""
    script = Path(sys.executable).with_name("communal-sync")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "communal_sync"]
    return [*program, "validate", str(path), *extra]


@dataclass(frozen=True)
class ChildRun:
    """One run of the CLI as a child process."""

    wall: float
    cpu: float
    """User + system seconds of the child (start-up included), from ``os.wait4``."""
    rss_mb: float
    exit_code: int


def run_cli(command: list[str], cwd: Path) -> ChildRun:
    """Run the CLI, its output discarded; its wall and CPU time, peak RSS and exit code."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes vs KiB
    return ChildRun(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * scale / 1e6,
        process.returncode,
    )


def run_once(mode: str, path: Path) -> None:
    """One measured step, alone in this process (``--run-once``, for cachegrind)."""
    if mode == "floor":
        floor(path)
    elif mode == "validate":
        validate(path, path.parent)


def instructions(path: Path, mode: str) -> int:
    """The instructions cachegrind counts for ``--run-once mode path`` in a new process."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--run-once",
        mode,
        str(path),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    for line in done.stderr.splitlines():
        if "I" in line and "refs:" in line:
            return int(line.split("refs:")[1].replace(",", "").strip())
    raise RuntimeError(f"no instruction count in cachegrind's output:\n{done.stderr}")


def count_instructions(work: Path, profile: str) -> list[str]:
    """The report lines of the floor's and validate's instructions on INSTRUCTION_ROWS rows."""
    path = work / f"instructions-{profile}.csv"
    write_profile(path, profile, INSTRUCTION_ROWS)
    base = instructions(path, "none")
    floor_ir = instructions(path, "floor") - base
    validate_ir = instructions(path, "validate") - base
    return [
        f"  instructions, {INSTRUCTION_ROWS:,} rows (cachegrind; start-up and imports "
        f"subtracted): floor {floor_ir / 1e6:,.0f} M, validate {validate_ir / 1e6:,.0f} M: "
        f"{validate_ir / floor_ir:.2f}x floor",
    ]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def measure(profile: str, work: Path, args: argparse.Namespace) -> bool:
    """Measure one profile, print its lines; whether every target it measured passed."""
    export = work / f"{profile}.csv"
    write_profile(export, profile, args.rows)
    size_mb = export.stat().st_size / 1e6
    summary = validate(export, work)
    assert floor(export) == summary.rows == args.rows, "the two readers disagree"
    floor_s, core_s = best_of(
        args.runs, lambda: floor(export), lambda: validate(export, work, cold=True)
    )
    cli_runs = [run_cli(cli_command(export), work) for _ in range(args.cli_runs)]
    cli_cpu = min(run.cpu for run in cli_runs)
    cli_wall = min(run.wall for run in cli_runs)
    core_ratio, cli_ratio = core_s / floor_s, cli_cpu / floor_s
    ok = core_ratio <= CORE_TARGET and cli_ratio <= CLI_TARGET
    print(
        f"{profile}: {args.rows:,} rows, {size_mb:.1f} MB; {summary.valid:,} valid, "
        f"{summary.invalid:,} invalid, {len(summary.errors):,} errors"
    )
    lines = [
        ("csv.DictReader loop (floor)", f"{floor_s:.3f} s", "", ""),
        (
            "validate, in-process",
            f"{core_s:.3f} s",
            f"{core_ratio:.2f}x floor",
            f"{verdict(core_ratio <= CORE_TARGET)} (<= {CORE_TARGET:g}x)",
        ),
        (
            "communal-sync validate (CLI), CPU",
            f"{cli_cpu:.3f} s",
            f"{cli_ratio:.2f}x floor",
            f"{verdict(cli_ratio <= CLI_TARGET)} (<= {CLI_TARGET:g}x; wall {cli_wall:.3f} s, "
            f"peak {cli_runs[0].rss_mb:.0f} MB, exit {cli_runs[0].exit_code})",
        ),
    ]
    if args.rss_rows:
        big = work / f"{profile}-rss.csv"
        write_profile(big, profile, args.rss_rows)
        run = run_cli(cli_command(big, "--format", "json"), work)
        big.unlink()
        fits = run.rss_mb <= MEMORY_TARGET_MB and run.exit_code in (0, 3)
        ok = ok and fits
        lines.append(
            (
                f"CLI --format json, {args.rss_rows:,} rows",
                f"{run.wall:.3f} s",
                f"peak {run.rss_mb:.0f} MB",
                f"{verdict(fits)} (<= {MEMORY_TARGET_MB:g} MB, exit {run.exit_code})",
            )
        )
    else:
        lines.append(("peak memory", "", "", "not run (--rss-rows 0)"))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    if args.instructions:
        for line in count_instructions(work, profile):
            print(line)
    export.unlink()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--profile",
        action="append",
        choices=PROFILES,
        help="measure this profile (repeatable; default: all three)",
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows for the timing")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="best of this many runs")
    parser.add_argument(
        "--cli-runs", type=int, default=CLI_RUNS, help="best of this many CLI subprocess runs"
    )
    parser.add_argument(
        "--rss-rows",
        type=int,
        default=MILLION,
        help="rows of the file whose peak memory is measured (0: skip)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind cachegrind (20,000 rows)",
    )
    parser.add_argument("--run-once", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_once:
        run_once(args.run_once[0], Path(args.run_once[1]))
        return 0

    print(
        f"communal-sync validate benchmark (Python {sys.version.split()[0]}, best of "
        f"{args.runs} in-process, {args.cli_runs} CLI runs; CPU times)"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="communal-sync-bench-") as tmp:
        work = Path(tmp)  # no communal-sync.toml here: default options, as on a fresh machine
        for profile in args.profile or PROFILES:
            ok = measure(profile, work, args) and ok
    print(verdict(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
