"""Intents: each write journalled before it is sent, so a resume can tell what may have landed.

GET never shows the address fields, so a PUT of an address whose answer was lost (a crash,
a dropped connection) can only be recognized through its journalled intent. And every
write, custom field values included, is journalled under its own operation key.
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.push import BIG_FIRST_ID, big_seed, env_for, users_of

from communal_sync.api.client import CommunalClient
from communal_sync.api.models import CustomProfileFieldValue, User
from communal_sync.applying.apply import apply_plan, operation_key
from communal_sync.applying.custom_writes import LANDED_EARLIER, custom_operation_key
from communal_sync.applying.landed import FOUND_NOTE, LANDED_MESSAGE, LANDED_NOTE, already_holds
from communal_sync.errors import Rejected, TransportError
from communal_sync.hashing import canonical_hash
from communal_sync.plan import Outcome, Plan
from communal_sync.sandbox import Sandbox
from communal_sync.state import StateStore, open_state
from communal_sync.state.journal import RESULT_STATUS_CODES

STATUS_OF_CODE = {code: status for status, code in RESULT_STATUS_CODES.items()}

Cli = Callable[..., CliResult]

MEMBERS = 4
"""Members of the address organization; each one's export row gives them an address."""
SHIRT_FIELD_ID = 1
"""The demo organization's "T-shirt size" custom field."""
CHEN = 103
"""A demo member with no T-shirt size yet."""
LOST = "No usable answer from the API (the connection closed after sending)."


# --- the decision rule ----------------------------------------------------------------------

LIVE = User.model_validate(
    {
        "id": 7,
        "first_name": "Ada",
        "last_name": "Byron",
        "email": "ada@example.org",
        "telephone": "+1 416 555 0100",
        "updated_at": "2026-03-25T12:00:00.000000Z",
    }
)
"""What a GET shows: no address fields at all."""
TRIO = {"first_name": "Ada", "last_name": "Byron", "email": "ada@example.org"}


def test_a_body_gets_can_show_whole_is_held_when_every_value_matches() -> None:
    body = {**TRIO, "telephone": "(416) 555-0100"}

    assert already_holds(LIVE, body, region="CA", in_flight=False)
    assert already_holds(LIVE, body, region="CA", in_flight=True)


def test_a_shown_value_that_differs_is_never_held_even_for_a_put_in_flight() -> None:
    body = {**TRIO, "last_name": "Lovelace", "profile_city": "London"}

    assert not already_holds(LIVE, body, region=None, in_flight=False)
    assert not already_holds(LIVE, body, region=None, in_flight=True)


def test_an_address_gets_cannot_show_is_held_only_for_a_put_in_flight() -> None:
    body = {**TRIO, "profile_address": "12 St James's Sq", "profile_city": "London"}

    assert not already_holds(LIVE, body, region=None, in_flight=False)
    assert already_holds(LIVE, body, region=None, in_flight=True)


# --- applying: the intent comes first, the outcome settles it ------------------------------


def write_address_export(path: Path) -> Path:
    """An export for ``big_seed(MEMBERS)`` that gives every member an address (only)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email", "Address", "City"])
        for n in range(MEMBERS):
            row = [BIG_FIRST_ID + n, f"Member{n}", f"Before{n}", f"member{n}@example.org"]
            writer.writerow([*row, f"{n} Main St", "Toronto"])
    return path


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The small address organization (overrides conftest's demo sandbox)."""
    with Sandbox(big_seed(MEMBERS)) as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as opened:
        yield opened


@pytest.fixture
def plan(cli: Cli, sandbox: Sandbox, tmp_path: Path) -> Plan:
    """The plan of the address export: one PUT per member, of fields GET never shows."""
    export = write_address_export(tmp_path / "members.csv")
    out = tmp_path / "plan.json"
    result = cli("plan", str(export), "--out", str(out), env=env_for(sandbox, tmp_path / "p.db"))
    assert result.exit_code == 0, result.stdout + result.stderr
    sandbox.clear_requests()
    loaded = Plan.model_validate_json(out.read_text(encoding="utf-8"))
    assert [u.body and sorted(u.body) for u in loaded.to_update] == [
        ["email", "first_name", "last_name", "profile_address", "profile_city"]
    ] * MEMBERS
    return loaded


