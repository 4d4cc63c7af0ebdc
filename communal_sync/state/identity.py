"""The identity map: which Communal user an external id or an email belongs to."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from communal_sync.state.database import Database
from communal_sync.state.records import AUTHORITATIVE_SOURCES, IdentitySource
from communal_sync.values.normalize import email_key as normalize_key

SOURCE_CODES: Final[dict[IdentitySource, int]] = {"push": 0, "link": 1, "discover": 2}
"""How a mapping's source is stored since schema 8 (0, the common one, takes no bytes)."""
DISCOVER: Final = SOURCE_CODES["discover"]
"""Every source stored below it is authoritative (``AUTHORITATIVE_SOURCES``)."""


def normalize_email_key(email: str) -> str:
    """Return the form an email is stored and looked up under: ``normalize.email_key``.

    The same key the planner and the duplicate check use, so "STRASSE@x.org" and
    "straße@x.org" are one address everywhere.
    """
    return normalize_key(email)


class IdentityMap:
    """External id or email -> user id, as ``link``, pushes and ``--discover`` taught it.

    - An external id points at exactly one user; linking it to another user re-points it.
    - An email from ``link`` or ``push`` is the user's account email as Communal holds it,
      and Communal keeps those unique, so it replaces every other mapping of that email,
      and this user's previous authoritative email stops resolving to them.
    - An email from ``discover`` (a program signup's ``associated_email``, which a parent
      may share between children) is added alongside others, so one email can map to
      several users; ``lookup_email`` then returns them all and the caller reports the row
      as ambiguous rather than guess.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def lookup_external_id(self, external_id: str) -> int | None:
        """Return the user id an external key maps to, or None."""
        rows = self._db.query(
            "SELECT user_id FROM identity_external WHERE external_id = ?", (external_id,)
        )
        return int(rows[0]["user_id"]) if rows else None

    def lookup_email(self, email_key: str) -> list[int]:
        """Return the user ids an email maps to, sorted: none, one, or (ambiguous) several.

        The email is trimmed and lower-cased first, as ``link`` stored it.
        """
        rows = self._db.query(
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
        with self._db.transaction():
            if external_id is not None:
                self._db.execute(
                    "INSERT INTO identity_external (external_id, user_id, source)"
                    " VALUES (?, ?, ?) ON CONFLICT (external_id) DO UPDATE SET"
                    " user_id = excluded.user_id, source = excluded.source",
                    (external_id, user_id, SOURCE_CODES[source]),
                )
            if email_key is not None:
                self._link_email(user_id, normalize_email_key(email_key), source)

    def _link_email(self, user_id: int, email: str, source: IdentitySource) -> None:
        if source in AUTHORITATIVE_SOURCES:
            self._db.execute(
                "DELETE FROM identity_email WHERE email = ? AND user_id != ?", (email, user_id)
            )
            self._db.execute(
                "DELETE FROM identity_email WHERE user_id = ? AND email != ? AND source < ?",
                (user_id, email, DISCOVER),
            )
        # A discovered pairing never downgrades one Communal already confirmed.
        self._db.execute(
            "INSERT INTO identity_email (email, user_id, source)"
            " VALUES (?, ?, ?) ON CONFLICT (email, user_id) DO UPDATE SET"
            " source = CASE WHEN excluded.source = ? THEN source ELSE excluded.source END",
            (email, user_id, SOURCE_CODES[source], DISCOVER),
        )

    def share_email(self, email_key: str, user_ids: Collection[int]) -> None:
        """Record that Communal gives one email to several users: it names none of them.

        Every other mapping of the email goes, and each of ``user_ids`` gets one, so
        ``lookup_email`` returns them all and matching reports a row with it as
        ambiguous instead of picking one.
        """
        email = normalize_email_key(email_key)
        with self._db.transaction():
            self._db.execute("DELETE FROM identity_email WHERE email = ?", (email,))
            for user_id in sorted(set(user_ids)):
                self._db.execute(
                    "INSERT INTO identity_email (email, user_id, source) VALUES (?, ?, ?)",
                    (email, user_id, SOURCE_CODES["link"]),
                )

    def forget_emails(self, user_id: int) -> None:
        """Drop the account emails mapped to ``user_id`` (Communal shows it has none now);
        discovered pairings, which name a contact email, stay."""
        self._db.write(
            "DELETE FROM identity_email WHERE user_id = ? AND source < ?", (user_id, DISCOVER)
        )
