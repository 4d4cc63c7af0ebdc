"""Ctrl-C through the real CLI: requests in flight finish and are journalled, the process
says how to resume and exits 130, and the resumed run sends only what was left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.push import (
    assert_users_equal,
    big_changes,
    big_seed,
    env_for,
    expected_users,
    users_of,
    write_big_export,
)

from communal_sync.sandbox import Faults, Sandbox
from communal_sync.state import open_state

pytestmark = pytest.mark.e2e

MEMBERS = 30
LATENCY_MS = 40
INTERRUPT_AFTER_PUTS = 4
TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.01


def landed_puts(sandbox: Sandbox) -> Counter[str]:
    return Counter(
        e["path"] for e in sandbox.requests() if e["method"] == "PUT" and e["status"] == 200
    )


def interrupt_push(sandbox: Sandbox, export: Path, state: Path) -> tuple[int, str]:
    """Run ``push`` as a real process and send it SIGINT (Ctrl-C) midway through the PUTs."""
    command = [
        sys.executable, "-m", "communal_sync", "push", str(export), "--yes",
        "--concurrency", "2", "--base-url", sandbox.base_url, "--state", str(state),
    ]  # fmt: skip
    env = {**os.environ, "COMMUNAL_API_KEY": sandbox.manager_key}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while sum(landed_puts(sandbox).values()) < INTERRUPT_AFTER_PUTS:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the push ended, or sent too few PUTs, before it could be interrupted")
            time.sleep(POLL_SECONDS)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, err.decode()


def test_ctrl_c_finishes_requests_in_flight_says_how_to_resume_and_exits_130(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    export = write_big_export(tmp_path / "members.csv", MEMBERS)
    state = tmp_path / "state" / "state.db"
    with Sandbox(big_seed(MEMBERS), faults=Faults(latency_ms=LATENCY_MS)) as sandbox:
        before = users_of(sandbox)

        code, stderr = interrupt_push(sandbox, export, state)

        assert code == 130, stderr
        assert "Traceback" not in stderr
        assert f"communal-sync push {export} --resume" in stderr
        landed = landed_puts(sandbox)
        with open_state(state) as store:
            (run,) = store.journal.list_runs()
            applied = [r.user_id for r in store.journal.results(run.id) if r.status == "applied"]
        assert run.status == "interrupted"
        assert run.exit_code == 130
        # Every PUT that landed (those in flight at Ctrl-C included) is in the journal.
        assert sorted(f"/api/users/{u}" for u in applied) == sorted(landed)
        assert 0 < len(applied) < len(big_changes(MEMBERS))

        sandbox.set_faults(Faults())
        sandbox.clear_requests()
        resumed = cli("push", str(export), "--yes", "--resume", env=env_for(sandbox, state))

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        resent = [p for p in landed_puts(sandbox) if p in landed]
        assert resent == [], "a PUT that had landed was sent again"
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
