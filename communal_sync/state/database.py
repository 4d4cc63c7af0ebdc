"""The SQLite connection under the state store: opening, pragmas, transactions, threads."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self, TypeVar

from communal_sync.errors import ConfigError
from communal_sync.state.group_commit import GroupCommit
from communal_sync.state.location import STATE_ENV_VAR, create_private_file
from communal_sync.state.migrations import RELAID_AT, check_schema, migrate, schema_version

BUSY_TIMEOUT_MS: Final = 10_000
"""How long a write waits for another process (``runs`` reading, say) before giving up."""

SYNCHRONOUS: Final = "FULL"
"""Every committed result is on disk before the next request goes out: it survives a
SIGKILL and a power cut, so a resumed run never sends a recorded create again."""

CRASH_SAFE_SYNCHRONOUS: Final = "NORMAL"
"""For writes whose loss on a power cut is harmless (``write_unsynced``): in WAL mode a
commit at NORMAL reaches the OS, so it survives the process being killed, but it is only
flushed to the disk with the next FULL commit (the WAL is append-only, so never after it)."""

INCREMENTAL: Final = 2
"""``PRAGMA auto_vacuum``'s value for incremental: free pages are kept until asked for."""

CORRUPT_ERRORS: Final = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
SQLITE_MAGIC: Final = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

Clock = Callable[[], datetime]
T = TypeVar("T")


