"""Schema 8's compact layout (issue 11): what a snapshot and a result keep, and a real
schema-7 file (``fixtures/schema7.db``, written by the previous code through the real CLI,
see ``fixtures/make_schema7.py``) converted without losing its history, its revert or the
resume of its interrupted run."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.cli import CliResult
from support.push import env_for

from communal_sync.fields import PROFILE_FIELDS
from communal_sync.planning.current import current_record
from communal_sync.sandbox import Sandbox
from communal_sync.state import SCHEMA_VERSION, open_state
from communal_sync.state.packing import (
    SNAPSHOT_FIELDS,
    pack_snapshot,
    pack_time,
    unpack_snapshot,
    unpack_time,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
Cli = Callable[..., CliResult]


def sql(path: Path, statement: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(row) for row in conn.execute(statement)]
    finally:
        conn.close()


# --- the snapshot record --------------------------------------------------------------

TEXT = st.none() | st.text(max_size=12)
KEYS = st.sampled_from([*SNAPSHOT_FIELDS, "custom:3", "custom:9", "x"])
VALUES = TEXT | st.integers(-2, 2) | st.booleans() | st.lists(st.integers(0, 3), max_size=2)


@settings(max_examples=300, deadline=None)
@given(
    user=st.dictionaries(KEYS, VALUES, max_size=8),
    pushed=st.dictionaries(KEYS, VALUES, max_size=8),
    external_id=TEXT,
    email=TEXT,
)
def test_a_snapshot_record_reads_back_exactly_what_was_packed(
    user: dict[str, Any], pushed: dict[str, Any], external_id: str | None, email: str | None
) -> None:
    # values equal to the pushed ones, the marks' own integers 0 and 1, non-text values:
    # every one comes back as it was, by position or in the extra objects
    if "email" in pushed and isinstance(pushed["email"], str) and email is None:
        email = pushed["email"]
    assert unpack_snapshot(pack_snapshot(user, pushed, external_id, email)) == (
        user,
        pushed,
        external_id,
        email,
    )


def test_a_snapshot_keeps_the_users_profile_fields_and_what_was_pushed(tmp_path: Path) -> None:
    user = {
        "id": 7,
        "name": "Zoë Brown",
        "first_name": "Zoë",
        "email": "zoe@example.org",
        "profile_city": "Montréal",
        "updated_at": "2026-03-25T12:00:00.000000Z",
        "status": 1,
    }
    pushed = {"first_name": "Zoë", "profile_city": "Montréal", "custom:3": "blue"}
    with open_state(tmp_path / "state.db") as store:
        saved = store.snapshots.save(7, user=user, pushed=pushed, source_hash=None)
        loaded = store.snapshots.get(7)
    assert loaded == saved
    assert loaded.user == {
        "first_name": "Zoë",
        "email": "zoe@example.org",
        "profile_city": "Montréal",
    }
    assert loaded.pushed == pushed


@pytest.mark.parametrize(
    "moment",
    [
        "2026-12-03T14:39:46.682832+00:00",
        "2026-12-03T14:39:46+00:00",
        "1969-12-31T23:59:59.999999+00:00",
        "2026-03-25T14:00:00.000001+02:00",
    ],
)
def test_times_are_stored_as_exact_microseconds(moment: str) -> None:
    stored = pack_time(moment)
    assert isinstance(stored, int)
    assert unpack_time(stored) == datetime.fromisoformat(moment)
    assert unpack_time(stored).tzinfo == UTC


# --- results ----------------------------------------------------------------------------


def test_a_finished_run_drops_its_body_hashes_and_an_interrupted_one_keeps_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with open_state(path) as store:
        journal = store.journal
        done, cut = journal.start_run("push"), journal.start_run("push")
        for run_id in (done, cut):
            journal.record_result(
                run_id, operation="user:7", status="applied", user_id=7, body_hash="a" * 64
            )
            journal.record_result(
                run_id, operation="cpfv:7:3", status="failed", user_id=7, body_hash="b" * 64
            )
        journal.finish_run(done, status="finished", exit_code=0, counts={})
        journal.finish_run(cut, status="interrupted", exit_code=130, counts={})
        assert journal.applied_operations(done) == {("user:7", "")}
        assert journal.applied_operations(cut) == {("user:7", "a" * 64)}
        assert [(r.operation, r.status, r.body_hash) for r in journal.results(cut)] == [
            ("user:7", "applied", "a" * 64),
            ("cpfv:7:3", "failed", "b" * 64),
        ]
        assert [r.body_hash for r in journal.results(done)] == [None, None]
    # a profile PUT's operation is its user id's: stored as NULL
    assert sql(path, "SELECT operation FROM results ORDER BY id") == [
        (None,),
        ("cpfv:7:3",),
        (None,),
        ("cpfv:7:3",),
    ]
    assert sql(path, "SELECT COUNT(*) FROM result_bodies") == [(2,)]


def test_applied_after_finds_a_profile_put_and_any_other_operation(tmp_path: Path) -> None:
    with open_state(tmp_path / "state.db") as store:
        journal = store.journal
        run_id = journal.start_run("push")
        journal.record_result(
            run_id, operation="user:7", status="applied", user_id=7, after={"a": 1}
        )
        journal.record_result(
            run_id, operation="user:7", status="failed", user_id=7, after={"a": 2}
        )
        journal.record_result(
            run_id, operation="user:7:t", status="applied", user_id=7, after={"b": 3}
        )
        journal.record_result(
            run_id, operation="user:8", status="applied", user_id=9, after={"c": 4}
        )
        assert journal.applied_after(run_id, "user:7") == {"a": 1}
        assert journal.applied_after(run_id, "user:7:t") == {"b": 3}
        assert journal.applied_after(run_id, "user:8") == {"c": 4}  # not its user's: kept as is
        assert journal.applied_after(run_id, "user:9") is None
        assert [r.operation for r in journal.results(run_id)][-1] == "user:8"


def test_every_query_of_the_journal_and_identity_map_uses_an_index(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path):
        pass
    queries = [  # as journal.py and identity.py send them
        "SELECT images FROM results WHERE run_id = 1 AND (operation = 'user:7' OR"
        " (operation IS NULL AND user_id = 7)) AND status = 0 ORDER BY id DESC LIMIT 1",
        "SELECT * FROM results r LEFT JOIN result_bodies b ON b.result_id = r.id"
        " WHERE r.run_id = 1 ORDER BY r.id",
        "SELECT DISTINCT COALESCE(r.operation, 'user:' || r.user_id), b.body_hash"
        " FROM results r LEFT JOIN result_bodies b ON b.result_id = r.id"
        " WHERE r.run_id = 1 AND r.status = 0",
        "SELECT MAX(finished_at) FROM results WHERE run_id = 1 AND finished_at >= 0",
        "DELETE FROM result_bodies WHERE result_id IN (SELECT id FROM results WHERE run_id = 1)",
        "SELECT user_id FROM identity_email WHERE email = 'x'",
        "DELETE FROM identity_email WHERE user_id = 7 AND email != 'x' AND source < 2",
        "SELECT user_id FROM identity_external WHERE external_id = 'x'",
    ]
    for query in queries:
        steps = [str(row[-1]) for row in sql(path, f"EXPLAIN QUERY PLAN {query}")]
        assert not [step for step in steps if step.startswith("SCAN")], (query, steps)


# --- a real schema-7 file ---------------------------------------------------------------


def test_a_schema_7_file_keeps_its_history_revert_and_resume(cli: Cli, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    shutil.copyfile(FIXTURES / "schema7.db", state)
    export = tmp_path / "members.csv"
    shutil.copyfile(FIXTURES / "schema7.csv", export)
    expected = json.loads((FIXTURES / "schema7.expected.json").read_text(encoding="utf-8"))
    seed = json.loads((FIXTURES / "schema7.seed.json").read_text(encoding="utf-8"))
    assert sql(state, "PRAGMA user_version") == [(7,)]

    with Sandbox(seed) as sandbox:
        env = env_for(sandbox, state)
        listed = cli("runs", "--json", env=env)
        assert listed.exit_code == 0, listed.stderr
        assert sql(state, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        assert sql(state, "PRAGMA freelist_count") == [(0,)]  # vacuumed once when converted
        assert json.loads(listed.stdout) == expected["runs"]
        shown = cli("runs", "show", "1", "--json", env=env)
        assert json.loads(shown.stdout) == expected["runs_show_1"]
        reverting = cli("revert", "1", "--dry-run", env=env)
        assert reverting.exit_code == 0, reverting.stderr
        assert reverting.stdout == expected["revert_1"]

        sandbox.clear_requests()
        resumed = cli("push", str(export), "--resume", "--yes", env=env)

        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        pending = expected["runs"][0]["counts"]["pending"]
        puts = [e for e in sandbox.requests() if e["method"] == "PUT"]
        assert len(puts) == pending  # what the interrupted run had left, nothing twice
        phones = {u["id"]: u.get("telephone") for u in sandbox.state()["users"] if u["id"] > 1000}
        assert phones == {1001 + n: f"+1 416 555 {7000 + n:04d}" for n in range(len(phones))}
        again = cli("runs", "show", "2", "--json", env=env)
        run = json.loads(again.stdout)
        assert (run["status"], run["resumed"], run["counts"]["applied"]) == ("finished", 1, pending)


USERS = st.dictionaries(
    st.sampled_from([*PROFILE_FIELDS, "id", "name", "updated_at", "status", "work_phone"]),
    TEXT | st.integers(0, 3),
    max_size=10,
)


@settings(max_examples=60, deadline=None)
@given(user=USERS, pushed=st.dictionaries(KEYS, TEXT, max_size=6))
def test_the_diff_reads_the_same_current_record_from_a_stored_snapshot(
    tmp_path_factory: pytest.TempPathFactory, user: dict[str, Any], pushed: dict[str, Any]
) -> None:
    # what the three-way diff and the identity check read of a snapshot (every field a
    # row can map, with no live response; a custom field's current value comes from the
    # API, never from the user) is what the full returned user would have given
    fields = [*PROFILE_FIELDS, "custom:3"]
    with open_state(tmp_path_factory.mktemp("s") / "state.db") as store:
        store.snapshots.save(7, user=user, pushed=pushed, source_hash=None)
        stored = store.snapshots.get(7)
    assert stored is not None
    full = json.loads(json.dumps(user))
    assert current_record(fields, None, stored.user, "d") == current_record(fields, None, full, "d")
    assert stored.pushed == pushed
