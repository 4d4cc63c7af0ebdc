"""``link --from-communal``: build the identity map from Communal itself.

The API has no list of users and no lookup by email, but from 2026-08-25 it lists
memberships (``GET /user_memberships``, 500 a page), each naming its member's user id.
This reads the pages, collects the distinct members and ``GET /users/{id}`` each one it
has not read yet, several at once through the client's throttle and retries. Each page
and each user is stored the moment it is read (see ``state.roster``), so a run stopped by
Ctrl-C, a crash or SIGKILL continues where it stopped and never reads a stored user again.

For each user read: the email goes into the identity map (an account email from Communal,
so authoritative), unless two users have it, in which case neither is mapped by it and
both are listed; a user without an email is counted and listed; and the record becomes the
user's first snapshot (GET shows no address, so only the fields it shows). A snapshot of
an earlier push is never touched: its values are the base of the next three-way diff.

A later run reads only what changed (``membership_list``): the pages past the memberships
it holds, once the page where they end shows they still stand where they stood, and the
members of new memberships that began after their member was last read. ``full_refresh``
reads every page and every member again.

    result = link_from_communal(client, store, concurrency=4)
    print(result.summary())
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from communal_sync.errors import ApiError
from communal_sync.identity.roster_run import (
    PAGE_SIZE,
    MemberRead,
    Progress,
    RosterClient,
    RunTally,
    UserFailure,
    remember_member,
)
from communal_sync.state import RosterCounts, StateStore
from communal_sync.state.roster import relaxed_sync

__all__ = [
    "PAGE_SIZE",
    "Progress",
    "RosterClient",
    "RosterResult",
    "RunTally",
    "UserFailure",
    "link_from_communal",
    "remember_member",
]


@dataclass(frozen=True)
class RosterResult:
    """A run's tally, the roster it left, and whether it stopped early."""

    tally: RunTally
    counts: RosterCounts
    interrupted: bool = False
    fatal: ApiError | None = None

    def summary(self) -> str:
        """One line: "3,912 members read, 3,897 mapped, 15 without email, ..."."""
        counts = self.counts
        parts = [
            f"{counts.members:,} {_plural(counts.members, 'member')} read",
            f"{counts.mapped:,} mapped",
            f"{len(counts.without_email):,} without email",
        ]
        if counts.shared:
            emails = len(counts.shared)
            parts.append(
                f"{emails:,} {_plural(emails, 'email')} shared by {counts.shared_members:,} "
                "users: not mapped, listed"
            )
        if counts.not_found:
            parts.append(f"{len(counts.not_found):,} not found")
        if counts.pending:
            parts.append(f"{counts.pending:,} not read yet")
        return ", ".join(parts)

    def count_fields(self) -> dict[str, int]:
        """Every count by name, for a JSON report or event (no personal value in any)."""
        counts, tally = self.counts, self.tally
        return {
            "members": counts.members,
            "memberships": counts.memberships,
            "mapped": counts.mapped,
            "without_email": len(counts.without_email),
            "shared_emails": len(counts.shared),
            "shared_members": counts.shared_members,
            "not_found": len(counts.not_found),
            "not_read": counts.pending,
            "pages_read": tally.pages_read,
            "users_read": tally.users_read,
            "users_read_again": tally.refreshed,
            "failed": len(tally.failures),
        }

    def activity(self) -> str:
        """What this run cost: "2 pages and 30 users read (5 again: new memberships)"."""
        tally = self.tally
        text = (
            f"{tally.pages_read:,} {_plural(tally.pages_read, 'page')} and "
            f"{tally.users_read:,} {_plural(tally.users_read, 'user')} read"
        )
        if tally.refreshed:
            text += f" ({tally.refreshed:,} again)"
        if tally.continued:
            text += f", continuing an interrupted run ({tally.continued:,} left to read)"
        if tally.reread_list:
            text += "; the whole membership list was read"
        if tally.dropped:
            text += f"; {tally.dropped:,} memberships no longer listed"
        return text


def link_from_communal(
    client: RosterClient,
    store: StateStore,
    *,
    concurrency: int = 4,
    full_refresh: bool = False,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    page_size: int = PAGE_SIZE,
) -> RosterResult:
    """Read Communal's members into the roster and the identity map; see the module doc.

    A 401, an unsupported version, a 403 on the first users, a page that cannot be read or
    users that keep failing stop the run (``fatal``); Ctrl-C (or ``stop``) stops it
    (``interrupted``). Either way what was read is kept and the next run continues.
    """
    with relaxed_sync(store.db):
        if full_refresh:
            store.roster.mark_all_stale()
            store.roster.clear_positions()
        run = MemberRead(
            client,
            store,
            max(1, concurrency),
            stop or threading.Event(),
            on_progress,
            page_size=page_size,
        )
        if full_refresh:
            run.verifying = False
            run.tally.reread_list = True
        else:
            run.tally.continued = len(run.users)
        run.go()
    interrupted = run.stop.is_set() and run.fatal is None and not run.finished()
    return RosterResult(
        tally=run.tally, counts=store.roster.counts(), interrupted=interrupted, fatal=run.fatal
    )


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"
