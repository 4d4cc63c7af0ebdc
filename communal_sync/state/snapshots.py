"""Snapshots: each user as our last successful PUT left them, and what we sent them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, cast

from communal_sync.fields import PROFILE_FIELDS
from communal_sync.hashing import canonical_json
from communal_sync.state.database import Database
from communal_sync.state.packing import (
    FORMAT_SNAPSHOT_V2,
    pack_digest,
    pack_snapshot,
    pack_time,
    unpack,
    unpack_digest,
    unpack_snapshot,
    unpack_time,
)
from communal_sync.state.records import JsonObject, Snapshot

MAX_BATCH: Final = 500
"""Ids per ``IN (...)`` query: far below SQLite's limit on bound parameters."""

_COLUMNS: Final = "user_id, record, source_hash, run_id, pushed_at"

KEPT_USER_FIELDS: Final = frozenset(PROFILE_FIELDS)
"""What a snapshot keeps of the ``User`` a PUT returned: its profile fields, the only keys
the three-way diff and the identity check read (``planning.current``); ids, flags and
timestamps are shown again by every GET and were most of a stored record."""


class Snapshots:
    """The base of every three-way diff, the only source of the address fields (GET does
    not return them), and the row hashes that let an unchanged row skip its API call."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, user_id: int) -> Snapshot | None:
        """Return the user as of our last successful PUT, or None if we never pushed them."""
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM snapshots WHERE user_id = ?",  # noqa: S608
            (user_id,),
        )
        return _snapshot(rows[0]) if rows else None

    def get_many(self, user_ids: Sequence[int]) -> dict[int, Snapshot]:
        """The snapshots of those of ``user_ids`` we ever pushed, in one query per
        ``MAX_BATCH`` ids (planning reads a batch of rows' snapshots at once)."""
        found: dict[int, Snapshot] = {}
        unique = list(dict.fromkeys(user_ids))
        for start in range(0, len(unique), MAX_BATCH):
            chunk = unique[start : start + MAX_BATCH]
            marks = ", ".join("?" * len(chunk))
            rows = self._db.query(
                f"SELECT {_COLUMNS} FROM snapshots WHERE user_id IN ({marks})",  # noqa: S608
                chunk,
            )
            for row in rows:
                snapshot = _snapshot(row)
                found[snapshot.user_id] = snapshot
        return found

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
            # A copy through JSON, as reading it back would give (tuples become lists).
            kept = {k: v for k, v in user.items() if k in KEPT_USER_FIELDS}
            snapshot = Snapshot(
                user_id=user_id,
                user=json.loads(canonical_json(kept)),
                pushed=json.loads(canonical_json(merged)),
                source_hash=source_hash,
                external_id=external_id,
                pushed_email=pushed_email,
                pushed_at=datetime.fromisoformat(self._db.now()),
                run_id=run_id,
            )
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots (user_id, record, source_hash, run_id,"
                " pushed_at) VALUES (?, ?, ?, ?, ?)",
                (
                    user_id,
                    pack_record(snapshot),
                    pack_digest(source_hash),
                    run_id,
                    pack_time(snapshot.pushed_at),
                ),
            )
        return snapshot

    def source_hash_for(self, user_id: int) -> str | None:
        """Return the source-row hash of the last successful push to this user, or None."""
        rows = self._db.query("SELECT source_hash FROM snapshots WHERE user_id = ?", (user_id,))
        return unpack_digest(rows[0]["source_hash"]) if rows else None

    def source_hashes(self) -> dict[int, str]:
        """Return every user's last pushed source-row hash in one query (for large files)."""
        rows = self._db.query(
            "SELECT user_id, source_hash FROM snapshots WHERE source_hash IS NOT NULL"
        )
        return {int(row["user_id"]): str(unpack_digest(row["source_hash"])) for row in rows}


def pack_record(snapshot: Snapshot) -> bytes:
    """A snapshot's cold part as one packed BLOB (``packing.pack_snapshot``): the pushed
    values, the user's profile fields where they differ from those, its key and email."""
    return pack_snapshot(
        snapshot.user, snapshot.pushed, snapshot.external_id, snapshot.pushed_email
    )


def _snapshot(row: sqlite3.Row) -> Snapshot:
    stored = row["record"]
    if stored and stored[0] == FORMAT_SNAPSHOT_V2:
        user, pushed, external_id, email = unpack_snapshot(stored)
        pushed_at = unpack_time(row["pushed_at"])
    else:  # format 1 (schema 5 to 7): one JSON object
        record = cast(JsonObject, unpack(stored))
        user, pushed = cast(JsonObject, record["user"]), cast(JsonObject, record["pushed"])
        external_id, email = record.get("external_id"), record.get("pushed_email")
        pushed_at = datetime.fromisoformat(record["pushed_at"])
    return Snapshot(
        user_id=int(row["user_id"]),
        user=user,
        pushed=pushed,
        source_hash=unpack_digest(row["source_hash"]),
        external_id=external_id,
        pushed_email=email,
        pushed_at=pushed_at,
        run_id=row["run_id"],
    )
