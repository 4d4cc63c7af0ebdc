"""The state file's schema, as numbered migrations applied in order.

``PRAGMA user_version`` records how many migrations a file has had. Each migration is a
list of SQL statements applied in one transaction, so a file is always at a whole version.
Never edit a released migration: append a new one.

No table has a column for the API key or any other credential, by design: the state file
holds personal data, not secrets, and a test checks that it stays that way.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Final

from communal_sync.errors import ConfigError
from communal_sync.state.packing import pack, pack_digest, pack_text, unpack_text
from communal_sync.state.records import kept_plan

Step = str | Callable[[sqlite3.Connection], None]
"""One step of a migration: an SQL statement, or a function converting rows in Python."""


def _pack_rows(conn: sqlite3.Connection) -> None:
    """Schema 5's data step: every stored JSON value packed (``packing``), digests as bytes.

    Snapshots move to the new table (one packed record each), results' before and after
    images and body hashes and runs' plans are rewritten in place.
    """
    rows = conn.execute(
        "SELECT user_id, user_json, pushed_json, source_hash, external_id, pushed_email,"
        " pushed_at, run_id FROM snapshots"
    )
    for user_id, user, pushed, digest, external_id, email, pushed_at, run_id in rows:
        record = {
            "user": json.loads(user),
            "pushed": json.loads(pushed),
            "external_id": external_id,
            "pushed_email": email,
            "pushed_at": datetime.fromisoformat(pushed_at).isoformat(),
        }
        conn.execute(
            "INSERT INTO snapshots_packed (user_id, record, source_hash, run_id)"
            " VALUES (?, ?, ?, ?)",
            (user_id, pack(record), pack_digest(digest), run_id),
        )
    for result_id, before, after, body_hash in conn.execute(
        "SELECT id, before_json, after_json, body_hash FROM results"
    ).fetchall():
        conn.execute(
            "UPDATE results SET before_json = ?, after_json = ?, body_hash = ? WHERE id = ?",
            (
                None if before is None else pack(json.loads(before)),
                None if after is None else pack(json.loads(after)),
                pack_digest(body_hash),
                result_id,
            ),
        )
    for run_id, plan in conn.execute(
        "SELECT id, plan_json FROM runs WHERE plan_json IS NOT NULL"
    ).fetchall():
        conn.execute("UPDATE runs SET plan_json = ? WHERE id = ?", (pack_text(plan), run_id))


def _keep_finished_plans(conn: sqlite3.Connection) -> None:
    """Schema 6's data step: a finished run keeps only ``records.kept_plan`` of its plan."""
    rows = conn.execute(
        "SELECT id, plan_json FROM runs WHERE status = 'finished' AND plan_json IS NOT NULL"
    ).fetchall()
    for run_id, stored in rows:
        try:
            plan = json.loads(unpack_text(stored))
        except (ValueError, zlib.error):
            continue  # not a plan this code can read: left as it was
        if isinstance(plan, dict):
            conn.execute(
                "UPDATE runs SET plan_json = ? WHERE id = ?", (pack_text(kept_plan(plan)), run_id)
            )


def _without_rowid(table: str, columns: str, key: str, index: str) -> tuple[str, ...]:
    """The steps that rebuild an identity table keyed by its primary key alone."""
    return (
        f"CREATE TABLE {table}_keyed ({columns}, PRIMARY KEY ({key})) WITHOUT ROWID",
        f"INSERT INTO {table}_keyed SELECT * FROM {table}",  # noqa: S608
        f"DROP TABLE {table}",
        f"ALTER TABLE {table}_keyed RENAME TO {table}",
        f"CREATE INDEX {table}_by_user ON {table} ({index})",
    )


_SOURCE_COLUMN: Final = "source TEXT NOT NULL CHECK (source IN ('link', 'push', 'discover'))"

