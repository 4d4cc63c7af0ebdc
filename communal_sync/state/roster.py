"""The roster: Communal's own list of members, as ``link --from-communal`` last read it.

Two tables. ``roster_memberships`` holds each membership seen in ``GET /user_memberships``
with its ``position`` in that (unfiltered) list: a later run checks that the list still
starts the way it did and reads only the pages past what it holds. ``roster_users`` holds
what ``GET /users/{id}`` said of each member: the email (as its ``email_key``), or that
the user was not found, and whether it is ``stale`` (to be read again). A member whose
row is missing or stale is *pending*. Each page and each user is written in one commit
the moment it is read, so a run killed at any point continues where it stopped.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from communal_sync.state.database import CRASH_SAFE_SYNCHRONOUS, SYNCHRONOUS, Database


@contextlib.contextmanager
def relaxed_sync(db: Database) -> Iterator[None]:
    """Commit without waiting for the disk inside the block (see ``CRASH_SAFE_SYNCHRONOUS``).

    For a run whose every write is a read of Communal remembered: each commit survives
    the process being killed, and one lost to a power cut only means that page or user
    is read again. Call it only with no other thread using the store.
    """
    db.execute(f"PRAGMA synchronous = {CRASH_SAFE_SYNCHRONOUS}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")


@dataclass(frozen=True, slots=True)
class ListedMembership:
    """One row of the membership list: where it stood, which membership, whose."""

    position: int
    membership_id: int
    user_id: int
    created_at: str | None = None


@dataclass(frozen=True, slots=True)
class RosterUser:
    """What the last ``GET /users/{id}`` of a member said."""

    user_id: int
    email_key: str | None
    found: bool
    stale: bool
    read_at: str


@dataclass(frozen=True)
class RosterCounts:
    """The roster as it stands, counted over the members in the current list."""

    memberships: int
    members: int
    mapped: int
    without_email: tuple[int, ...]
    shared: dict[str, tuple[int, ...]]
    not_found: tuple[int, ...]
    pending: int

    @property
    def shared_members(self) -> int:
        return sum(len(users) for users in self.shared.values())


class Roster:
    """Read and write the roster tables (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- the membership list ----------------------------------------------------------

    def positions(self) -> dict[int, int]:
        """Every position held, to the membership id at it."""
        rows = self._db.query(
            "SELECT position, membership_id FROM roster_memberships WHERE position IS NOT NULL"
        )
        return {int(row["position"]): int(row["membership_id"]) for row in rows}

    def store_page(self, rows: Sequence[ListedMembership]) -> set[int]:
        """Record one page of the list in one commit; return the users it leaves pending.

        A membership takes its position (whatever held that position before loses it). A
        membership new to the roster whose member was read before it began (its
        ``created_at`` is later than the read) marks that member stale: someone who
        joined again or renewed is read again, everyone else is not.
        """
        now = self._db.now()
        with self._db.transaction():
            for row in rows:
                known = self._db.query(
                    "SELECT 1 FROM roster_memberships WHERE membership_id = ?",
                    (row.membership_id,),
                )
                self._db.execute(
                    "UPDATE roster_memberships SET position = NULL"
                    " WHERE position = ? AND membership_id != ?",
                    (row.position, row.membership_id),
                )
                self._db.execute(
                    "INSERT INTO roster_memberships (membership_id, user_id, position, read_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (membership_id) DO UPDATE SET"
                    " user_id = excluded.user_id, position = excluded.position,"
                    " read_at = excluded.read_at",
                    (row.membership_id, row.user_id, row.position, now),
                )
                if not known and row.created_at:
                    self._mark_stale_if_read_before(row.user_id, row.created_at)
            return self._pending_among({row.user_id for row in rows})

    def clear_positions(self) -> None:
        """Forget where every membership stood: the next pass reads the whole list."""
        self._db.write("UPDATE roster_memberships SET position = NULL")

    def drop_unlisted(self, total: int) -> int:
        """After a complete pass of a list of ``total`` rows, delete memberships that were
        not in it (no position, or one past its end); return how many."""
        cursor = self._db.write(
            "DELETE FROM roster_memberships WHERE position IS NULL OR position >= ?", (total,)
        )
        return int(cursor.rowcount)

    # -- members ------------------------------------------------------------------------

    def mark_all_stale(self) -> None:
        """Read every member again (``--full-refresh``); survives being interrupted."""
        self._db.write("UPDATE roster_users SET stale = 1")

    def pending_users(self) -> list[int]:
        """Members never read, or stale, in list order; then stale users no longer listed."""
        rows = self._db.query(
            "SELECT m.user_id FROM roster_memberships AS m"
            " LEFT JOIN roster_users AS u ON u.user_id = m.user_id"
            " WHERE u.user_id IS NULL OR u.stale = 1"
            " GROUP BY m.user_id ORDER BY MIN(COALESCE(m.position, -1)), m.user_id"
        )
        listed = [int(row["user_id"]) for row in rows]
        unlisted = self._db.query(
            "SELECT user_id FROM roster_users WHERE stale = 1 AND user_id NOT IN"
            " (SELECT user_id FROM roster_memberships) ORDER BY user_id"
        )
        return listed + [int(row["user_id"]) for row in unlisted]

    def user(self, user_id: int) -> RosterUser | None:
        """What the roster holds of ``user_id``, or None if never read."""
        rows = self._db.query(
            "SELECT user_id, email, found, stale, read_at FROM roster_users WHERE user_id = ?",
            (user_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return RosterUser(
            user_id=int(row["user_id"]),
            email_key=row["email"],
            found=bool(row["found"]),
            stale=bool(row["stale"]),
            read_at=str(row["read_at"]),
        )

    def save_user(self, user_id: int, *, email_key: str | None, found: bool) -> None:
        """Record one ``GET /users/{id}``: its email key (None: none), or not found."""
        self._db.write(
            "INSERT INTO roster_users (user_id, email, found, stale, read_at)"
            " VALUES (?, ?, ?, 0, ?) ON CONFLICT (user_id) DO UPDATE SET"
            " email = excluded.email, found = excluded.found, stale = 0,"
            " read_at = excluded.read_at",
            (user_id, email_key, int(found), self._db.now()),
        )

    def owners(self, email_key: str) -> list[int]:
        """The users the roster found with this email, sorted (more than one: shared)."""
        rows = self._db.query(
            "SELECT user_id FROM roster_users WHERE email = ? AND found = 1 ORDER BY user_id",
            (email_key,),
        )
        return [int(row["user_id"]) for row in rows]

    def member_count(self) -> int:
        """How many users hold a membership in the list as last read."""
        rows = self._db.query("SELECT COUNT(DISTINCT user_id) AS n FROM roster_memberships")
        return int(rows[0]["n"])

    def counts(self) -> RosterCounts:
        """Count the members: mapped, without email, sharing an email, not found, pending."""
        members = self._db.query(
            "SELECT m.user_id, u.email, u.found, u.stale FROM"
            " (SELECT DISTINCT user_id FROM roster_memberships) AS m"
            " LEFT JOIN roster_users AS u ON u.user_id = m.user_id ORDER BY m.user_id"
        )
        emails: dict[str, list[int]] = {}
        for row in self._db.query(
            "SELECT email, user_id FROM roster_users WHERE found = 1 AND email IS NOT NULL"
            " ORDER BY user_id"
        ):
            emails.setdefault(str(row["email"]), []).append(int(row["user_id"]))
        shared = {e: tuple(users) for e, users in sorted(emails.items()) if len(users) > 1}
        read = [row for row in members if row["found"] is not None and not row["stale"]]
        return RosterCounts(
            memberships=int(self._db.query("SELECT COUNT(*) AS n FROM roster_memberships")[0]["n"]),
            members=len(members),
            mapped=sum(1 for r in read if r["found"] and r["email"] and r["email"] not in shared),
            without_email=_ids(r for r in read if r["found"] and not r["email"]),
            shared=shared,
            not_found=_ids(r for r in read if not r["found"]),
            pending=len(members) - len(read),
        )

    def _mark_stale_if_read_before(self, user_id: int, created_at: str) -> None:
        rows = self._db.query(
            "SELECT read_at FROM roster_users WHERE user_id = ? AND stale = 0", (user_id,)
        )
        if rows and _later(created_at, str(rows[0]["read_at"])):
            self._db.execute("UPDATE roster_users SET stale = 1 WHERE user_id = ?", (user_id,))

    def _pending_among(self, users: Iterable[int]) -> set[int]:
        pending = set()
        for user_id in users:
            known = self.user(user_id)
            if known is None or known.stale:
                pending.add(user_id)
        return pending


def _ids(rows: Iterable[sqlite3.Row]) -> tuple[int, ...]:
    return tuple(int(row["user_id"]) for row in rows)


def _later(moment: str, than: str) -> bool:
    """Whether ISO timestamp ``moment`` is after ``than`` (an unreadable one never is);
    a time without a zone is taken as UTC, as the API writes them."""
    try:
        return _aware(datetime.fromisoformat(moment)) > _aware(datetime.fromisoformat(than))
    except ValueError:
        return False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
