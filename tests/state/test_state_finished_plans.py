"""Schema 6: a finished run keeps only its plan's options, identity tables without rowids,
older files converted when opened."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from communal_sync.state import SCHEMA_VERSION, StateStore, open_state
from communal_sync.state.migrations import MIGRATIONS
from communal_sync.state.packing import pack_text
from communal_sync.state.records import kept_plan

OPTIONS = {"default_region": "NO", "on_conflict": "skip"}
PLAN = {"options": OPTIONS, "users": [{"user_id": 7, "name": "Zoë"}], "unchanged": [{}] * 50}
PLAN_TEXT = json.dumps(PLAN)
KEPT = {"options": OPTIONS}


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as store:
        yield store


def sql(path: Path, query: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(row) for row in conn.execute(query)]
    finally:
        conn.close()


def test_a_finished_run_keeps_what_it_is_given_in_place_of_its_plan(state: StateStore) -> None:
    run_id = state.journal.start_run("push", plan_json=PLAN_TEXT)
    state.journal.finish_run(
        run_id, status="finished", exit_code=0, counts={"updated": 1}, kept_plan=kept_plan(PLAN)
    )
    assert json.loads(state.journal.load_plan(run_id) or "") == KEPT
    assert state.journal.get_run(run_id).counts == {"updated": 1}


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_a_run_that_did_not_finish_keeps_its_whole_plan_to_resume_from(
    state: StateStore, status: str
) -> None:
    run_id = state.journal.start_run("push", plan_json=PLAN_TEXT)
    state.journal.finish_run(run_id, status=status, exit_code=130, counts={})  # type: ignore[arg-type]
    assert state.journal.load_plan(run_id) == PLAN_TEXT


def test_kept_plan_holds_the_options_alone_and_nothing_when_there_are_none() -> None:
    assert json.loads(kept_plan(PLAN)) == KEPT
    assert kept_plan({"users": []}) == "{}"


def write_version_5_file(path: Path) -> None:
    """A state file as schema 5 wrote it: whole plans kept, identity tables with rowids."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for migration in MIGRATIONS[:5]:
        for step in migration:
            if isinstance(step, str):
                conn.execute(step)
            else:
                step(conn)
    for run_id, status in ((1, "finished"), (2, "interrupted"), (3, "finished")):
        conn.execute(
            "INSERT INTO runs (id, kind, status, started_at, plan_json, pid, tool_version)"
            " VALUES (?, 'push', ?, '2026-03-25T12:00:00+00:00', ?, 1, '0.9')",
            (run_id, status, pack_text(PLAN_TEXT) if run_id < 3 else b"\x09not packed"),
        )
    conn.execute(
        "INSERT INTO identity_external VALUES ('E-7', 7, 'push', '2026-03-25T12:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO identity_email VALUES ('zoe@example.org', 7, 'link',"
        " '2026-03-25T12:00:00+00:00')"
    )
    conn.execute("PRAGMA user_version = 5")
    conn.execute("COMMIT")
    conn.close()


def test_a_version_5_file_keeps_finished_runs_options_and_interrupted_runs_whole_plans(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    write_version_5_file(path)

    with open_state(path) as store:
        assert json.loads(store.journal.load_plan(1) or "") == KEPT
        assert store.journal.load_plan(2) == PLAN_TEXT  # still resumable
        assert store.identity.lookup_external_id("E-7") == 7
        assert store.identity.lookup_email("zoe@example.org") == [7]
    # a plan this code cannot read is left as it was
    assert sql(path, "SELECT plan_json FROM runs WHERE id = 3") == [(b"\x09not packed",)]
    assert sql(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert sql(path, "PRAGMA freelist_count") == [(0,)]  # vacuumed once when converted


def test_the_identity_tables_have_no_rowid_and_only_the_index_a_query_uses(
    state: StateStore,
) -> None:
    path = state.path
    tables = dict(sql(path, "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    for table in ("identity_external", "identity_email"):
        assert str(tables[table]).endswith("WITHOUT ROWID")
    indexes = {row[0] for row in sql(path, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert "identity_email_by_user" in indexes  # forget_emails, an authoritative link
    assert "identity_external_by_user" not in indexes  # no query reads it by user (schema 8)
    state.identity.link(7, email_key="zoe@example.org", external_id="E-7", source="push")
    assert state.identity.lookup_external_id("E-7") == 7
    assert state.identity.lookup_email("zoe@example.org") == [7]
