"""Which API a state file belongs to: its identity map and history name that
organization's users, and must never be used against another."""

from __future__ import annotations

from communal_sync.state.database import Database


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
