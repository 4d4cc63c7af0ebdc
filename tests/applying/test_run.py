"""The run lifecycle (``applying.run.run_plan``) through its callbacks, against the sandbox."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.push import big_changes, big_seed, env_for, users_of, write_big_export

from communal_sync.api.client import CommunalClient
from communal_sync.applying.apply import apply_plan
from communal_sync.applying.counts import tally_journal
from communal_sync.applying.run import (
    RunHooks,
    RunRequest,
    left_to_send,
    resumable_run,
    run_plan,
)
from communal_sync.errors import ExitCode, RefusedError
from communal_sync.plan import Outcome, Plan
from communal_sync.sandbox import Sandbox
from communal_sync.state import StateStore, open_state

Cli = Callable[..., CliResult]

MEMBERS = 12
CHANGED = len(big_changes(MEMBERS))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(big_seed(MEMBERS)) as running:
        yield running


@pytest.fixture
def plan(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> Plan:
    export = write_big_export(tmp_path / "members.csv", MEMBERS)
    out = tmp_path / "plan.json"
    result = cli("plan", str(export), "--out", str(out), env=env_for(sandbox, tmp_path / "p.db"))
    assert result.exit_code == 0, result.stdout + result.stderr
    sandbox.clear_requests()
    return Plan.model_validate_json(out.read_text(encoding="utf-8"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as opened:
        yield opened


def run(plan: Plan, sandbox: Sandbox, store: StateStore, **kwargs: Any) -> Any:
    hooks: RunHooks = kwargs.pop("hooks", RunHooks())
    request = RunRequest(**kwargs)
    with CommunalClient(sandbox.manager_key, base_url=sandbox.base_url) as client:
        return run_plan(
            plan,
            client=client,
            store=store,
            base_url=sandbox.base_url,
            request=request,
            hooks=hooks,
        )


def puts(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.requests() if e["method"] == "PUT")


def test_a_confirmed_run_applies_journals_counts_and_emits_run_finished(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    seen: list[Outcome] = []
    totals: list[tuple[int, int]] = []

    @contextlib.contextmanager
    def progress(total: int, run_id: int) -> Iterator[Callable[[Outcome], None]]:
        totals.append((total, run_id))
        yield seen.append

    hooks = RunHooks(progress=progress, event=lambda name, **fields: events.append((name, fields)))
    outcome = run(plan, sandbox, store, confirmed=True, run_key="sha", hooks=hooks)

    assert (outcome.exit_code, outcome.status, outcome.run_id) == (0, "finished", 1)
    assert outcome.tally is not None and outcome.tally["applied"] == CHANGED
    assert totals == [(CHANGED, 1)]
    assert sorted(o.user_id for o in seen) == sorted(big_changes(MEMBERS))
    assert puts(sandbox) == CHANGED
    ((name, fields),) = events
    assert name == "run_finished"
    assert (fields["run"], fields["status"], fields["exit_code"]) == (1, "finished", 0)
    assert (fields["applied"], fields["pending"], fields["unchanged"]) == (CHANGED, 0, 2)
    (stored,) = store.journal.list_runs()
    assert (stored.input_sha256, stored.exit_code) == ("sha", 0)
    assert dict(stored.counts) == {
        k: v for k, v in fields.items() if k not in ("run", "status", "exit_code")
    }
    assert store.binding.bound_api() is not None


def test_the_journal_tally_of_a_finished_run_equals_the_tally_it_stored(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    outcome = run(plan, sandbox, store, confirmed=True)

    assert outcome.tally is not None
    from_journal = tally_journal(plan, store.journal.results(outcome.run_id))
    assert from_journal == outcome.tally


def test_an_unconfirmed_run_asks_and_a_no_sends_nothing_and_starts_no_run(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    asked: list[int] = []

    def confirm(shown: Plan) -> bool:
        asked.append(len(shown.to_update))
        return False

    outcome = run(plan, sandbox, store, hooks=RunHooks(confirm=confirm))

    assert (outcome.exit_code, outcome.declined, outcome.started) == (0, True, False)
    assert asked == [CHANGED]
    assert puts(sandbox) == 0
    assert store.journal.list_runs() == []


def test_a_confirmation_after_asking_rereads_every_user_before_writing(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    outcome = run(plan, sandbox, store, hooks=RunHooks(confirm=lambda shown: True))

    assert outcome.exit_code == 0
    gets = [e for e in sandbox.requests() if e["method"] == "GET"]
    assert len(gets) == CHANGED  # verify: one re-read per user before its PUT


def test_a_refusing_confirm_hook_propagates_its_error_and_sends_nothing(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    def no_terminal(shown: Plan) -> bool:
        raise RefusedError("no one to ask")

    with pytest.raises(RefusedError):
        run(plan, sandbox, store, hooks=RunHooks(confirm=no_terminal))
    assert puts(sandbox) == 0


def test_a_plan_refused_by_a_limit_starts_no_run_and_exits_4(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    refused = plan.model_copy(update={"refused": "more than 1 user would change"})

    outcome = run(refused, sandbox, store, confirmed=True)

    assert (outcome.exit_code, outcome.started) == (ExitCode.REFUSED, False)
    assert puts(sandbox) == 0
    assert store.journal.list_runs() == []


def test_a_state_bound_to_another_api_is_refused_before_anything_is_sent(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    store.binding.bind("https://api.example.org/api")

    with pytest.raises(RefusedError, match="holds the identity map and history"):
        run(plan, sandbox, store, confirmed=True)
    assert puts(sandbox) == 0


def test_continuing_an_interrupted_run_keeps_its_id_and_sends_only_what_is_left(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    first_user = plan.to_update[0]
    partial = plan.model_copy(update={"users": (first_user,)})
    started = run(partial, sandbox, store, confirmed=True, run_key="k", kind="apply")
    store.journal.reopen_run(started.run_id)
    store.journal.mark_abandoned_runs()  # as if killed: the run is left interrupted
    sandbox.clear_requests()

    run_id = resumable_run(store, "k", kind="apply")
    outcome = run(plan, sandbox, store, confirmed=True, run_id=run_id, verify=True, kind="apply")

    assert run_id == started.run_id == outcome.run_id
    assert outcome.tally is not None
    assert (outcome.tally["applied"], outcome.tally["already"]) == (CHANGED - 1, 1)
    put_paths = [e["path"] for e in sandbox.requests() if e["method"] == "PUT"]
    assert f"/api/users/{first_user.user_id}" not in put_paths
    assert len(put_paths) == CHANGED - 1
    assert users_of(sandbox)[first_user.user_id]["last_name"].startswith("After")
    (stored,) = store.journal.list_runs()
    assert (stored.status, stored.attempts) == ("finished", 3)  # run, the kill's reopen, resume
    # finished: the run keeps only the options of its plan (revert reads the region)
    kept = json.loads(store.journal.load_plan(stored.id) or "{}")
    assert kept == {"options": plan.options.model_dump(mode="json")}


def test_what_is_left_of_a_run_is_its_users_not_journalled_as_applied_with_these_bodies(
    plan: Plan, sandbox: Sandbox, store: StateStore
) -> None:
    first, second, *_ = plan.to_update
    partial = plan.model_copy(update={"users": (first, second)})
    # A run killed after two users: journalled, never finished (a finished run is never
    # resumed, and keeps no body hashes).
    run_id = store.journal.start_run("apply", input_sha256="k")
    with CommunalClient(sandbox.manager_key, base_url=sandbox.base_url) as client:
        apply_plan(partial, client=client, store=store, run_id=run_id)

    left = left_to_send(plan, store, run_id)

    assert (left.done, left.total, left.left) == (2, CHANGED, CHANGED - 2)
    assert {u.user_id for u in left.plan.to_update} == {u.user_id for u in plan.to_update} - {
        first.user_id,
        second.user_id,
    }
    assert left.plan.unchanged == plan.unchanged
    # The same user with another body (the file changed since) is not done.
    body = {**(first.body or {}), "last_name": "Elsewhere"}
    replanned = plan.model_copy(
        update={"users": (first.model_copy(update={"body": body}), *plan.users[1:])}
    )
    assert left_to_send(replanned, store, run_id).done == 1
