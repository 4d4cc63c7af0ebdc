"""The state file: where it lives, how it is created and opened, identity map, snapshots."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from communal_sync.errors import ConfigError
from communal_sync.state import (
    SCHEMA_VERSION,
    StateStore,
    open_state,
    resolve_state_path,
)
from communal_sync.state.migrations import MIGRATIONS

EXPECTED_TABLES = {
    "identity_external",
    "identity_email",
    "runs",
    "snapshots",
    "results",
    "meta",
    "intents",
    "roster_memberships",
    "roster_users",
    "run_attempts",
    "result_bodies",
}


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as store:
        yield store


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tables_and_columns(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not row[0].startswith("sqlite_")
        ]
        return {
            name: [col[1] for col in conn.execute(f"PRAGMA table_info({name})")] for name in names
        }
    finally:
        conn.close()


# --- where the file lives -------------------------------------------------------------


def test_explicit_state_path_wins_over_environment() -> None:
    env = {"COMMUNAL_SYNC_STATE": "/from/env.db"}
    assert resolve_state_path("/from/flag.db", env) == Path("/from/flag.db")


def test_environment_variable_names_state_path_when_no_flag() -> None:
    assert resolve_state_path(None, {"COMMUNAL_SYNC_STATE": "/from/env.db"}) == Path("/from/env.db")


def test_default_state_path_is_in_user_data_dir() -> None:
    expected = Path(platformdirs.user_data_dir("communal-sync")) / "state.db"
    assert resolve_state_path(None, {}) == expected
    assert resolve_state_path(None, {"COMMUNAL_SYNC_STATE": ""}) == expected


def test_state_path_expands_home_directory() -> None:
    resolved = resolve_state_path("~/sync/state.db", {})
    assert resolved == Path.home() / "sync" / "state.db"


# --- creating and opening ---------------------------------------------------------------


def test_new_state_file_is_private_and_its_new_folders_are_too(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    old_umask = os.umask(0o022)
    try:
        with open_state(path) as store:
            store.journal.start_run("push")
    finally:
        os.umask(old_umask)
    assert mode_of(path) == 0o600
    assert mode_of(tmp_path / "a") == 0o700
    assert mode_of(tmp_path / "a" / "b") == 0o700


def test_write_ahead_log_is_as_private_as_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path) as store:
        store.journal.start_run("push")
        wal = path.with_name("state.db-wal")
        assert wal.exists()
        assert mode_of(wal) == 0o600


def test_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with open_state(folder / "state.db"):
        pass
    assert mode_of(folder) == 0o755


def test_state_file_readable_by_others_is_tightened_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    path.touch()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING), open_state(path):
        pass
    assert mode_of(path) == 0o600
    assert "could be read by other users (mode 644); it is now 0600" in caplog.text


def test_new_state_file_gets_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path):
        pass
    assert SCHEMA_VERSION == len(MIGRATIONS) == 8
    assert set(tables_and_columns(path)) == EXPECTED_TABLES
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    finally:
        conn.close()


def test_reopening_keeps_data_and_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path) as store:
        store.identity.link(7, external_id="E-7", source="link")
    with open_state(path) as store:
        assert store.identity.lookup_external_id("E-7") == 7
    with open_state(path) as store:
        assert store.identity.lookup_external_id("E-7") == 7
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_state_file_from_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError) as caught:
        open_state(path)
    message = str(caught.value)
    assert f"The state file {path} was written by a newer communal-sync" in message
    assert "Upgrade communal-sync" in message


@pytest.mark.parametrize(
    "content", [b"not a database\n" * 200, b"id,email\n1,a@example.org\n"], ids=["big", "small"]
)
def test_file_that_is_not_sqlite_is_refused_naming_file_and_fix(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        open_state(path)
    message = str(caught.value)
    assert f"The state file {path} is not a communal-sync state database" in message
    assert "Move it aside" in message
    assert path.read_bytes() == content


def test_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    with pytest.raises(ConfigError, match="SQLite database of another program"):
        open_state(path)
    assert set(tables_and_columns(path)) == {"invoices"}


def test_state_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot open the state file"):
        open_state(tmp_path)


def test_no_column_could_hold_a_credential(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with open_state(path):
        pass
    forbidden = ("key", "token", "secret", "password", "auth", "bearer", "credential")
    for table, columns in tables_and_columns(path).items():
        for name in [table, *columns]:
            assert not any(word in name.lower() for word in forbidden), (table, name)


# --- identity map ---------------------------------------------------------------------


def test_unknown_external_id_and_email_map_to_nobody(state: StateStore) -> None:
    assert state.identity.lookup_external_id("nope") is None
    assert state.identity.lookup_email("nobody@example.org") == []


def test_link_maps_external_id_and_email_ignoring_email_case(state: StateStore) -> None:
    state.identity.link(101, email_key="Ada@Example.ORG ", external_id="S-1", source="link")
    assert state.identity.lookup_external_id("S-1") == 101
    assert state.identity.lookup_email("ada@example.org") == [101]
    assert state.identity.lookup_email("ADA@example.org") == [101]


def test_external_id_repointed_to_another_user_replaces_old_mapping(state: StateStore) -> None:
    state.identity.link(101, external_id="S-1", source="link")
    state.identity.link(202, external_id="S-1", source="push")
    assert state.identity.lookup_external_id("S-1") == 202


def test_pushed_email_moves_to_new_user(state: StateStore) -> None:
    state.identity.link(101, email_key="shared@example.org", source="link")
    state.identity.link(202, email_key="shared@example.org", source="push")
    assert state.identity.lookup_email("shared@example.org") == [202]


def test_changed_account_email_no_longer_finds_the_user_by_old_email(state: StateStore) -> None:
    state.identity.link(101, email_key="old@example.org", source="push")
    state.identity.link(101, email_key="new@example.org", source="push")
    assert state.identity.lookup_email("old@example.org") == []
    assert state.identity.lookup_email("new@example.org") == [101]


def test_discovered_email_shared_by_two_users_is_ambiguous(state: StateStore) -> None:
    state.identity.link(303, email_key="parent@example.org", source="discover")
    state.identity.link(202, email_key="parent@example.org", source="discover")
    assert state.identity.lookup_email("parent@example.org") == [202, 303]


def test_discovery_does_not_undo_a_confirmed_email(state: StateStore) -> None:
    state.identity.link(101, email_key="a@example.org", source="push")
    state.identity.link(101, email_key="a@example.org", source="discover")
    state.identity.link(101, email_key="b@example.org", source="push")
    # "a" was confirmed by a push, so the newer confirmed email replaces it.
    assert state.identity.lookup_email("a@example.org") == []


def test_link_needs_email_or_external_id(state: StateStore) -> None:
    with pytest.raises(ValueError, match="email_key or an external_id"):
        state.identity.link(1, source="link")


# --- snapshots ------------------------------------------------------------------------


def test_user_never_pushed_has_no_snapshot(state: StateStore) -> None:
    assert state.snapshots.get(101) is None
    assert state.snapshots.source_hash_for(101) is None


def test_snapshot_round_trip(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    user = {"id": 101, "first_name": "Zoë", "profile_zip": "02139", "profile_city": None}
    saved = state.snapshots.save(
        101,
        user=user,
        pushed={"first_name": "Zoë", "profile_zip": "02139", "custom:3": "blue"},
        source_hash="abc123",
        external_id="S-1",
        pushed_email="zoe@example.org",
        run_id=run_id,
    )
    loaded = state.snapshots.get(101)
    assert loaded == saved
    assert loaded is not None
    # the profile fields of the returned user, what the three-way diff reads; not its id
    assert loaded.user == {"first_name": "Zoë", "profile_zip": "02139", "profile_city": None}
    assert loaded.pushed == {"first_name": "Zoë", "profile_zip": "02139", "custom:3": "blue"}
    assert (loaded.source_hash, loaded.external_id, loaded.pushed_email, loaded.run_id) == (
        "abc123",
        "S-1",
        "zoe@example.org",
        run_id,
    )
    assert state.snapshots.source_hash_for(101) == "abc123"
    assert state.snapshots.source_hashes() == {101: "abc123"}


def test_later_push_keeps_base_of_fields_it_did_not_send(state: StateStore) -> None:
    state.snapshots.save(
        5,
        user={"id": 5, "telephone": "1", "profile_city": "Oslo"},
        pushed={"telephone": "1", "profile_city": "Oslo"},
        source_hash="h1",
    )
    second = state.snapshots.save(
        5,
        user={"id": 5, "telephone": "2", "profile_city": "Oslo"},
        pushed={"telephone": "2"},
        source_hash="h2",
    )
    assert second.pushed == {"telephone": "2", "profile_city": "Oslo"}
    assert second.user == {"telephone": "2", "profile_city": "Oslo"}
    assert state.snapshots.source_hash_for(5) == "h2"


def test_a_version_1_file_gains_the_api_binding_table(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with open_state(path) as store:
        assert store.binding.bound_api() is None
        store.binding.bind("https://api.getcommunal.com/api")
        assert store.binding.bound_api() == "https://api.getcommunal.com/api"


def test_a_version_2_file_gains_the_intents_table_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (kind, status, started_at, pid, tool_version)"
        " VALUES ('push', 'running', '2026-03-25T12:00:00+00:00', 1, '0.9')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    with open_state(path) as store:
        (run,) = store.journal.list_runs()
        assert (
            store.journal.unsettled_operations(run.id) == set()
        )  # an old run: nothing known in flight
        store.journal.record_intent(
            run.id, operation="user:7", body_hash="h", fields=["profile_city"]
        )
        assert store.journal.unsettled_operations(run.id) == {("user:7", "h")}
    assert set(tables_and_columns(path)) == EXPECTED_TABLES