class Client:
    """A real client to the sandbox whose chosen writes land but lose their answer."""

    def __init__(self, sandbox: Sandbox, store: StateStore, run_id: int) -> None:
        self.api = CommunalClient(sandbox.manager_key, base_url=sandbox.base_url)
        self.store = store
        self.run_id = run_id
        self.lose_put_answers: set[int] = set()
        self.lose_create_answers = False
        self.reject_puts: set[int] = set()
        self.unsettled_when_sent: list[set[tuple[str, str]]] = []

    def get_user(self, user_id: int) -> User:
        return self.api.get_user(user_id)

    def update_user(self, user_id: int, body: dict[str, str | None]) -> User:
        self.unsettled_when_sent.append(self.store.journal.unsettled_operations(self.run_id))
        if user_id in self.reject_puts:
            raise Rejected("The email has already been taken.", errors={"email": ["taken"]})
        updated = self.api.update_user(user_id, body)
        if user_id in self.lose_put_answers:
            raise TransportError(LOST)
        return updated

    def list_custom_profile_field_values(self, user_id: int) -> list[CustomProfileFieldValue]:
        return self.api.list_custom_profile_field_values(user_id)

    def create_custom_profile_field_value(
        self, user_id: int, field_id: int, value: str | None
    ) -> CustomProfileFieldValue | None:
        self.unsettled_when_sent.append(self.store.journal.unsettled_operations(self.run_id))
        created = self.api.create_custom_profile_field_value(user_id, field_id, value)
        if self.lose_create_answers:
            raise TransportError(LOST)
        return created

    def update_custom_profile_field_value(
        self, value_id: int, user_id: int, field_id: int, value: str | None
    ) -> CustomProfileFieldValue | None:
        return self.api.update_custom_profile_field_value(value_id, user_id, field_id, value)

    def close(self) -> None:
        self.api.close()


def puts_of(sandbox: Sandbox) -> list[str]:
    return [e["path"] for e in sandbox.requests() if e["method"] == "PUT"]


