"""Snapshots: each user as our last successful PUT left them, and what we sent them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from communal_sync.hashing import canonical_json
from communal_sync.state.database import Database
from communal_sync.state.records import JsonObject, Snapshot


class Snapshots:
    """The base of every three-way diff, the only source of the address fields (GET does
    not return them), and the row hashes that let an unchanged row skip its API call."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, user_id: int) -> Snapshot | None:
        """Return the user as of our last successful PUT, or None if we never pushed them."""
        rows = self._db.query(
            "SELECT user_id, user_json, pushed_json, source_hash, external_id, pushed_email,"
            " pushed_at, run_id FROM snapshots WHERE user_id = ?",
            (user_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return Snapshot(
            user_id=int(row["user_id"]),
            user=cast(JsonObject, json.loads(row["user_json"])),
            pushed=cast(JsonObject, json.loads(row["pushed_json"])),
            source_hash=row["source_hash"],
            external_id=row["external_id"],
            pushed_email=row["pushed_email"],
            pushed_at=datetime.fromisoformat(row["pushed_at"]),
            run_id=row["run_id"],
        )

    def save(
        self,
        user_id: int,
        *,
        user: Mapping[str, Any],
        pushed: Mapping[str, Any],
        source_hash: str | None,
        external_id: str | None = None,
        pushed_email: str | None = None,
        run_id: int | None = None,
    ) -> Snapshot:
        """Store what a successful PUT returned and what we sent; return the new snapshot.

        ``pushed`` is merged over the previous snapshot's pushed values, because a PUT
        carries only changed fields: a field keeps the last value we ever sent as its base.
        To keep a result and its snapshot atomic, call both inside the store's ``transaction()``.
        """
        with self._db.transaction():
            previous = self.get(user_id)
            merged: JsonObject = dict(previous.pushed) if previous else {}
            merged.update(pushed)
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots (user_id, user_json, pushed_json, source_hash,"
                " external_id, pushed_email, pushed_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    canonical_json(dict(user)),
                    canonical_json(merged),
                    source_hash,
                    external_id,
                    pushed_email,
                    self._db.now(),
                    run_id,
                ),
            )
            snapshot = self.get(user_id)
        assert snapshot is not None
        return snapshot

    def source_hash_for(self, user_id: int) -> str | None:
        """Return the source-row hash of the last successful push to this user, or None."""
        rows = self._db.query("SELECT source_hash FROM snapshots WHERE user_id = ?", (user_id,))
        return cast(str | None, rows[0]["source_hash"]) if rows else None

    def source_hashes(self) -> dict[int, str]:
        """Return every user's last pushed source-row hash in one query (for large files)."""
        rows = self._db.query(
            "SELECT user_id, source_hash FROM snapshots WHERE source_hash IS NOT NULL"
        )
        return {int(row["user_id"]): str(row["source_hash"]) for row in rows}