def utc_now() -> datetime:
    """Return the current time in UTC; the default clock of the store."""
    return datetime.now(UTC)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed, mode 0600) and migrate the state file at ``path``.

    Raises ``ConfigError`` naming the file and the fix when it is not a SQLite database,
    is damaged, belongs to another program, or was written by a newer communal-sync; such
    a file is refused by ``check_adoptable`` before anything touches it.
    """
    check_adoptable(path)
    create_private_file(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise _open_error(path, error) from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        # Takes effect only on a new, empty file (before its first table); an older file
        # is switched by the VACUUM after its compacting migration.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        conn.execute("PRAGMA foreign_keys = ON")
        before = schema_version(conn)
        migrate(conn, path)
        if 0 < before < RELAID_AT:
            conn.execute("VACUUM")  # rewritten rows and dropped plans left most pages free
    except sqlite3.Error as error:
        conn.close()
        raise _open_error(path, error) from None
    except BaseException:
        conn.close()
        raise
    return conn


def check_adoptable(path: Path) -> None:
    """Refuse, having changed nothing, a file at ``path`` that is not a state file of ours.

    The file is read as bytes, then opened read-only (``immutable`` when no write-ahead
    log is beside it, so SQLite creates no ``-wal`` or ``-shm`` file): a file that is not
    SQLite, is damaged, holds another program's tables or a newer schema is refused before
    it could be switched to WAL, made 0600, migrated or given a lock file. A missing or
    empty file is a new state file and passes.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as error:
        raise ConfigError(
            f"Cannot open the state file {path}: {error.strerror or error}. "
            f"Pass --state with a readable file path, or set {STATE_ENV_VAR}."
        ) from None
    if not head:
        return
    if head != SQLITE_MAGIC:
        raise _not_ours(path, "it is not a SQLite database")
    wal = path.with_name(path.name + "-wal")
    query = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True)
        try:
            version = schema_version(conn)
            tables = {
                str(row[0])
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise _open_error(path, error) from None
    check_schema(version, tables, path)


def _not_ours(path: Path, why: object) -> ConfigError:
    return ConfigError(
        f"The state file {path} is not a communal-sync state database, or it is damaged "
        f"({why}); it was left as it is. Move it aside (a new one is created on the next "
        f"run, which then checks every user again), or pass --state or set {STATE_ENV_VAR} "
        "to use another file."
    )


def _open_error(path: Path, error: sqlite3.Error) -> ConfigError:
    if _is_corrupt(error):
        return _not_ours(path, error)
    return ConfigError(
        f"Cannot open the state file {path}: {error}. Check that it is writable and that "
        f"the disk has space, or pass --state with another file."
    )


class Database:
    """One shared connection, serialized by a lock so worker threads can record results.

    Every write is its own committed transaction unless grouped with ``transaction()``;
    reads see everything committed so far. The state store's parts (identity map,
    snapshots, journal, API binding) each hold this one object and speak SQL through it.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, clock: Clock) -> None:
        self._path = path
        self._conn = conn
        self._clock = clock
        self._lock = threading.RLock()
        self._depth = 0
        self._group = GroupCommit(self)

    @property
    def path(self) -> Path:
        """The state file this store reads and writes."""
        return self._path

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic commit (for example a result and its snapshot).

        Nested uses join the outermost transaction. Other threads wait until it ends, so
        keep the block short and free of network calls.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
                self.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside an open ``transaction()``: writes undone alone if the block raises."""
        with self._lock:
            self.execute("SAVEPOINT grouped")
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK TO grouped")
                    self._conn.execute("RELEASE grouped")
                raise
            self.execute("RELEASE grouped")

    def grouped(self, work: Callable[[], T]) -> T:
        """Run ``work`` (writes only, no network) in a transaction shared with the other
        threads committing at the same moment; return once it is committed, as durably as
        a ``transaction()`` of its own (``group_commit``)."""
        return self._group.run(work)

    def now(self) -> str:
        """The store clock's current time, as stored (ISO 8601, UTC)."""
        return self._clock().astimezone(UTC).isoformat()

    def write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement as its own committed transaction (or inside the open one)."""
        with self.transaction():
            return self.execute(sql, params)

    def write_unsynced(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Commit one write without waiting for the disk (see ``CRASH_SAFE_SYNCHRONOUS``).

        Inside an open transaction it simply joins it, and is synced with it.
        """
        with self._lock:
            if self._depth:
                return self.write(sql, params)
            self.execute(f"PRAGMA synchronous = {CRASH_SAFE_SYNCHRONOUS}")
            try:
                return self.write(sql, params)
            finally:
                self.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")

    def reclaim_free_pages(self) -> int:
        """Give the file's free pages back to the disk (after a run); return how many.

        Deleted intents and replaced rows leave free pages that later writes would reuse
        anyway; a run's end returns them, so a state file holds its data, not its peak.
        Files in incremental auto-vacuum (every file since schema 5) truncate in place; an
        older mode gets a full VACUUM, only when free pages are most of the file.
        """
        with self._lock:
            if self._depth:
                return 0
            free = int(self.execute("PRAGMA freelist_count").fetchone()[0])
            if not free:
                return 0
            if int(self.execute("PRAGMA auto_vacuum").fetchone()[0]) == INCREMENTAL:
                # sqlite3_exec steps it to the end; ``execute`` would free one page only.
                try:
                    self._conn.executescript("PRAGMA incremental_vacuum")
                except sqlite3.Error as error:
                    raise self._use_error(error) from None
            elif free * 2 > int(self.execute("PRAGMA page_count").fetchone()[0]):
                self.execute("VACUUM")
            return free

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one read and return its rows (by column name)."""
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = sqlite3.Row
            try:
                return list(cursor.execute(sql, params).fetchall())
            except sqlite3.Error as error:
                raise self._use_error(error) from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement as it is: the caller holds ``transaction()`` for writes."""
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as error:
            raise self._use_error(error) from None

    def _use_error(self, error: sqlite3.Error) -> ConfigError:
        """Every SQLite failure as one sentence naming the file: a damaged page found
        halfway through (``database disk image is malformed``) included."""
        if _is_corrupt(error):
            return _open_error(self._path, error)
        return ConfigError(
            f"Cannot use the state file {self._path}: {error}. Check that the disk has "
            "space and the file is writable, and that no other program holds it open."
        )


def _is_corrupt(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorname", "") in CORRUPT_ERRORS or (
        isinstance(error, sqlite3.DatabaseError) and "malformed" in str(error)
    )
