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
from communal_sync.state.packing import (
    pack,
    pack_digest,
    pack_snapshot,
    pack_text,
    pack_time,
    unpack,
    unpack_text,
)
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


_PROFILE_KEYS: Final = frozenset(
    (
        "first_name",
        "last_name",
        "email",
        "middle_name",
        "preferred_name",
        "telephone",
        "date_of_birth",
        "profile_address",
        "profile_address_line_2",
        "profile_city",
        "profile_state",
        "profile_zip",
        "profile_country",
    )
)
"""The user keys a snapshot keeps since schema 8 (``snapshots.KEPT_USER_FIELDS`` then),
written out so this released step never changes with the code."""

_STATUS_CODES: Final = {"applied": 0, "failed": 1, "skipped": 2, "conflict": 3}
_SOURCE_CODE_SQL: Final = "CASE source WHEN 'push' THEN 0 WHEN 'link' THEN 1 ELSE 2 END"


def _relayout(conn: sqlite3.Connection) -> None:
    """Schema 8's data step: snapshots and results in their compact layout.

    A snapshot keeps the user's profile fields only, by position (``pack_snapshot``),
    its time as microseconds; a result's images are packed together, its status a code,
    its time microseconds, a profile PUT's operation NULL (its user id says it), and its
    body hash moves to ``result_bodies``, kept only for runs that did not finish (the
    ones a resume reads). Ids (and the results' sequence) are kept.
    """
    conn.execute(
        "CREATE TABLE snapshots_v8 (user_id INTEGER PRIMARY KEY, record BLOB NOT NULL,"
        " source_hash BLOB, run_id INTEGER REFERENCES runs (id), pushed_at INTEGER NOT NULL)"
    )
    for user_id, stored, digest, run_id in conn.execute(
        "SELECT user_id, record, source_hash, run_id FROM snapshots"
    ).fetchall():
        record = unpack(stored)
        user = {k: v for k, v in record["user"].items() if k in _PROFILE_KEYS}
        conn.execute(
            "INSERT INTO snapshots_v8 (user_id, record, source_hash, run_id, pushed_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                user_id,
                pack_snapshot(
                    user, record["pushed"], record.get("external_id"), record.get("pushed_email")
                ),
                digest,
                run_id,
                pack_time(record["pushed_at"]),
            ),
        )
    conn.execute("DROP TABLE snapshots")
    conn.execute("ALTER TABLE snapshots_v8 RENAME TO snapshots")
    sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'results'").fetchone()
    conn.execute(
        "CREATE TABLE results_v8 (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " run_id INTEGER NOT NULL REFERENCES runs (id), user_id INTEGER, operation TEXT,"
        " source_line INTEGER, status INTEGER NOT NULL CHECK (status IN (0, 1, 2, 3)),"
        " http_status INTEGER, error TEXT, images BLOB, finished_at INTEGER NOT NULL)"
    )
    bodies: list[tuple[int, bytes | str]] = []
    for row in conn.execute(
        "SELECT r.id, r.run_id, r.user_id, r.operation, r.source_line, r.body_hash, r.status,"
        " r.http_status, r.error, r.before_json, r.after_json, r.finished_at, s.status"
        " FROM results r JOIN runs s ON s.id = r.run_id ORDER BY r.id"
    ).fetchall():
        (result_id, run_id, user_id, operation, line, body_hash, status, http, error) = row[:9]
        before, after, finished_at, run_status = row[9:]
        images = None
        if before is not None or after is not None:
            images = pack(
                [
                    None if before is None else unpack(before),
                    None if after is None else unpack(after),
                ]
            )
        if user_id is not None and operation == f"user:{user_id}":
            operation = None
        conn.execute(
            "INSERT INTO results_v8 (id, run_id, user_id, operation, source_line, status,"
            " http_status, error, images, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                result_id,
                run_id,
                user_id,
                operation,
                line,
                _STATUS_CODES[status],
                http,
                error,
                images,
                pack_time(finished_at),
            ),
        )
        if body_hash is not None and run_status != "finished":
            bodies.append(
                (
                    result_id,
                    body_hash
                    if isinstance(body_hash, bytes)
                    else pack_digest(body_hash) or body_hash,
                )
            )
    conn.execute("DROP TABLE results")
    conn.execute("ALTER TABLE results_v8 RENAME TO results")
    conn.execute("CREATE INDEX results_by_run ON results (run_id, operation)")
    conn.execute(
        "CREATE TABLE result_bodies (result_id INTEGER PRIMARY KEY REFERENCES results (id),"
        " body_hash BLOB NOT NULL)"
    )
    conn.executemany("INSERT INTO result_bodies (result_id, body_hash) VALUES (?, ?)", bodies)
    if sequence is not None:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'results'")
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('results', ?)", (sequence[0],)
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
    # 8: the compact layout (``_relayout``): a snapshot of what the three-way diff reads,
    # results with packed images, coded status, integer times and their body hashes
    # beside them (dropped when the run finishes), identity tables without their unread
    # ``updated_at`` and with coded sources, and no index no query uses
    # (``results_by_user``, ``identity_external_by_user``). After it, ``connect`` vacuums.
    (
        _relayout,
        "CREATE TABLE identity_external_v8 (external_id TEXT NOT NULL,"
        " user_id INTEGER NOT NULL, source INTEGER NOT NULL CHECK (source IN (0, 1, 2)),"
        " PRIMARY KEY (external_id)) WITHOUT ROWID",
        "INSERT INTO identity_external_v8 (external_id, user_id, source)"  # noqa: S608
        f" SELECT external_id, user_id, {_SOURCE_CODE_SQL} FROM identity_external",
        "DROP TABLE identity_external",
        "ALTER TABLE identity_external_v8 RENAME TO identity_external",
        "CREATE TABLE identity_email_v8 (email TEXT NOT NULL, user_id INTEGER NOT NULL,"
        " source INTEGER NOT NULL CHECK (source IN (0, 1, 2)),"
        " PRIMARY KEY (email, user_id)) WITHOUT ROWID",
        "INSERT INTO identity_email_v8 (email, user_id, source)"  # noqa: S608
        f" SELECT email, user_id, {_SOURCE_CODE_SQL} FROM identity_email",
        "DROP TABLE identity_email",
        "ALTER TABLE identity_email_v8 RENAME TO identity_email",
        "CREATE INDEX identity_email_by_user ON identity_email (user_id)",
    ),
)

COMPACTED_AT: Final = 5
"""The schema version that packed existing rows: a file migrated across it is vacuumed."""

SLIMMED_AT: Final = 7
"""The schema version that dropped finished runs' plans: a file migrated across it is
vacuumed too (the plans were most of an older file's pages)."""

RELAID_AT: Final = 8
"""The schema version of the compact layout: a file migrated across it is vacuumed (its
old rows were rewritten, leaving their pages free)."""

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
        "result_bodies",
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
