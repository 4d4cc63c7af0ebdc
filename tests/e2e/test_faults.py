"""Faults end to end: a push through 5xx, dropped connections, lost responses, 429s and
latency reaches the exact expected state; fatal errors stop early and say why; a push
killed with SIGKILL resumes without sending anything twice.

The sandbox is seeded with 60 members so the faults really hit. Retries never wait
(conftest), and neither does the throttle. The sandbox's rate-limit window runs on a
virtual clock that advances a fixed step per request, so "20 per second" means 20 of
every 24 requests, whatever the speed of the machine running the tests.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.fault_servers import HoldingProxy
from support.push import (
    BIG_FIRST_ID,
    MEMBER_KEY,
    assert_users_equal,
    big_changes,
    big_seed,
    env_for,
    expected_users,
    request_counts,
    users_of,
    write_big_export,
)

from communal_sync.applying.landed import LANDED_NOTE
from communal_sync.sandbox import Faults, Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

MEMBERS = 60
CONCURRENCY = 4
"""The default --concurrency."""
FAULT_SEED = 20260325
REQUESTS_PER_VIRTUAL_SECOND = 24
UNREACHABLE = re.compile(r"^Plan for .*, (\d+) unreachable", re.MULTILINE)
"""The plan's summary counts the rows whose Communal record could not be read."""
MAX_PUSHES = 6
"""Pushes allowed to reach the end state; each must end 0, or 1/3 having said why."""
KILL_MEMBERS = 30
"""25 of them change: enough PUTs to kill the push early, midway and late."""
KILL_LATENCY_MS = 30
KILL_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.01