def test_each_put_is_journalled_as_intended_before_it_is_sent(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
    client = Client(sandbox, store, run_id)

    result = apply_plan(plan, client=client, store=store, run_id=run_id, concurrency=1)
    client.close()

    assert result.counts()["applied"] == MEMBERS
    expected = [{(operation_key(u.user_id), canonical_hash(u.body or {}))} for u in plan.to_update]
    assert client.unsettled_when_sent == expected
    assert store.journal.unsettled_operations(run_id) == set()


def test_a_put_whose_answer_was_lost_is_recognized_on_resume_and_not_sent_again(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    lost = plan.to_update[1]
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
    client = Client(sandbox, store, run_id)
    client.lose_put_answers = {lost.user_id}

    first = apply_plan(plan, client=client, store=store, run_id=run_id, concurrency=1)

    assert [(o.user_id, o.status) for o in first.failed] == [(lost.user_id, "failed")]
    assert store.journal.unsettled_operations(run_id) == {
        (operation_key(lost.user_id), canonical_hash(lost.body or {}))
    }
    assert users_of(sandbox)[lost.user_id]["profile_city"] == "Toronto"  # it landed
    sandbox.clear_requests()
    client.lose_put_answers = set()

    second = apply_plan(plan, client=client, store=store, run_id=run_id, verify=True)
    client.close()

    assert puts_of(sandbox) == []
    outcome = next(o for o in second.outcomes if o.user_id == lost.user_id)
    assert (outcome.status, outcome.message) == ("already", LANDED_MESSAGE)
    assert second.counts() == {
        "applied": 0,
        "already": MEMBERS,
        "failed": 0,
        "conflict": 0,
        "pending": 0,
    }
    (landed,) = [
        r
        for r in store.journal.results(run_id)
        if r.status == "applied" and r.user_id == lost.user_id
    ]
    assert landed.error == LANDED_NOTE
    assert landed.after is not None
    # first-time address writes had no value before to restore: the snapshot holds them
    assert not {"profile_address", "profile_city"} & set(landed.after)
    assert set(landed.after) >= {"id", "updated_at"}
    snapshot = store.snapshots.get(lost.user_id)
    assert snapshot is not None and snapshot.user["profile_address"] == "1 Main St"
    assert store.journal.unsettled_operations(run_id) == set()


def test_without_an_intent_an_address_put_is_still_a_conflict_on_resume(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    """A state file from before intents (or one that lost its intent) stays cautious."""
    lost = plan.to_update[0]
    assert lost.body is not None
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
    with CommunalClient(sandbox.manager_key, base_url=sandbox.base_url) as api:
        api.update_user(lost.user_id, lost.body)  # landed, and the journal never heard of it
        sandbox.clear_requests()

        result = apply_plan(plan, client=api, store=store, run_id=run_id, verify=True)

    outcome = next(o for o in result.outcomes if o.user_id == lost.user_id)
    assert outcome.status == "conflict"
    assert f"/api/users/{lost.user_id}" not in puts_of(sandbox)
    assert result.counts()["applied"] == MEMBERS - 1
    assert FOUND_NOTE not in {r.error for r in store.journal.results(run_id)}


def test_a_rejected_put_settles_its_intent(sandbox: Sandbox, plan: Plan, store: StateStore) -> None:
    rejected = plan.to_update[2]
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
    client = Client(sandbox, store, run_id)
    client.reject_puts = {rejected.user_id}

    result = apply_plan(plan, client=client, store=store, run_id=run_id)
    client.close()

    assert [(o.user_id, o.http_status) for o in result.failed] == [(rejected.user_id, 422)]
    assert store.journal.unsettled_operations(run_id) == set()


# --- custom field values: each write under its own key ------------------------------------


def test_a_custom_value_post_with_no_answer_is_journalled_under_its_own_key(
    cli: Cli, demo_seed: dict[str, Any], tmp_path: Path, store: StateStore
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "id,first_name,last_name,email,custom:T-shirt size\n"
        f"{CHEN},Chen,Wei-Lin,chen.wei@example.org,S\n",
        encoding="utf-8",
    )
    with Sandbox(demo_seed) as sandbox:
        out = tmp_path / "plan.json"
        planned = cli(
            "plan", str(export), "--out", str(out), env=env_for(sandbox, tmp_path / "p.db")
        )
        assert planned.exit_code == 0, planned.stdout + planned.stderr
        plan = Plan.model_validate_json(out.read_text(encoding="utf-8"))
        (chen,) = plan.to_update
        assert chen.body is not None and [w.operation for w in chen.custom_writes] == ["create"]
        run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
        client = Client(sandbox, store, run_id)
        client.lose_create_answers = True
        cpfv = custom_operation_key(CHEN, SHIRT_FIELD_ID)

        first = apply_plan(plan, client=client, store=store, run_id=run_id)

        (outcome,) = first.outcomes
        assert (outcome.status, outcome.message) == ("failed", f"custom:T-shirt size: {LOST}")
        assert [(r.operation, r.status) for r in store.journal.results(run_id)] == [
            (operation_key(CHEN), "applied"),
            (cpfv, "failed"),
        ]
        assert {op for op, _ in store.journal.unsettled_operations(run_id)} == {cpfv}
        assert shirt_sizes(sandbox) == ["S"]
        sandbox.clear_requests()
        client.lose_create_answers = False

        second = apply_plan(plan, client=client, store=store, run_id=run_id, verify=True)
        client.close()

        assert [(o.user_id, o.status) for o in second.outcomes] == [(CHEN, "already")]
        assert [e["method"] for e in sandbox.requests()] == ["GET"]  # the values, re-read
        assert shirt_sizes(sandbox) == ["S"]
        last = store.journal.results(run_id)[-1]
        assert (last.operation, last.status) == (cpfv, "applied")
        assert last.after is not None and last.after["note"] == LANDED_EARLIER
        assert store.journal.unsettled_operations(run_id) == set()


def shirt_sizes(sandbox: Sandbox) -> list[str]:
    return [
        v["value"]
        for v in sandbox.state()["custom_profile_field_values"]
        if (v["user_id"], v["custom_profile_field_id"]) == (CHEN, SHIRT_FIELD_ID)
    ]


# --- group commit: a result is on disk before its worker goes on ------------------------------


class Killed(BaseException):
    """The process dying: not an error apply handles, nothing after it runs."""


class DyingStore:
    """The real store, except that the process "dies" at the ``dies_at``-th group commit
    of a result, after that PUT was answered and before its result reached the disk."""

    def __init__(self, store: StateStore, dies_at: int) -> None:
        self._store = store
        self._left = dies_at
        self.journal = store.journal
        self.snapshots = store.snapshots
        self.identity = store.identity

    def transaction(self) -> Any:
        return self._store.transaction()

    def grouped(self, work: Callable[[], Any]) -> Any:
        self._left -= 1
        if self._left == 0:
            raise Killed
        return self._store.grouped(work)


def test_a_run_killed_between_a_put_and_its_result_resumes_without_sending_it_again(
    sandbox: Sandbox, plan: Plan, tmp_path: Path
) -> None:
    """The group-commit window: the PUT landed and was answered, its result was waiting
    for the shared commit when the process died. On disk that is an intent without a
    result, exactly as when the answer itself was lost: the resume re-reads the user,
    counts the PUT as landed and does not send it again."""
    path = tmp_path / "killed.db"
    killed = plan.to_update[1]
    with open_state(path) as store:
        run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
        client = Client(sandbox, store, run_id)
        with pytest.raises(Killed):
            apply_plan(
                plan, client=client, store=DyingStore(store, 2), run_id=run_id, concurrency=1
            )
        client.close()
    assert puts_of(sandbox) == [f"/api/users/{u.user_id}" for u in plan.to_update[:2]]
    assert users_of(sandbox)[killed.user_id]["profile_city"] == "Toronto"  # it landed
    sandbox.clear_requests()

    with open_state(path) as store:  # what reached the disk, read back by a new process
        assert [(r.user_id, r.status) for r in store.journal.results(run_id)] == [
            (plan.to_update[0].user_id, "applied")
        ]
        assert store.journal.unsettled_operations(run_id) == {
            (operation_key(killed.user_id), canonical_hash(killed.body or {}))
        }
        client = Client(sandbox, store, run_id)
        resumed = apply_plan(plan, client=client, store=store, run_id=run_id, verify=True)
        client.close()

        # the resume sends the rest concurrently: in any order, each once
        assert sorted(puts_of(sandbox)) == sorted(
            f"/api/users/{u.user_id}" for u in plan.to_update[2:]
        )
        outcome = next(o for o in resumed.outcomes if o.user_id == killed.user_id)
        assert (outcome.status, outcome.message) == ("already", LANDED_MESSAGE)
        applied = [r.user_id for r in store.journal.results(run_id) if r.status == "applied"]
        assert sorted(applied) == sorted(u.user_id for u in plan.to_update)
        assert store.journal.unsettled_operations(run_id) == set()


def test_each_result_is_on_disk_before_its_user_is_reported(
    sandbox: Sandbox, plan: Plan, store: StateStore
) -> None:
    """Results of concurrent workers share commits, but each user's outcome is reported
    (and its worker takes the next user) only once its result is committed: another
    connection to the file already reads it."""
    run_id = store.journal.start_run("push", plan_json=plan.model_dump_json())
    seen: list[tuple[int, list[str]]] = []

    def on_outcome(outcome: Outcome) -> None:
        with contextlib.closing(sqlite3.connect(store.path)) as reader:
            rows = reader.execute(
                "SELECT status FROM results WHERE run_id = ? AND user_id = ?",
                (run_id, outcome.user_id),
            ).fetchall()
        seen.append((outcome.user_id, [STATUS_OF_CODE[row[0]] for row in rows]))

    client = Client(sandbox, store, run_id)
    result = apply_plan(
        plan, client=client, store=store, run_id=run_id, concurrency=MEMBERS, on_outcome=on_outcome
    )
    client.close()

    assert result.counts()["applied"] == MEMBERS
    assert sorted(seen) == sorted((u.user_id, ["applied"]) for u in plan.to_update)
