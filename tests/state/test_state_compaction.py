"""Schema 5's compact storage: packed values, digests as bytes, old files migrated, free
pages given back after a run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from communal_sync.hashing import canonical_hash
from communal_sync.state import SCHEMA_VERSION, open_state
from communal_sync.state.migrations import MIGRATIONS
from communal_sync.state.packing import pack, pack_digest, unpack, unpack_digest

USER = {
    "id": 7,
    "first_name": "Zoë",
    "last_name": "Brown",
    "email": "zoe@example.org",
    "profile_city": "Montréal",
    "middle_name": None,
    "tags": ["a", "b"],
    "updated_at": "2026-03-25T12:00:00.000000Z",
}
DIGEST = canonical_hash({"values": {"email": "zoe@example.org"}})
BEFORE = {"fields": {"profile_city": "Oslo"}, "unknown": [], "updated_at": "2026-01-01"}
AFTER = {"profile_city": "Montréal", "id": 7, "updated_at": "2026-03-25T12:00:00.000000Z"}
PLAN_TEXT = (
    '{"options":{"default_region":"NO"},"users":[{"user_id":7,"name":"Zoë Brown"}],'
    '"note":"any JSON text"}'
)
KEPT_TEXT = '{"options": {"default_region": "NO"}}'
"""What a finished run keeps of ``PLAN_TEXT`` since schema 6."""


def column_types(path: Path, sql: str) -> list[tuple[str, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(row) for row in conn.execute(sql)]
    finally:
        conn.close()


@pytest.mark.parametrize(
    "value", [USER, BEFORE, [], {}, "text", None, ["é", 1, 2.5, True, {"k": None}]]
)
def test_a_packed_value_reads_back_equal(value: object) -> None:
    packed = pack(value)
    assert packed[0] == 1  # the format byte
    assert unpack(packed) == value


def test_json_text_written_before_schema_5_still_reads() -> None:
    assert unpack(json.dumps(USER)) == USER


def test_a_user_record_packs_to_a_fraction_of_its_json() -> None:
    assert len(pack(USER)) < len(json.dumps(USER)) / 2


def test_digests_are_stored_as_32_bytes_and_anything_else_as_it_is() -> None:
    assert pack_digest(DIGEST) == bytes.fromhex(DIGEST)
    assert unpack_digest(pack_digest(DIGEST)) == DIGEST
    assert pack_digest("h1") == "h1"
    assert pack_digest(None) is None
    assert pack_digest(DIGEST.upper()) == DIGEST.upper()  # not our form: kept as given


def test_a_snapshot_is_one_packed_record_and_reads_back_as_saved(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path) as store:
        saved = store.snapshots.save(
            7, user=USER, pushed={"email": "zoe@example.org"}, source_hash=DIGEST,
            external_id="E-7", pushed_email="zoe@example.org",
        )  # fmt: skip
        loaded = store.snapshots.get(7)
        assert loaded == saved
        assert store.snapshots.get_many([7, 8, 7]) == {7: saved}
        assert store.snapshots.source_hash_for(7) == DIGEST
        assert store.snapshots.source_hashes() == {7: DIGEST}
    assert column_types(
        path, "SELECT typeof(record), typeof(source_hash), length(source_hash) FROM snapshots"
    ) == [("blob", "blob", 32)]


def test_get_many_reads_more_ids_than_one_query_binds(tmp_path: Path) -> None:
    with open_state(tmp_path / "state.db") as store:
        for user_id in range(1, 1201, 2):
            store.snapshots.save(
                user_id, user={"email": f"u{user_id}@x.org"}, pushed={}, source_hash=None
            )
        found = store.snapshots.get_many(list(range(1, 1201)))
    assert sorted(found) == list(range(1, 1201, 2))
    assert found[999].user == {"email": "u999@x.org"}


def test_results_and_plans_are_packed_and_read_back_as_recorded(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path) as store:
        run_id = store.journal.start_run("push", plan_json=PLAN_TEXT)
        store.journal.record_result(
            run_id, operation="user:7", status="applied", user_id=7, body_hash=DIGEST,
            before=BEFORE, after=AFTER,
        )  # fmt: skip
        (result,) = store.journal.results(run_id)
        assert (result.before, result.after, result.body_hash) == (BEFORE, AFTER, DIGEST)
        assert store.journal.applied_operations(run_id) == {("user:7", DIGEST)}
        assert store.journal.applied_after(run_id, "user:7") == AFTER
        assert store.journal.load_plan(run_id) == PLAN_TEXT
    assert column_types(
        path,
        "SELECT typeof(images), typeof(body_hash), typeof(operation), typeof(status),"
        " typeof(finished_at) FROM results JOIN result_bodies ON result_id = results.id",
    ) == [("blob", "blob", "null", "integer", "integer")]
    assert column_types(path, "SELECT typeof(plan_json) FROM runs") == [("blob",)]


def write_version_4_file(path: Path) -> None:
    """A state file as communal-sync wrote it before schema 5: JSON text everywhere."""
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:4]:
        for statement in migration:
            assert isinstance(statement, str)
            conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (id, kind, status, started_at, finished_at, plan_json, exit_code,"
        " counts_json, pid, tool_version) VALUES (1, 'push', 'finished',"
        " '2026-03-25T12:00:00+00:00', '2026-03-25T12:01:00+00:00', ?, 0, '{\"applied\":1}',"
        " 1, '0.9')",
        (PLAN_TEXT,),
    )
    conn.execute(
        "INSERT INTO snapshots (user_id, user_json, pushed_json, source_hash, external_id,"
        " pushed_email, pushed_at, run_id) VALUES (7, ?, ?, ?, 'E-7', 'zoe@example.org',"
        " '2026-03-25T12:00:30.123456+00:00', 1)",
        (json.dumps(USER), json.dumps({"email": "zoe@example.org"}), DIGEST),
    )
    conn.execute(
        "INSERT INTO results (run_id, user_id, operation, source_line, body_hash, status,"
        " http_status, before_json, after_json, finished_at) VALUES (1, 7, 'user:7', 2, ?,"
        " 'applied', 200, ?, ?, '2026-03-25T12:00:30+00:00')",
        (DIGEST, json.dumps(BEFORE), json.dumps(AFTER)),
    )
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()


def test_a_version_4_file_is_packed_keeping_its_snapshots_runs_and_results(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    write_version_4_file(path)

    with open_state(path) as store:
        snapshot = store.snapshots.get(7)
        assert snapshot is not None
        profile = {k: USER[k] for k in ("first_name", "last_name", "email", "profile_city")}
        kept = {**profile, "middle_name": None}  # since schema 8: the profile fields only
        assert (snapshot.user, snapshot.pushed) == (kept, {"email": "zoe@example.org"})
        assert (snapshot.source_hash, snapshot.external_id, snapshot.pushed_email) == (
            DIGEST,
            "E-7",
            "zoe@example.org",
        )
        assert snapshot.pushed_at.isoformat() == "2026-03-25T12:00:30.123456+00:00"
        assert snapshot.run_id == 1
        (run,) = store.journal.list_runs()
        assert (run.status, run.counts) == ("finished", {"applied": 1})
        assert store.journal.load_plan(1) == KEPT_TEXT  # finished: its options alone
        (result,) = store.journal.results(1)
        assert (result.before, result.after, result.operation) == (BEFORE, AFTER, "user:7")
        assert result.finished_at.isoformat() == "2026-03-25T12:00:30+00:00"
        # the run finished: never resumed, so its body hashes went (schema 8)
        assert (result.body_hash, store.journal.applied_operations(1)) == (None, {("user:7", "")})

    assert column_types(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert column_types(path, "PRAGMA auto_vacuum") == [(2,)]  # switched by the VACUUM
    assert column_types(path, "PRAGMA freelist_count") == [(0,)]
    assert column_types(path, "SELECT typeof(record) FROM snapshots") == [("blob",)]


def test_a_finished_run_leaves_no_free_pages(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path) as store:
        run_id = store.journal.start_run("push")
        for n in range(3000):  # intents journalled then settled: pages used, then freed
            store.journal.record_intent(
                run_id, operation=f"user:{n}", body_hash=DIGEST, fields=["x" * 200]
            )
        for n in range(3000):
            store.journal.record_result(run_id, operation=f"user:{n}", status="skipped")
        store.journal.finish_run(run_id, status="finished", exit_code=0, counts={})
        assert store.journal.unsettled_operations(run_id) == set()
    assert column_types(path, "PRAGMA freelist_count") == [(0,)]
