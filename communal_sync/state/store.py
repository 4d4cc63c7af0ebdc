"""The state store: identity map and snapshots, on top of the run journal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from communal_sync.hashing import canonical_json
from communal_sync.state.database import Clock, connect, utc_now
from communal_sync.state.journal import RunJournal
from communal_sync.state.records import (
    AUTHORITATIVE_SOURCES,
    IdentitySource,
    JsonObject,
    Snapshot,
)
from communal_sync.values.normalize import email_key


def open_state(path: Path, *, clock: Clock = utc_now) -> StateStore:
    """Open the state file at ``path``, creating and migrating it as needed.

    Use it as a context manager (``with open_state(path) as state:``) so it is closed.
    Opening does not take the run lock: take ``acquire_lock`` first for any run.
    """
    return StateStore(path, connect(path), clock)


def normalize_email_key(email: str) -> str:
    """Return the form an email is stored and looked up under: ``normalize.email_key``.

    The same key the planner and the duplicate check use, so "STRASSE@x.org" and
    "straße@x.org" are one address everywhere.
    """
    return email_key(email)


class StateStore(RunJournal):
    """Everything communal-sync remembers between runs, in one SQLite file.

    Identity map semantics:

    - An external id points at exactly one user; linking it to another user re-points it.
    - An email from ``link`` or ``push`` is the user's account email as Communal holds it,
      and Communal keeps those unique, so it replaces every other mapping of that email,
      and this user's previous authoritative email stops resolving to them.
    - An email from ``discover`` (a program signup's ``associated_email``, which a parent
      may share between children) is added alongside others, so one email can map to
      several users; ``lookup_email`` then returns them all and the caller reports the row
      as ambiguous rather than guess.
    """

    def api_binding(self) -> str | None:
        """The API this state belongs to (see ``bind_api``), or None before the first push."""
        rows = self._query("SELECT value FROM meta WHERE name = 'api'")
        return str(rows[0]["value"]) if rows else None

    def bind_api(self, api: str) -> None:
        """Record which API the identity map, snapshots and runs of this file describe."""
        with self.transaction():
            self._run(
                "INSERT INTO meta (name, value) VALUES ('api', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (api,),
            )

    def lookup_external_id(self, external_id: str) -> int | None:
        """Return the user id an external key maps to, or None."""
        rows = self._query(
            "SELECT user_id FROM identity_external WHERE external_id = ?", (external_id,)
        )
        return int(rows[0]["user_id"]) if rows else None

    def lookup_email(self, email_key: str) -> list[int]:
        """Return the user ids an email maps to, sorted: none, one, or (ambiguous) several.

        The email is trimmed and lower-cased first, as ``link`` stored it.
        """
        rows = self._query(
            "SELECT user_id FROM identity_email WHERE email = ? ORDER BY user_id",
            (normalize_email_key(email_key),),
        )
        return [int(row["user_id"]) for row in rows]

    def link(
        self,
        user_id: int,
        *,
        email_key: str | None = None,
        external_id: str | None = None,
        source: IdentitySource,
    ) -> None:
        """Remember that an email and/or an external key belong to ``user_id``.

        See the class docstring for how a re-pointed external id or a moved email replaces
        the old mapping. Both mappings are written in one transaction.
        """
        if email_key is None and external_id is None:
            raise ValueError("link() needs an email_key or an external_id")
        now = self._now()
        with self.transaction():
            if external_id is not None:
                self._run(
                    "INSERT INTO identity_external (external_id, user_id, source, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (external_id) DO UPDATE SET"
                    " user_id = excluded.user_id, source = excluded.source,"
                    " updated_at = excluded.updated_at",
                    (external_id, user_id, source, now),
                )
            if email_key is not None:
                self._link_email(user_id, normalize_email_key(email_key), source, now)

    def _link_email(self, user_id: int, email: str, source: IdentitySource, now: str) -> None:
        if source in AUTHORITATIVE_SOURCES:
            self._run(
                "DELETE FROM identity_email WHERE email = ? AND user_id != ?", (email, user_id)
            )
            self._run(
                "DELETE FROM identity_email WHERE user_id = ? AND email != ?"
                " AND source IN ('link', 'push')",
                (user_id, email),
            )
        # A discovered pairing never downgrades one Communal already confirmed.
        self._run(
            "INSERT INTO identity_email (email, user_id, source, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (email, user_id) DO UPDATE SET"
            " source = CASE WHEN excluded.source = 'discover' THEN source"
            " ELSE excluded.source END, updated_at = excluded.updated_at",
            (email, user_id, source, now),
        )

    def get_snapshot(self, user_id: int) -> Snapshot | None:
        """Return the user as of our last successful PUT, or None if we never pushed them."""
        rows = self._query(
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

    def save_snapshot(
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
        To keep a result and its snapshot atomic, call both inside ``transaction()``.
        """
        with self.transaction():
            previous = self.get_snapshot(user_id)
            merged: JsonObject = dict(previous.pushed) if previous else {}
            merged.update(pushed)
            self._run(
                "INSERT OR REPLACE INTO snapshots (user_id, user_json, pushed_json, source_hash,"
                " external_id, pushed_email, pushed_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    user_id,
                    canonical_json(dict(user)),
                    canonical_json(merged),
                    source_hash,
                    external_id,
                    pushed_email,
                    self._now(),
                    run_id,
                ),
            )
            snapshot = self.get_snapshot(user_id)
        assert snapshot is not None
        return snapshot

    def source_hash_for(self, user_id: int) -> str | None:
        """Return the source-row hash of the last successful push to this user, or None."""
        rows = self._query("SELECT source_hash FROM snapshots WHERE user_id = ?", (user_id,))
        return cast(str | None, rows[0]["source_hash"]) if rows else None

    def source_hashes(self) -> dict[int, str]:
        """Return every user's last pushed source-row hash in one query (for large files)."""
        rows = self._query(
            "SELECT user_id, source_hash FROM snapshots WHERE source_hash IS NOT NULL"
        )
        return {int(row["user_id"]): str(row["source_hash"]) for row in rows}
