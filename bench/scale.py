"""Scale of a first push of a whole organization: state file bytes per user and peak RSS.

Against ``communal-sync sandbox`` in its own process (latency 0, seeded with ``--users``
members), the real CLI runs, each as a subprocess whose peak RSS is read with ``os.wait4``:

1. ``plan FILE`` of every member (each row needs a change: a new phone number);
2. ``push FILE --yes`` of the same file (the first push: a GET and a PUT per user);
3. ``push FILE --yes`` again (nothing changed: no call, so the state file should not grow).

Then the state file's size (with its ``-wal``) over the number of users, and where the
bytes are (SQLite's ``dbstat``: pages per table and index, and free pages). Targets (issue
11): <= 400 bytes per user plus a bounded per-run overhead, peak RSS <= 300 MB at 100,000
users. Exit status 0 when every target passes, 1 otherwise.

    .venv/bin/python bench/scale.py                      # 100,000 users, about 10 minutes
    .venv/bin/python bench/scale.py --users 10000 --concurrency 16
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

sys.path.insert(0, str(Path(__file__).resolve().parent))

from push import (  # the sibling bench's data and sandbox helpers
    MANAGER_KEY,
    SEED,
    cli,
    every_id,
    people,
    sandbox,
    shown,
    write_export,
    write_seed,
)

DEFAULT_USERS: Final = 100_000
DEFAULT_CONCURRENCY: Final = 16
BYTES_PER_USER_TARGET: Final = 400
RSS_TARGET_MB: Final = 300.0


def run_measured(command: Sequence[str], base_url: str) -> tuple[float, float, int]:
    """Run the real CLI (stdout discarded); return (seconds, peak RSS in MB, exit code)."""
    env = {**os.environ, "COMMUNAL_API_KEY": MANAGER_KEY, "COMMUNAL_BASE_URL": base_url}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes vs KiB
    return seconds, usage.ru_maxrss * scale / 1e6, os.waitstatus_to_exitcode(status)


def state_bytes(path: Path) -> int:
    """The state file and its write-ahead log, as they sit on disk after the run."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def wal_bytes(path: Path) -> int:
    """The write-ahead log left beside the state file (0 when the last close removed it)."""
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def breakdown(path: Path) -> list[tuple[str, int]]:
    """Bytes per table/index (``dbstat``), largest first, and the free pages."""
    # closed here, not left to the garbage collector: an open reader would keep the next
    # run from checkpointing and removing its -wal when it closes
    with contextlib.closing(
        sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    ) as conn:
        rows = conn.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return [(str(name), int(size)) for name, size in rows] + [("(free pages)", free * page_size)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument(
        "--keep-state", type=Path, help="copy the state file here at the end, to inspect it"
    )
    args = parser.parse_args(argv)
    users = args.users
    print(f"Load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results: list[tuple[str, str, bool | None]] = []

    def add(name: str, value: str, ok: bool | None = None) -> None:
        results.append((name, value, ok))
        mark = "" if ok is None else ("  PASS" if ok else "  FAIL")
        print(f"  {name}: {value}{mark}", flush=True)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        folder = Path(name)
        members = people(users, seed=SEED + 4)
        seed = write_seed(folder / "seed.json", members)
        export = write_export(folder / "org.csv", members, every_id(members))
        state = folder / "state.db"
        plan = cli(
            "plan", str(export), "--state", str(state), "--concurrency", str(args.concurrency)
        )
        push = cli(
            "push", str(export), "--yes", "--state", str(state),
            "--concurrency", str(args.concurrency),
        )  # fmt: skip
        with sandbox(seed) as box:
            seconds, rss, code = run_measured(plan, box.base_url)
            add(
                f"plan of {users} changed users: peak RSS",
                f"{rss:.0f} MB ({seconds:.1f} s, exit {code})",
                rss <= RSS_TARGET_MB and code == 0,
            )
            seconds, rss, code = run_measured(push, box.base_url)
            add(
                f"first push --yes of {users} users: peak RSS",
                f"{rss:.0f} MB ({seconds:.1f} s, exit {code})",
                rss <= RSS_TARGET_MB and code == 0,
            )
            first = state_bytes(state)
            add(
                "state file after the first push",
                f"{first / 1e6:.1f} MB = {first / users:.0f} bytes per user"
                f" (-wal {wal_bytes(state) / 1e3:.0f} kB)",
                first / users <= BYTES_PER_USER_TARGET,
            )
            for part, size in breakdown(state):
                if size < first / 100:
                    continue
                print(f"      {part:32} {size / 1e6:8.2f} MB  {size / users:6.0f} B/user")
            seconds, rss, code = run_measured(push, box.base_url)
            again = state_bytes(state)
            add(
                "second push (nothing changed)",
                f"exit {code} in {seconds:.1f} s, peak RSS {rss:.0f} MB; state file "
                f"{again / 1e6:.1f} MB ({(again - first) / 1e3:+.0f} kB; -wal"
                f" {wal_bytes(state) / 1e3:.0f} kB)",
                code == 0,
            )
            for part, size in breakdown(state):
                if size >= again / 100:
                    print(f"      {part:32} {size / 1e6:8.2f} MB  {size / users:6.0f} B/user")
        if args.keep_state is not None:
            shutil.copyfile(state, args.keep_state)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nResults (python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load average {load}, {time.perf_counter() - started:.0f} s)"
    )
    for label, value, ok in results:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"  {mark:4}  {label}: {value}")
    print("Commands:")
    print(f"  {shown(plan)}\n  {shown(push)}")
    print(f"  .venv/bin/python bench/scale.py {' '.join(argv or sys.argv[1:])}".rstrip())
    return 0 if all(ok is not False for _, _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
