"""Which API a state file belongs to: its identity map and history name that
organization's users, and must never be used against another."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from communal_sync.api.settings import is_loopback_host
from communal_sync.errors import ConfigError, RefusedError
from communal_sync.state.database import Database, check_adoptable

LOCAL_API = "a local sandbox (loopback)"
"""What every loopback base URL is bound as: sandboxes change port from run to run."""


def api_identity(base_url: str) -> str:
    """The API a state file is bound to: the base URL, or any loopback sandbox."""
    host = urlsplit(base_url).hostname or ""
    return LOCAL_API if is_loopback_host(host) else base_url.rstrip("/")


def read_bound_api(path: Path) -> str | None:
    """The API the state file at ``path`` is bound to, read without changing anything.

    None for a missing file or one not bound yet. The file is first checked like any state
    file (``check_adoptable``: a file that is not ours is a ``ConfigError``), then read
    read-only, so ``doctor`` never creates, migrates or locks it.
    """
    if not path.is_file():
        return None
    check_adoptable(path)
    wal = path.with_name(path.name + "-wal")
    query = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            row = None
            if "meta" in tables:
                row = conn.execute("SELECT value FROM meta WHERE name = 'api'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise ConfigError(f"Cannot read the state file {path} ({error}).") from None
    return None if row is None else str(row[0])


class ApiBinding:
    """The API this state file describes, recorded by its first push."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def bound_api(self) -> str | None:
        """The API this state belongs to (see ``bind``), or None before the first push."""
        rows = self._db.query("SELECT value FROM meta WHERE name = 'api'")
        return str(rows[0]["value"]) if rows else None

    def bind(self, api: str) -> None:
        """Record which API the identity map, snapshots and runs of this file describe."""
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES ('api', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (api,),
            )

    def check(self, base_url: str, *, bind: bool) -> None:
        """Refuse (``RefusedError``) to use a state file that describes another API's
        organization.

        Its identity map, snapshots and skip-unchanged hashes name that organization's
        users; used against another API they would match rows to the wrong people and skip
        rows that were never sent there. ``bind`` records the API on a file not yet bound
        (a run that writes).
        """
        api = api_identity(base_url)
        bound = self.bound_api()
        if bound is None:
            if bind:
                self.bind(api)
            return
        if bound != api:
            raise RefusedError(
                f"The state file {self._db.path} holds the identity map and history of "
                f"{bound}, but this run talks to {api}. Each organization needs its own "
                "state file: pass --state (or set COMMUNAL_SYNC_STATE)."
            )