def virtual_clock(step: float = 1 / REQUESTS_PER_VIRTUAL_SECOND) -> Callable[[], float]:
    """A monotonic clock that moves ``step`` seconds each time it is read."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_big_export(tmp_path / "members.csv", MEMBERS)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


def faulty_sandbox(faults: Faults) -> Sandbox:
    return Sandbox(big_seed(MEMBERS), faults=faults, monotonic=virtual_clock())


def run_ids_with_failures(state_path: Path) -> dict[int, set[int]]:
    """For each run, the users whose last journalled outcome was a failure or conflict."""
    with open_state(state_path) as store:
        runs = store.journal.list_runs(100)
        last: dict[int, dict[int, str]] = {}
        for run in runs:
            for result in store.journal.results(run.id):
                assert result.user_id is not None
                last.setdefault(run.id, {})[result.user_id] = result.status
    return {
        run_id: {u for u, status in users.items() if status in ("failed", "conflict")}
        for run_id, users in last.items()
    }


def assert_no_user_applied_twice(state_path: Path) -> None:
    """Within each run, no user is journalled as applied more than once."""
    with open_state(state_path) as store:
        for run in store.journal.list_runs(100):
            applied = Counter(
                r.user_id for r in store.journal.results(run.id) if r.status == "applied"
            )
            assert [u for u, n in applied.items() if n > 1] == [], f"run {run.id}"


def push_until_complete(cli: Cli, export: Path, env: dict[str, str]) -> list[CliResult]:
    """Push until a run exits 0; every earlier run must have reported what went wrong.

    Exit 3 must list each user that failed in its "Not updated" table; exit 1 must print
    one error. After a fatal stop the next push resumes the run, otherwise it re-plans.
    """
    results: list[CliResult] = []
    for _ in range(MAX_PUSHES):
        resume = ("--resume",) if results and results[-1].exit_code == 1 else ()
        result = cli("push", str(export), "--yes", "--concurrency", "4", *resume, env=env)
        results.append(result)
        assert "Traceback" not in result.stderr
        if result.exit_code == 0:
            return results
        assert result.exit_code in (1, 3), result.stdout + result.stderr
        if result.exit_code == 1:
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1, result.stderr
        else:
            failed = run_ids_with_failures(Path(env["COMMUNAL_SYNC_STATE"]))
            latest = failed[max(failed)]
            unreachable = UNREACHABLE.search(result.stdout)
            # A GET that exhausts its retries while planning leaves that row unplanned:
            # it is listed as unreachable, not journalled, and the run still exits 3.
            assert latest or unreachable, "exit 3 without a failed user:\n" + result.stdout
            if unreachable:
                listed = result.stdout.split("could not be read", 1)[1].count("Could not read user")
                assert listed == int(unreachable[1]), result.stdout
            if latest:
                table = result.stdout.split("Not updated", 1)[1]
                for user_id in latest:
                    assert f"│ {user_id} " in table, f"user {user_id} failed but is not listed"
    pytest.fail(f"no push completed in {MAX_PUSHES} tries: {[r.exit_code for r in results]}")


FAULT_CASES = {
    "5xx": Faults(error_rate=0.3),
    "dropped": Faults(drop_rate=0.3),
    "lost-response": Faults(drop_after_apply_rate=0.3),
    "rate-limited": Faults(rate_limit=20),
    "slow": Faults(latency_ms=5),
    # Gentler rates together: a GET that exhausts its retries while planning stops the
    # whole push (exit 1), so 0.3 of everything would rarely let a 60-member plan finish.
    "all": Faults(
        error_rate=0.1, drop_rate=0.05, drop_after_apply_rate=0.05, rate_limit=20, latency_ms=5
    ),
}


@pytest.mark.parametrize("faults", FAULT_CASES.values(), ids=FAULT_CASES.keys())
def test_push_through_faults_reaches_the_exact_expected_state(
    cli: Cli, export: Path, state_path: Path, faults: Faults
) -> None:
    seeded = Faults(**{**faults.to_dict(), "fault_seed": FAULT_SEED})
    with faulty_sandbox(seeded) as sandbox:
        before = users_of(sandbox)
        env = env_for(sandbox, state_path)

        results = push_until_complete(cli, export, env)

        sandbox.set_faults(Faults())
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
        assert_no_user_applied_twice(state_path)
        hit = Counter(e["fault"] for e in sandbox.requests() if e["fault"])
        if faults != Faults(latency_ms=5):
            assert sum(hit.values()) > 0, "the faults never hit"
        sandbox.clear_requests()
        settled = cli("push", str(export), "--yes", env=env)
        assert settled.exit_code == 0
        assert sandbox.requests() == [], "a settled export still sent requests"
    assert "Run " in results[-1].stdout


# --- fatal errors ---------------------------------------------------------------------------


def test_a_bad_key_stops_at_the_first_request_and_a_later_push_completes(
    cli: Cli, export: Path, state_path: Path
) -> None:
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)

        bad = cli("push", str(export), "--yes", env=env_for(sandbox, state_path, key="wrong"))

        assert bad.exit_code == 1
        assert bad.stderr.startswith("Error: ")
        assert bad.stderr.count("\n") == 1, bad.stderr
        assert "key" in bad.stderr.lower()
        # The GETs already in flight finish; the rest of the window is cancelled.
        assert request_counts(sandbox)["GET"] <= 2 * CONCURRENCY
        assert request_counts(sandbox)["PUT"] == 0

        good = cli("push", str(export), "--yes", env=env_for(sandbox, state_path))

        assert good.exit_code == 0, good.stdout + good.stderr
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))


def test_a_bad_key_during_apply_marks_the_run_failed_and_the_next_apply_finishes_it(
    cli: Cli, export: Path, state_path: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)
        good_env = env_for(sandbox, state_path)
        assert cli("plan", str(export), "--out", str(plan), env=good_env).exit_code == 0
        sandbox.clear_requests()

        bad = cli("apply", str(plan), "--yes", env=env_for(sandbox, state_path, key="wrong"))

        assert bad.exit_code == 1
        assert "Error: " in bad.stderr
        assert "Resume with: communal-sync apply" in bad.stderr
        assert request_counts(sandbox)["PUT"] == 0
        assert len(sandbox.requests()) <= 2 * CONCURRENCY
        with open_state(state_path) as store:
            (run,) = store.journal.list_runs()
            assert (run.status, run.exit_code) == ("failed", 1)

        good = cli("apply", str(plan), "--yes", env=good_env)

        assert good.exit_code == 0, good.stdout + good.stderr
        assert f"Resuming run {run.id}" in good.stdout
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
        with open_state(state_path) as store:
            assert store.journal.get_run(run.id).status == "finished"


def test_a_member_key_stops_after_a_few_forbidden_requests(
    cli: Cli, export: Path, state_path: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)
        assert (
            cli("plan", str(export), "--out", str(plan), env=env_for(sandbox, state_path)).exit_code
            == 0
        )
        member_env = env_for(sandbox, state_path, key=MEMBER_KEY)
        sandbox.clear_requests()

        pushed = cli("push", str(export), "--yes", env=member_env)
        applied = cli("apply", str(plan), "--yes", env=member_env)

        for result in (pushed, applied):
            assert result.exit_code == 1, result.stdout + result.stderr
            assert "403" in result.stderr or "not allowed" in result.stderr.lower()
        # A few per command (the forbidden streak, plus what was in flight), not one per member.
        assert len(sandbox.requests()) <= 2 * 2 * CONCURRENCY
        assert_users_equal(users_of(sandbox), before)


@pytest.mark.parametrize("version", ["2025-01-01", "latest"])
def test_an_unsupported_api_version_is_fatal(
    cli: Cli, export: Path, state_path: Path, version: str
) -> None:
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)

        result = cli(
            "push", str(export), "--yes", "--api-version", version, env=env_for(sandbox, state_path)
        )

        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ")
        assert request_counts(sandbox)["PUT"] == 0
        assert len(sandbox.requests()) <= 2 * CONCURRENCY
        assert_users_equal(users_of(sandbox), before)


# --- SIGKILL and resume ---------------------------------------------------------------------


def put_count(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.requests() if e["method"] == "PUT" and e["status"] == 200)


def push_command(export: Path, base_url: str, state_path: Path, concurrency: int) -> list[str]:
    """The real ``push --yes`` of ``export`` as a child process runs it."""
    return [
        sys.executable, "-m", "communal_sync", "push", str(export), "--yes",
        "--concurrency", str(concurrency), "--base-url", base_url, "--state", str(state_path),
    ]  # fmt: skip


def kill_push_after(sandbox: Sandbox, export: Path, state_path: Path, puts: int) -> None:
    """Start a real ``push`` process and SIGKILL it once ``puts`` PUTs have landed."""
    command = push_command(export, sandbox.base_url, state_path, concurrency=2)
    env = {**os.environ, "COMMUNAL_API_KEY": sandbox.manager_key}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_puts(sandbox, process, puts)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=KILL_TIMEOUT_SECONDS)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("kill_after", [3, 10, 20])
def test_a_killed_push_resumes_without_sending_anything_twice(
    cli: Cli, state_path: Path, tmp_path: Path, kill_after: int
) -> None:
    export = write_big_export(tmp_path / "members.csv", KILL_MEMBERS)
    with Sandbox(big_seed(KILL_MEMBERS), faults=Faults(latency_ms=KILL_LATENCY_MS)) as sandbox:
        before = users_of(sandbox)
        kill_push_after(sandbox, export, state_path, kill_after)
        sandbox.set_faults(Faults())
        landed = Counter(
            e["path"] for e in sandbox.requests() if e["method"] == "PUT" and e["status"] == 200
        )
        assert sum(landed.values()) >= kill_after
        sandbox.clear_requests()

        resumed = cli("push", str(export), "--yes", "--resume", env=env_for(sandbox, state_path))

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        assert "Resuming run 1" in resumed.stdout
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(KILL_MEMBERS)))
        resent = [
            e["path"] for e in sandbox.requests() if e["method"] == "PUT" and e["path"] in landed
        ]
        assert resent == [], "a PUT that had landed was sent again"
        assert_no_user_applied_twice(state_path)
        with open_state(state_path) as store:
            (run,) = store.journal.list_runs()
            assert (run.status, run.exit_code, run.attempts) == ("finished", 0, 2)
            applied = {r.user_id for r in store.journal.results(run.id) if r.status == "applied"}
        assert applied == set(big_changes(KILL_MEMBERS))
        listed = json.loads(cli("runs", "--json", env=env_for(sandbox, state_path)).stdout)
        assert [(r["id"], r["status"], r["exit_code"]) for r in listed] == [(1, "finished", 0)]


# --- SIGKILL while PUTs of address fields are in flight --------------------------------------

ANSWERED_PUTS = 4
"""PUTs the proxy answers before it starts holding every later one (applied, unanswered)."""
KILL_CONCURRENCY = 2
"""Workers of the killed push: exactly this many PUTs are in flight when it dies."""
HELD_TIMEOUT_SECONDS = "60"
"""COMMUNAL_TIMEOUT of the killed push: its held PUTs must still be waiting when it dies."""


def write_address_export(path: Path, count: int) -> tuple[Path, dict[int, dict[str, Any]]]:
    """An export for ``big_seed(count)`` that gives every member but each 6th an address.

    GET never shows the address fields, so only the journal can tell whether such a PUT
    landed. Returns the file and the changes it makes, by user id.
    """
    changes: dict[int, dict[str, Any]] = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email", "Address", "City", "Zip"])
        for n in range(count):
            user_id = BIG_FIRST_ID + n
            address = {"profile_address": f"{n} Main St", "profile_city": "Toronto"}
            address["profile_zip"] = f"M5V {n % 10}T{n % 7}"
            if n % 6 == 0:
                address = dict.fromkeys(address, "")
            else:
                changes[user_id] = address
            writer.writerow(
                [
                    user_id,
                    f"Member{n}",
                    f"Before{n}",
                    f"member{n}@example.org",
                    address["profile_address"],
                    address["profile_city"],
                    address["profile_zip"],
                ]
            )
    return path, changes


def test_a_push_killed_with_address_puts_in_flight_resumes_with_no_conflict_and_no_resend(
    cli: Cli, state_path: Path, tmp_path: Path
) -> None:
    """The PUTs in flight landed, but GET cannot show their address fields: the journalled
    intent (written before each PUT) is what lets the resume count them as landed."""
    export, changes = write_address_export(tmp_path / "members.csv", KILL_MEMBERS)
    with (
        Sandbox(big_seed(KILL_MEMBERS)) as sandbox,
        HoldingProxy(sandbox.root_url, answered=ANSWERED_PUTS) as proxy,
    ):
        before = users_of(sandbox)
        command = push_command(export, proxy.base_url, state_path, KILL_CONCURRENCY)
        env = {
            **os.environ,
            "COMMUNAL_API_KEY": sandbox.manager_key,
            "COMMUNAL_TIMEOUT": HELD_TIMEOUT_SECONDS,
        }
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_puts(sandbox, process, ANSWERED_PUTS + KILL_CONCURRENCY)
            process.send_signal(signal.SIGKILL)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=KILL_TIMEOUT_SECONDS)
        assert process.returncode == -signal.SIGKILL
        landed = [
            int(e["path"].rsplit("/", 1)[1])
            for e in sandbox.requests()
            if e["method"] == "PUT" and e["status"] == 200
        ]
        assert len(landed) == ANSWERED_PUTS + KILL_CONCURRENCY
        with open_state(state_path) as store:
            (run,) = store.journal.list_runs()
            journalled = {r.user_id for r in store.journal.results(run.id) if r.status == "applied"}
            in_flight = {op for op, _ in store.journal.unsettled_operations(run.id)}
        held = set(landed) - journalled
        assert len(journalled) == ANSWERED_PUTS
        assert in_flight == {f"user:{user_id}" for user_id in held}
        sandbox.clear_requests()

        resumed = cli("push", str(export), "--yes", "--resume", env=env_for(sandbox, state_path))

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        assert f"Resuming run {run.id}" in resumed.stdout
        assert f"{len(landed)} already applied" in resumed.stdout
        assert "conflict" not in resumed.stdout.lower()
        assert_users_equal(users_of(sandbox), expected_users(before, changes))
        resent = [e["path"] for e in sandbox.requests() if e["method"] == "PUT"]
        assert sorted(resent) == sorted(f"/api/users/{u}" for u in set(changes) - set(landed))
        assert_no_user_applied_twice(state_path)
        with open_state(state_path) as store:
            results = store.journal.results(run.id)
            assert store.journal.unsettled_operations(run.id) == set()
            (finished,) = store.journal.list_runs()
        assert (finished.status, finished.exit_code, finished.attempts) == ("finished", 0, 2)
        assert {r.status for r in results} == {"applied"}
        assert {r.user_id for r in results} == set(changes)
        notes = {r.user_id: r.error for r in results if r.user_id in held}
        assert notes == dict.fromkeys(held, LANDED_NOTE)
        snapshot_cities = {u: snapshot_city(state_path, u) for u in held}
        assert snapshot_cities == dict.fromkeys(held, "Toronto")
        assert proxy.errors == [], proxy.errors[0]


# --- SIGKILL when Communal stores telephones as E.164 ---------------------------------------


def write_telephone_export(path: Path, count: int) -> dict[int, dict[str, Any]]:
    """An export for ``big_seed(count)`` giving every member a new number in the national
    form ("(416) 555-2003"); returns the telephones an E.164 API then holds, by user id."""
    changes: dict[int, dict[str, Any]] = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email", "Mobile"])
        for n in range(count):
            user_id = BIG_FIRST_ID + n
            digits = f"{2000 + n:04d}"
            writer.writerow(
                [
                    user_id,
                    f"Member{n}",
                    f"Before{n}",
                    f"member{n}@example.org",
                    f"(416) 555-{digits}",
                ]
            )
            changes[user_id] = {"telephone": f"+1416555{digits}"}
    return changes


def test_a_killed_push_to_an_e164_api_resumes_without_conflicts_when_the_region_is_set(
    cli: Cli, state_path: Path, tmp_path: Path
) -> None:
    """Communal answers the national number it was sent as E.164. On resume the PUTs that
    landed unanswered read back as "+1416555...", not as sent: only the plan's
    --default-region (recorded in the plan, used by apply) tells they hold what we sent."""
    export = tmp_path / "phones.csv"
    changes = write_telephone_export(export, KILL_MEMBERS)
    with (
        Sandbox(big_seed(KILL_MEMBERS), telephone_region="CA") as sandbox,
        HoldingProxy(sandbox.root_url, answered=ANSWERED_PUTS) as proxy,
    ):
        before = users_of(sandbox)
        command = [
            *push_command(export, proxy.base_url, state_path, KILL_CONCURRENCY),
            "--default-region",
            "CA",
        ]
        env = {
            **os.environ,
            "COMMUNAL_API_KEY": sandbox.manager_key,
            "COMMUNAL_TIMEOUT": HELD_TIMEOUT_SECONDS,
        }
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_puts(sandbox, process, ANSWERED_PUTS + KILL_CONCURRENCY)
            process.send_signal(signal.SIGKILL)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=KILL_TIMEOUT_SECONDS)
        assert process.returncode == -signal.SIGKILL
        landed = {
            int(e["path"].rsplit("/", 1)[1])
            for e in sandbox.requests()
            if e["method"] == "PUT" and e["status"] == 200
        }
        assert len(landed) == ANSWERED_PUTS + KILL_CONCURRENCY
        sandbox.clear_requests()

        resumed = cli(
            "push", str(export), "--yes", "--resume", "--default-region", "CA",
            env=env_for(sandbox, state_path),
        )  # fmt: skip

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        assert f"{len(landed)} already applied" in resumed.stdout
        assert "conflict" not in resumed.stdout.lower()
        assert_users_equal(users_of(sandbox), expected_users(before, changes))
        resent = sorted(e["path"] for e in sandbox.requests() if e["method"] == "PUT")
        assert resent == sorted(f"/api/users/{u}" for u in set(changes) - landed)
        assert_no_user_applied_twice(state_path)
        with open_state(state_path) as store:
            (run,) = store.journal.list_runs()
            assert (run.status, run.exit_code, run.attempts) == ("finished", 0, 2)
            assert {r.status for r in store.journal.results(run.id)} == {"applied"}
        assert proxy.errors == [], proxy.errors[0]


def wait_for_puts(sandbox: Sandbox, process: subprocess.Popen[bytes], puts: int) -> None:
    """Wait until ``puts`` PUTs were applied by the sandbox; fail if the push ends first."""
    deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
    while put_count(sandbox) < puts:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"push ended before {puts} PUTs: {err.decode()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {puts} PUTs within {KILL_TIMEOUT_SECONDS}s")
        time.sleep(POLL_SECONDS)


def snapshot_city(state_path: Path, user_id: int) -> Any:
    """The city the state remembers Communal holding for ``user_id`` (GET never shows it)."""
    with open_state(state_path) as store:
        snapshot = store.snapshots.get(user_id)
    assert snapshot is not None
    return snapshot.user.get("profile_city")


# --- a deterministic run with failures: reported, then completed ----------------------------

REPORTED_FAILURES_SEED = 1
"""With one request at a time this seed makes a few users exhaust their retries."""


def test_users_that_exhaust_their_retries_are_listed_and_a_second_apply_completes_them(
    cli: Cli, export: Path, state_path: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)
        env = env_for(sandbox, state_path)
        assert cli("plan", str(export), "--out", str(plan), env=env).exit_code == 0
        sandbox.set_faults(Faults(error_rate=0.6, fault_seed=REPORTED_FAILURES_SEED))

        first = cli("apply", str(plan), "--yes", "--concurrency", "1", env=env)

        assert first.exit_code == 3, first.stdout + first.stderr
        failed = run_ids_with_failures(state_path)[1]
        assert len(failed) > 1, "the seed no longer makes users fail"
        table = first.stdout.split("Not updated", 1)[1]
        assert sorted(
            int(row.split("│")[1]) for row in table.splitlines() if row.startswith("│ 1")
        ) == sorted(failed)
        sandbox.set_faults(Faults())
        sandbox.clear_requests()

        second = cli("apply", str(plan), "--yes", env=env)

        assert second.exit_code == 0, second.stdout + second.stderr
        assert sorted(puts_of(sandbox)) == sorted(failed)
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))


def puts_of(sandbox: Sandbox) -> list[int]:
    return [int(e["path"].rsplit("/", 1)[1]) for e in sandbox.requests() if e["method"] == "PUT"]


# --- a full disk when the run is already done ---------------------------------------------------


class _FullDiskOs:
    """``os`` for ``communal_sync.files`` on a full disk: every fsync fails with ENOSPC."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("report_name", ["run.json", "run.html"])
def test_a_full_disk_while_writing_the_report_keeps_the_runs_exit_code(
    cli: Cli, state_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, report_name: str
) -> None:
    from communal_sync import files

    export = write_big_export(tmp_path / "members.csv", 10)
    report = tmp_path / "reports" / report_name
    report.parent.mkdir()
    with Sandbox(big_seed(10)) as sandbox:
        before = users_of(sandbox)
        monkeypatch.setattr(files, "os", _FullDiskOs())

        result = cli(
            "push", str(export), "--yes", "--report", str(report), env=env_for(sandbox, state_path)
        )

        monkeypatch.undo()
        assert result.exit_code == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr == (
            f"Warning: the report could not be written to {report}: No space left on device; "
            "the run itself finished with exit code 0: see `communal-sync runs show 1` for "
            "every outcome.\n"
        )
        assert list(report.parent.iterdir()) == []  # no half-written report, no temporary file
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(10)))
        shown = cli("runs", "show", "1", env=env_for(sandbox, state_path))
        assert shown.exit_code == 0 and "finished" in shown.stdout