MIGRATIONS: Final[tuple[tuple[Step, ...], ...]] = (
    # 1: identity map, snapshots, runs, per-request results.
    (
        """
        CREATE TABLE identity_external (
            external_id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('link', 'push', 'discover')),
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX identity_external_by_user ON identity_external (user_id)",
        """
        CREATE TABLE identity_email (
            email TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('link', 'push', 'discover')),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (email, user_id)
        )
        """,
        "CREATE INDEX identity_email_by_user ON identity_email (user_id)",
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('push', 'apply', 'revert')),
            status TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            input_name TEXT,
            input_sha256 TEXT,
            plan_json TEXT,
            exit_code INTEGER,
            counts_json TEXT,
            pid INTEGER NOT NULL,
            tool_version TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1
        )
        """,
        "CREATE INDEX runs_by_input ON runs (input_sha256, id)",
        """
        CREATE TABLE snapshots (
            user_id INTEGER PRIMARY KEY,
            user_json TEXT NOT NULL,
            pushed_json TEXT NOT NULL,
            source_hash TEXT,
            external_id TEXT,
            pushed_email TEXT,
            pushed_at TEXT NOT NULL,
            run_id INTEGER REFERENCES runs (id)
        )
        """,
        """
        CREATE TABLE results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            user_id INTEGER,
            operation TEXT NOT NULL,
            source_line INTEGER,
            body_hash TEXT,
            status TEXT NOT NULL CHECK (status IN ('applied', 'failed', 'skipped', 'conflict')),
            http_status INTEGER,
            error TEXT,
            before_json TEXT,
            after_json TEXT,
            finished_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX results_by_run ON results (run_id, operation)",
        "CREATE INDEX results_by_user ON results (user_id)",
    ),
    # 2: which API the identity map, snapshots and runs belong to.
    (
        """
        CREATE TABLE meta (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    ),
    # 3: writes about to be sent whose outcome is not journalled yet (see ``record_intent``).
    (
        """
        CREATE TABLE intents (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            operation TEXT NOT NULL,
            user_id INTEGER,
            body_hash TEXT NOT NULL,
            fields_json TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (run_id, operation)
        )
        """,
    ),
    # 4: Communal's own member list, as ``link --from-communal`` read it (see ``roster``).
    (
        """
        CREATE TABLE roster_memberships (
            membership_id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL,
            position INTEGER UNIQUE,
            read_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX roster_memberships_by_user ON roster_memberships (user_id)",
        """
        CREATE TABLE roster_users (
            user_id INTEGER PRIMARY KEY,
            email TEXT,
            found INTEGER NOT NULL CHECK (found IN (0, 1)),
            stale INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
            read_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX roster_users_by_email ON roster_users (email)",
    ),
    # 5: compact storage (``packing``): a snapshot is one packed record (the user, the
    # pushed values, its email, key and time), results' images, runs' plans and every
    # sha-256 digest are packed BLOBs in their columns. After it, ``connect`` vacuums.
    (
        """
        CREATE TABLE snapshots_packed (
            user_id INTEGER PRIMARY KEY,
            record BLOB NOT NULL,
            source_hash BLOB,
            run_id INTEGER REFERENCES runs (id)
        )
        """,
        _pack_rows,
        "DROP TABLE snapshots",
        "ALTER TABLE snapshots_packed RENAME TO snapshots",
    ),
    # 6: each attempt of a run (the first, and every resume under the same id), so `runs`
    # can say a run was interrupted and resumed, and how long each attempt took. A run
    # made before has one attempt, from its start to its end as the runs row has them.
    (
        """
        CREATE TABLE run_attempts (
            run_id INTEGER NOT NULL REFERENCES runs (id),
            attempt INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
            exit_code INTEGER,
            PRIMARY KEY (run_id, attempt)
        )
        """,
        "INSERT INTO run_attempts (run_id, attempt, started_at, ended_at, status, exit_code)"
        " SELECT id, attempts, started_at, finished_at, status, exit_code FROM runs",
    ),
    # 7: a finished run keeps only what ``runs`` and ``revert`` read of its plan
    # (``records.KEPT_PLAN_KEYS``); the identity tables are stored in their primary key's
    # b-tree (``WITHOUT ROWID``: no rowid table beside the key's index). After it,
    # ``connect`` vacuums.
    (
        _keep_finished_plans,
        *_without_rowid(
            "identity_external",
            f"external_id TEXT NOT NULL, user_id INTEGER NOT NULL, {_SOURCE_COLUMN},"
            " updated_at TEXT NOT NULL",
            "external_id",
            "user_id",
        ),
        *_without_rowid(
            "identity_email",
            f"email TEXT NOT NULL, user_id INTEGER NOT NULL, {_SOURCE_COLUMN},"
            " updated_at TEXT NOT NULL",
            "email, user_id",
            "user_id",
        ),
    ),
)

COMPACTED_AT: Final = 5
"""The schema version that packed existing rows: a file migrated across it is vacuumed."""

SLIMMED_AT: Final = 7
"""The schema version that dropped finished runs' plans: a file migrated across it is
vacuumed too (the plans were most of an older file's pages)."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The version this code writes; a file with a higher ``user_version`` is refused."""

OUR_TABLES: Final = frozenset(
    {
        "identity_external",
        "identity_email",
        "runs",
        "snapshots",
        "results",
        "sqlite_sequence",
        "meta",
        "intents",
        "roster_memberships",
        "roster_users",
        "run_attempts",
    }
)


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the file's ``PRAGMA user_version`` (0 for a new, empty file)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the state file at ``path`` up to ``SCHEMA_VERSION``; return the version applied.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads the version
    inside it, so two processes opening one new file never apply a migration twice.
    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    version = schema_version(conn)
    _refuse_newer(version, path)
    if version == 0:
        _refuse_foreign(conn, path)
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            _refuse_newer(version, path)
            if version < SCHEMA_VERSION:
                for step in MIGRATIONS[version]:
                    if isinstance(step, str):
                        conn.execute(step)
                    else:
                        step(conn)
                version += 1
                # PRAGMA takes no parameters; version is an int we computed.
                conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version


def check_schema(version: int, tables: set[str], path: Path) -> None:
    """Refuse a file whose ``user_version`` or tables are not a communal-sync state file's.

    Another program's database (any table we did not create, whatever its version) and
    a file written by a newer communal-sync are refused; ours at any older version pass.
    """
    foreign = tables - OUR_TABLES
    if foreign:
        raise ConfigError(
            f"The state file {path} is a SQLite database of another program "
            f"(it has tables {', '.join(sorted(foreign)[:10])}); it was left as it is. "
            "Pass --state with a path for communal-sync's own file."
        )
    _refuse_newer(version, path)


def _refuse_newer(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"The state file {path} was written by a newer communal-sync "
            f"(schema {version}; this version reads up to {SCHEMA_VERSION}). "
            "Upgrade communal-sync, or pass --state with another file."
        )


def _refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite file that holds someone else's tables rather than add ours to it."""
    names = {
        str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    foreign = names - OUR_TABLES
    if foreign:
        raise ConfigError(
            f"The state file {path} is a SQLite database of another program "
            f"(it has tables {', '.join(sorted(foreign))}). "
            "Pass --state with a path for communal-sync's own file."
        )
