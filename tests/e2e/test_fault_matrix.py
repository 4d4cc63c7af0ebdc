"""The fatal-fault matrix: an API that stops accepting the key, forbids every user, refuses
the version, never answers, answers garbage, or breaks only the answers to writes.

Each case runs the real ``push FILE --yes`` against a loopback server (``fault_servers``)
and asserts the exit code, the one ``Error:`` line, what the journal recorded and, where a
later run finishes the work, that the sandbox ends in exactly the expected state with no
user applied twice. The sandbox-side faults alone and together, and SIGKILL, are in
``test_faults.py``; this file does not repeat them.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.fault_servers import (
    HTML_PAGE,
    TRUNCATED_JSON,
    WRONG_SHAPE,
    BreakingProxy,
    Canned,
    GarbageServer,
    SilentServer,
)
from support.push import (
    BIG_FIRST_ID,
    MANAGER_KEY,
    MEMBER_KEY,
    assert_users_equal,
    big_changes,
    big_seed,
    env_for,
    expected_users,
    users_of,
    write_big_export,
)

from communal_sync.api.responses import UNAUTHENTICATED_MESSAGE
from communal_sync.api.retry import DEFAULT_ATTEMPTS
from communal_sync.applying.apply import FORBIDDEN_STREAK_LIMIT
from communal_sync.applying.apply import UNREACHABLE_STREAK_LIMIT as APPLY_STREAK
from communal_sync.planning.planner import GET_LOOKAHEAD
from communal_sync.planning.planner import UNREACHABLE_STREAK_LIMIT as PLAN_STREAK
from communal_sync.sandbox import SUPPORTED_VERSIONS, Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

MEMBERS = 30
CHANGED = len(big_changes(MEMBERS))
CONCURRENCY = 4
"""The default --concurrency."""
REVOKE_AFTER_PUTS = 10
SECOND_MANAGER_KEY = "sandbox-second-manager-key"
TIMEOUT_SECONDS = "0.2"
"""COMMUNAL_TIMEOUT for the servers that never answer."""
BOUNDED_SECONDS = 20.0
"""A generous ceiling: a stalled run would take HOLD_SECONDS or the 30 s default timeout."""
PLANNING_GETS_CEILING = PLAN_STREAK + GET_LOOKAHEAD * CONCURRENCY
"""GETs planning may send before a fatal streak stops it: the streak plus the lookahead."""
STREAK_USER = BIG_FIRST_ID + PLAN_STREAK - 1
"""The row whose failed read completes the planning streak (rows are planned in order)."""


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_big_export(tmp_path / "members.csv", MEMBERS)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


def env_at(base_url: str, state: Path, *, key: str = MANAGER_KEY, **extra: str) -> dict[str, str]:
    """Environment for a CLI run against ``base_url`` (a fault server or a proxy)."""
    return {
        "COMMUNAL_BASE_URL": base_url,
        "COMMUNAL_API_KEY": key,
        "COMMUNAL_SYNC_STATE": str(state),
        **extra,
    }


def the_error(result: CliResult) -> str:
    """The single ``Error:`` line of a failed run (and no traceback anywhere)."""
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def resume_hint(export: Path) -> str:
    return f"Resume with: communal-sync push {export} --resume"


def landed_puts(sandbox: Sandbox) -> Counter[int]:
    """PUTs the sandbox applied (answered 200), by user id."""
    return Counter(
        int(e["path"].rsplit("/", 1)[1])
        for e in sandbox.requests()
        if e["method"] == "PUT" and e["status"] == 200
    )


JournalRun = tuple[int, str, int | None, dict[str, list[int]]]


def journal(state: Path) -> list[JournalRun]:
    """Every run as (id, status, exit code, {result status: sorted user ids})."""
    with open_state(state) as store:
        runs: list[JournalRun] = []
        for run in reversed(store.journal.list_runs(100)):
            by_status: dict[str, list[int]] = {}
            for result in store.journal.results(run.id):
                assert result.user_id is not None
                by_status.setdefault(result.status, []).append(result.user_id)
            sorted_ids = {status: sorted(ids) for status, ids in by_status.items()}
            runs.append((run.id, run.status, run.exit_code, sorted_ids))
    return runs


def runs_listed(cli: Cli, state: Path) -> list[tuple[int, str, int | None]]:
    listed = cli("runs", "--json", env={"COMMUNAL_SYNC_STATE": str(state)})
    assert listed.exit_code == 0, listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return [(r["id"], r["status"], r["exit_code"]) for r in rows]


def assert_applied_once(state: Path, run_id: int, users: set[int]) -> None:
    """In run ``run_id``, exactly ``users`` are journalled as applied, each once."""
    with open_state(state) as store:
        applied = Counter(r.user_id for r in store.journal.results(run_id) if r.status == "applied")
    assert set(applied) == users
    assert [u for u, n in applied.items() if n > 1] == []


# --- 401 in the middle of a run ----------------------------------------------------------


def test_a_key_revoked_mid_run_stops_it_and_a_new_key_resumes_it_exactly(
    cli: Cli, export: Path, state_path: Path
) -> None:
    seed = big_seed(MEMBERS)
    seed["api_keys"].append({"key": SECOND_MANAGER_KEY, "user_id": 1, "manager": True})
    with (
        Sandbox(seed) as sandbox,
        BreakingProxy(sandbox.root_url, revoke_after_puts=REVOKE_AFTER_PUTS) as proxy,
    ):
        before = users_of(sandbox)

        first = cli("push", str(export), "--yes", env=env_at(proxy.base_url, state_path))

        assert first.exit_code == 1, first.stdout + first.stderr
        assert the_error(first) == (
            f"Error: {UNAUTHENTICATED_MESSAGE} The run stopped; nothing more was sent. "
            + resume_hint(export)
        )
        landed = landed_puts(sandbox)
        assert sum(landed.values()) == len(landed) == REVOKE_AFTER_PUTS
        refused = {
            int(e["path"].rsplit("/", 1)[1])
            for e in sandbox.requests()
            if e["method"] == "PUT" and e["status"] == 401
        }
        assert 1 <= len(refused) <= CONCURRENCY, "only what was in flight after the 401"
        ((run_id, status, code, results),) = journal(state_path)
        assert (status, code) == ("failed", 1)
        assert results == {"applied": sorted(landed), "failed": sorted(refused)}
        assert f"{REVOKE_AFTER_PUTS} users updated" in first.stdout
        sandbox.clear_requests()

        second = cli(
            "push",
            str(export),
            "--yes",
            "--resume",
            env=env_at(proxy.base_url, state_path, key=SECOND_MANAGER_KEY),
        )

        assert second.exit_code == 0, second.stdout + second.stderr
        assert f"Resuming run {run_id}" in second.stdout
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
        resent = landed_puts(sandbox)
        assert set(resent) == set(big_changes(MEMBERS)) - set(landed)
        assert max(resent.values()) == 1
        assert_applied_once(state_path, run_id, set(big_changes(MEMBERS)))
        assert runs_listed(cli, state_path) == [(run_id, "finished", 0)]
        assert proxy.errors == [], proxy.errors[0]


# --- 403 on every user -------------------------------------------------------------------


def test_a_member_key_run_is_journalled_failed_and_a_manager_key_completes_it(
    cli: Cli, export: Path, state_path: Path, tmp_path: Path
) -> None:
    # test_faults covers the short streak of a member key; here: the journal afterwards.
    plan = tmp_path / "plan.json"
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)
        manager = env_for(sandbox, state_path)
        assert cli("plan", str(export), "--out", str(plan), env=manager).exit_code == 0
        sandbox.clear_requests()

        member = cli("apply", str(plan), "--yes", env=env_for(sandbox, state_path, key=MEMBER_KEY))

        assert member.exit_code == 1, member.stdout + member.stderr
        error = the_error(member)
        assert "(403)" in error and "use a manager key" in error
        assert error.endswith(f"Resume with: communal-sync apply {plan}")
        forbidden = [e for e in sandbox.requests() if e["status"] == 403]
        assert len(forbidden) == len(sandbox.requests())
        assert FORBIDDEN_STREAK_LIMIT <= len(forbidden) <= FORBIDDEN_STREAK_LIMIT + CONCURRENCY - 1
        ((run_id, status, code, results),) = journal(state_path)
        assert (status, code) == ("failed", 1)
        assert list(results) == ["failed"] and len(results["failed"]) == len(forbidden)

        completed = cli("apply", str(plan), "--yes", env=manager)

        assert completed.exit_code == 0, completed.stdout + completed.stderr
        # The member key's 403s applied nothing: all that was planned is left.
        changed = len(big_changes(MEMBERS))
        assert completed.stdout.startswith(
            f"Resuming run {run_id}: 0 of {changed} users done, {changed} left.\n"
        )
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
        assert_applied_once(state_path, run_id, set(big_changes(MEMBERS)))
        assert runs_listed(cli, state_path) == [(run_id, "finished", 0)]


# --- 400: an unsupported version -----------------------------------------------------------


def test_an_unsupported_version_lists_the_supported_ones_on_one_line_and_sends_no_put(
    cli: Cli, export: Path, state_path: Path
) -> None:
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        result = cli(
            "push",
            str(export),
            "--yes",
            "--api-version",
            "2020-01-01",
            env=env_for(sandbox, state_path),
        )

        assert result.exit_code == 1
        assert result.stderr == (
            "Error: The API does not serve the requested version (supported: "
            f"{', '.join(SUPPORTED_VERSIONS)}). Pass --api-version with one of them.\n"
        )
        methods = Counter(e["method"] for e in sandbox.requests())
        assert set(methods) == {"GET"} and methods["GET"] <= GET_LOOKAHEAD * CONCURRENCY
        assert {e["status"] for e in sandbox.requests()} == {400}
    assert runs_listed(cli, state_path) == []


# --- a server that never answers -------------------------------------------------------------


def test_a_server_that_never_answers_is_fatal_in_bounded_time_and_leaves_the_state_usable(
    cli: Cli, export: Path, state_path: Path
) -> None:
    with SilentServer() as silent:
        started = time.monotonic()

        result = cli(
            "push",
            str(export),
            "--yes",
            env=env_at(silent.base_url, state_path, COMMUNAL_TIMEOUT=TIMEOUT_SECONDS),
        )

        elapsed = time.monotonic() - started
        assert result.exit_code == 1, result.stdout + result.stderr
        assert the_error(result) == (
            f"Error: No usable answer from the API for user {STREAK_USER} at "
            f"{silent.base_url} (ReadTimeout: timed out). Check the network and the base URL."
        )
        assert elapsed < BOUNDED_SECONDS
        # Every try of every read was a fresh connection that timed out, no more.
        connections = silent.connections
        assert (
            PLAN_STREAK * DEFAULT_ATTEMPTS
            <= connections
            <= PLANNING_GETS_CEILING * DEFAULT_ATTEMPTS
        )
    assert runs_listed(cli, state_path) == []
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        before = users_of(sandbox)
        healthy = cli("push", str(export), "--yes", env=env_for(sandbox, state_path))
        assert healthy.exit_code == 0, healthy.stdout + healthy.stderr
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))


# --- a server that answers garbage -----------------------------------------------------------

GARBAGE = {
    "html-200": (
        HTML_PAGE,
        "with 200 and a body that is not JSON: '<!DOCTYPE html><html><body><h1>Welcome to "
        "nginx!</h1></body></html>'. Check the base URL (COMMUNAL_BASE_URL).",
    ),
    "truncated-json": (
        TRUNCATED_JSON,
        'with 200 and a body that is not JSON: \'{"id": 1001, "first_name": "Mem\'. '
        "Check the base URL (COMMUNAL_BASE_URL).",
    ),
    "data-is-a-number": (
        WRONG_SHAPE,
        "with a User we cannot read (id: Field required).",
    ),
}


@pytest.mark.parametrize(("answer", "problem"), GARBAGE.values(), ids=GARBAGE.keys())
def test_a_server_that_answers_garbage_is_fatal_with_one_clear_line(
    cli: Cli, export: Path, state_path: Path, answer: Canned, problem: str
) -> None:
    with GarbageServer(answer) as garbage:
        result = cli("push", str(export), "--yes", env=env_at(garbage.base_url, state_path))

        assert result.exit_code == 1, result.stdout + result.stderr
        assert the_error(result) == f"Error: The API answered user {STREAK_USER} {problem}"
        methods = Counter(garbage.methods)
        assert set(methods) == {"GET"}, "nothing may be written on a garbage answer"
        # Garbage is not retried: one GET per row, the streak plus the lookahead at most.
        assert PLAN_STREAK <= methods["GET"] <= PLANNING_GETS_CEILING
        assert garbage.errors == [], garbage.errors[0]
    assert runs_listed(cli, state_path) == []


# --- writes that land but whose answers are lost -------------------------------------------

BROKEN_PUTS = {"html-200": HTML_PAGE, "no-answer": "silence"}


@pytest.mark.parametrize("breakage", BROKEN_PUTS.values(), ids=BROKEN_PUTS.keys())
def test_puts_that_land_with_broken_answers_stop_the_run_and_resume_sends_none_twice(
    cli: Cli, export: Path, state_path: Path, breakage: Canned | str
) -> None:
    attempts = DEFAULT_ATTEMPTS if breakage == "silence" else 1  # garbage is never retried
    with (
        Sandbox(big_seed(MEMBERS)) as sandbox,
        BreakingProxy(sandbox.root_url, break_puts=breakage) as proxy,
    ):
        before = users_of(sandbox)
        env = env_at(proxy.base_url, state_path, COMMUNAL_TIMEOUT=TIMEOUT_SECONDS)
        started = time.monotonic()

        broken = cli("push", str(export), "--yes", env=env)

        assert time.monotonic() - started < BOUNDED_SECONDS
        assert broken.exit_code == 1, broken.stdout + broken.stderr
        error = the_error(broken)
        assert error.endswith("The run stopped; nothing more was sent. " + resume_hint(export))
        if breakage == "silence":
            assert "(ReadTimeout: timed out)" in error
        else:
            assert "with 200 and a body that is not JSON" in error
        landed = landed_puts(sandbox)
        assert APPLY_STREAK <= len(landed) <= APPLY_STREAK + CONCURRENCY - 1
        assert set(landed.values()) == {attempts}
        ((run_id, status, code, results),) = journal(state_path)
        assert (status, code) == ("failed", 1)
        assert results == {"failed": sorted(landed)}, "a write with no answer is not 'applied'"
        sandbox.clear_requests()

        resumed = cli("push", str(export), "--yes", "--resume", env=env_for(sandbox, state_path))

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        assert f"Resuming run {run_id}" in resumed.stdout
        assert f"{len(landed)} already applied" in resumed.stdout
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
        sent_again = landed_puts(sandbox)
        assert set(sent_again) == set(big_changes(MEMBERS)) - set(landed)
        assert max(sent_again.values()) == 1
        assert_applied_once(state_path, run_id, set(big_changes(MEMBERS)))
        assert runs_listed(cli, state_path) == [(run_id, "finished", 0)]
        assert proxy.errors == [], proxy.errors[0]


DRIP_SECONDS = 0.3
"""A byte of each PUT's answer every 0.3 s: never a read timeout of 1 s, never an answer."""
DEADLINE_SECONDS = "0.5"


