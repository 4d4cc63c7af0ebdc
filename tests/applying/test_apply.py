"""``apply_plan`` itself: Ctrl-C, resume, the crash window, and when a run must stop."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import CliResult
from support.push import (
    MEMBER_KEY,
    assert_users_equal,
    big_changes,
    big_seed,
    edit_in_communal,
    env_for,
    expected_users,
    users_of,
    write_big_export,
)

from communal_sync.api.client import CommunalClient
from communal_sync.api.models import User
from communal_sync.applying.apply import (
    FORBIDDEN_STREAK_LIMIT,
    UNREACHABLE_STREAK_LIMIT,
    apply_plan,
    operation_key,
)
from communal_sync.errors import Forbidden, TransportError, Unauthenticated
from communal_sync.hashing import canonical_hash
from communal_sync.plan import Outcome, Plan
from communal_sync.sandbox import Sandbox
from communal_sync.state import StateStore, open_state

Cli = Callable[..., CliResult]

MEMBERS = 20
CHANGED = len(big_changes(MEMBERS))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A 20-member organization (overrides conftest's demo sandbox)."""
    with Sandbox(big_seed(MEMBERS)) as running:
        yield running


@pytest.fixture
def plan(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> Plan:
    """The plan that pushing the 20-member export would apply, saved and loaded back."""
    export = write_big_export(tmp_path / "members.csv", MEMBERS)
    out = tmp_path / "plan.json"
    result = cli("plan", str(export), "--out", str(out), env=env_for(sandbox, tmp_path / "p.db"))
    assert result.exit_code == 0, result.stdout + result.stderr
    sandbox.clear_requests()
    loaded = Plan.model_validate_json(out.read_text(encoding="utf-8"))
    assert len(loaded.to_update) == CHANGED
    return loaded


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as opened:
        yield opened


def client_for(sandbox: Sandbox, key: str | None = None) -> CommunalClient:
    return CommunalClient(key or sandbox.manager_key, base_url=sandbox.base_url)


def put_users(sandbox: Sandbox) -> list[int]:
    return [int(e["path"].rsplit("/", 1)[1]) for e in sandbox.requests() if e["method"] == "PUT"]


def stop_after(count: int, stop: threading.Event) -> Callable[[Outcome], None]:
    """An ``on_outcome`` that presses Ctrl-C (sets ``stop``) after ``count`` outcomes."""
    seen: list[Outcome] = []

    def on_outcome(outcome: Outcome) -> None:
        seen.append(outcome)
        if len(seen) == count:
            stop.set()

    return on_outcome


def test_ctrl_c_stops_cleanly_and_the_resumed_run_sends_only_the_rest(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    before = users_of(sandbox)
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
    stop = threading.Event()

    with client_for(sandbox) as client:
        first = apply_plan(
            plan,
            client=client,
            store=store,
            run_id=run_id,
            concurrency=2,
            stop=stop,
            on_outcome=stop_after(2, stop),
        )
        sent_first = put_users(sandbox)
        sandbox.clear_requests()

        assert first.interrupted
        assert first.fatal is None
        assert first.pending > 0
        assert first.pending == CHANGED - len(first.outcomes)
        assert len(first.outcomes) <= 2 + 1  # what was in flight finished, nothing new began
        journalled = {r.user_id for r in store.journal.results(run_id) if r.status == "applied"}
        assert journalled == set(sent_first) == {o.user_id for o in first.outcomes}

        resumed = apply_plan(plan, client=client, store=store, run_id=run_id, verify=True)

    sent_second = put_users(sandbox)
    assert not resumed.interrupted
    assert resumed.counts() == {
        "applied": CHANGED - len(sent_first),
        "already": len(sent_first),
        "failed": 0,
        "conflict": 0,
        "pending": 0,
    }
    assert sorted(sent_second) == sorted(set(big_changes(MEMBERS)) - set(sent_first))
    assert_users_equal(users_of(sandbox), expected_users(before, big_changes(MEMBERS)))
    applied = Counter(r.user_id for r in store.journal.results(run_id) if r.status == "applied")
    assert set(applied.values()) == {1}


def test_a_put_that_landed_just_before_a_crash_is_recognised_on_resume(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    """The crash window: Communal took the PUT, the journal never heard of it."""
    landed = plan.to_update[0]
    assert landed.body is not None
    edit_in_communal(sandbox, landed.user_id, **landed.body)
    sandbox.clear_requests()
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())

    with client_for(sandbox) as client:
        result = apply_plan(plan, client=client, store=store, run_id=run_id, verify=True)

    assert landed.user_id not in put_users(sandbox)
    outcome = next(o for o in result.outcomes if o.user_id == landed.user_id)
    assert outcome.status == "already"
    assert result.counts()["applied"] == CHANGED - 1
    journal = next(r for r in store.journal.results(run_id) if r.user_id == landed.user_id)
    assert (journal.status, journal.error) == ("applied", "found already applied")
    assert (operation_key(landed.user_id), canonical_hash(landed.body)) in (
        store.journal.applied_operations(run_id)
    )


def test_a_user_changed_since_planning_is_a_conflict_and_not_sent(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    changed = plan.to_update[1]
    edit_in_communal(sandbox, changed.user_id, telephone="+1 999 555 0000")
    sandbox.clear_requests()
    run_id = store.journal.start_run("apply", plan_json=plan.model_dump_json())

    with client_for(sandbox) as client:
        result = apply_plan(plan, client=client, store=store, run_id=run_id, verify=True)

    assert changed.user_id not in put_users(sandbox)
    assert [(o.user_id, o.status) for o in result.failed] == [(changed.user_id, "conflict")]
    assert users_of(sandbox)[changed.user_id]["telephone"] == "+1 999 555 0000"


def test_a_member_key_stops_the_run_after_a_short_streak_of_403s(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    before = users_of(sandbox)
    run_id = store.journal.start_run("push")

    with client_for(sandbox, MEMBER_KEY) as client:
        result = apply_plan(plan, client=client, store=store, run_id=run_id, concurrency=4)

    puts = put_users(sandbox)
    assert isinstance(result.fatal, Forbidden)
    assert not result.interrupted
    assert FORBIDDEN_STREAK_LIMIT <= len(puts) <= FORBIDDEN_STREAK_LIMIT + 4 - 1
    assert result.pending == CHANGED - len(puts)
    assert {r.user_id for r in store.journal.results(run_id)} == set(puts)
    assert {r.status for r in store.journal.results(run_id)} == {"failed"}
    assert_users_equal(users_of(sandbox), before)


def test_a_wrong_key_stops_the_run_at_once(sandbox: Sandbox, plan: Plan, store: StateStore) -> None:
    run_id = store.journal.start_run("push")

    with client_for(sandbox, "not-the-key") as client:
        result = apply_plan(plan, client=client, store=store, run_id=run_id, concurrency=4)

    assert isinstance(result.fatal, Unauthenticated)
    assert len(put_users(sandbox)) <= 4  # only what was already in flight
    assert result.pending >= CHANGED - 4


def test_a_rejected_user_fails_alone_and_is_not_retried(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    first, second = plan.to_update[0], plan.to_update[1]
    assert first.body is not None and second.body is not None
    taken = dict(first.body, email=second.body["email"])  # another member's email: 422
    users = tuple(
        u.model_copy(update={"body": taken}) if u.user_id == first.user_id else u
        for u in plan.users
    )
    bad_plan = plan.model_copy(update={"users": users})
    run_id = store.journal.start_run("push")

    with client_for(sandbox) as client:
        result = apply_plan(bad_plan, client=client, store=store, run_id=run_id)

    assert result.fatal is None
    assert put_users(sandbox).count(first.user_id) == 1
    (failure,) = result.failed
    assert (failure.user_id, failure.status, failure.http_status) == (first.user_id, "failed", 422)
    assert "email" in failure.field_errors
    assert result.counts()["applied"] == CHANGED - 1


class _Unreachable:
    """A client whose every request exhausted its retries on a dead network."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def get_user(self, user_id: int) -> User:
        raise AssertionError("not used without verify")

    def update_user(self, user_id: int, body: dict[str, str | None]) -> User:
        with self._lock:
            self.calls += 1
        raise TransportError("No usable answer from the API (connection refused).")


def test_a_network_that_stays_down_stops_the_run_after_a_streak(
    plan: Plan, store: StateStore
) -> None:
    client = _Unreachable()
    run_id = store.journal.start_run("push")

    result = apply_plan(plan, client=client, store=store, run_id=run_id, concurrency=2)

    assert isinstance(result.fatal, TransportError)
    assert UNREACHABLE_STREAK_LIMIT <= client.calls <= UNREACHABLE_STREAK_LIMIT + 1
    assert result.pending == CHANGED - client.calls
    assert result.counts()["failed"] == client.calls
