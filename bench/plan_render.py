"""Benchmark printing a big plan on the terminal against planning it.

Target (issue 14): printing a 10,000-user plan costs at most 10% of the ``plan`` command's
time. A sandbox of ``--users`` members (every one but each 6th with a new last name, as in
the tests' ``write_big_export``) runs in this process on loopback; the real ``plan FILE
--out plan.json`` runs as a subprocess (start-up, reading, the GETs, planning and the
default printing included), its output thrown away. Then the saved plan is rendered
in-process, best of ``--runs``, with ``render_plan`` into a 120-column colour terminal
(``force_terminal``: every style rendered) both as ``--show changes`` (the default: 50
users) and ``--show all`` (every user), and the ratio to the command's time is printed.

Run from the project root (about a minute at 10,000 users on 2 shared cores)::

    .venv/bin/python bench/plan_render.py
    .venv/bin/python bench/plan_render.py --users 400 --runs 5

Exit status 0 when ``--show all`` rendering is at most 10% of the plan command, else 1.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.push import big_seed, write_big_export  # noqa: E402

from communal_sync.cli.render import render_plan  # noqa: E402
from communal_sync.plan import Plan  # noqa: E402
from communal_sync.sandbox import Sandbox  # noqa: E402

TARGET: Final = 0.10


def render_seconds(plan: Plan, *, show: str, runs: int) -> float:
    """The best of ``runs`` renderings of ``plan`` into a colour terminal held in memory."""
    best = float("inf")
    for _ in range(runs):
        console = Console(
            file=io.StringIO(), width=120, force_terminal=True, color_system="truecolor"
        )
        started = time.perf_counter()
        render_plan(plan, console, show="all" if show == "all" else "changes")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Sandbox(big_seed(args.users)) as sandbox:
        export = write_big_export(Path(folder) / "members.csv", args.users)
        saved = Path(folder) / "plan.json"
        env = {
            **os.environ,
            "COMMUNAL_API_KEY": sandbox.manager_key,
            "COMMUNAL_BASE_URL": sandbox.base_url,
            "COMMUNAL_SYNC_STATE": str(Path(folder) / "state.db"),
        }
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "communal_sync", "plan", str(export), "--out", str(saved)],
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        command = time.perf_counter() - started
        plan = Plan.model_validate_json(saved.read_text(encoding="utf-8"))
    render_seconds(plan, show="changes", runs=1)  # warm-up: first-use costs are start-up's
    changes = render_seconds(plan, show="changes", runs=args.runs)
    everything = render_seconds(plan, show="all", runs=args.runs)
    users = len(plan.users)
    print(f"plan command, {args.users} members ({users} users to update): {command:.2f} s")
    print(f"render --show changes: {changes * 1000:.1f} ms = {changes / command:.2%} of it")
    print(f"render --show all:     {everything * 1000:.1f} ms = {everything / command:.2%} of it")
    passed = everything <= TARGET * command
    print(f"target: --show all <= {TARGET:.0%} of the plan command: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