def test_a_server_that_dribbles_its_answers_is_stopped_by_the_request_deadline(
    cli: Cli, export: Path, state_path: Path
) -> None:
    with (
        Sandbox(big_seed(MEMBERS)) as sandbox,
        BreakingProxy(sandbox.root_url, drip_puts=DRIP_SECONDS) as proxy,
    ):
        before = users_of(sandbox)
        env = env_at(
            proxy.base_url,
            state_path,
            COMMUNAL_TIMEOUT="1",
            COMMUNAL_REQUEST_DEADLINE=DEADLINE_SECONDS,
        )
        started = time.monotonic()

        dripped = cli("push", str(export), "--yes", env=env)

        assert time.monotonic() - started < BOUNDED_SECONDS
        assert dripped.exit_code == 1, dripped.stdout + dripped.stderr
        error = the_error(dripped)
        assert f"within {DEADLINE_SECONDS} s, the deadline for one request" in error
        assert "(COMMUNAL_REQUEST_DEADLINE)" in error
        assert error.endswith("The run stopped; nothing more was sent. " + resume_hint(export))
        landed = landed_puts(sandbox)
        assert APPLY_STREAK <= len(landed) <= APPLY_STREAK + CONCURRENCY - 1
        ((run_id, status, code, results),) = journal(state_path)
        assert (status, code) == ("failed", 1)
        assert results == {"failed": sorted(landed)}

        resumed = cli("push", str(export), "--yes", "--resume", env=env_for(sandbox, state_path))

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        assert f"Resuming run {run_id}" in resumed.stdout
        assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
        assert_applied_once(state_path, run_id, set(big_changes(MEMBERS)))
        assert proxy.errors == [], proxy.errors[0]
