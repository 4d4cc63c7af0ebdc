"""The loop behind ``link --from-communal``: pages and members in flight, each stored at once.

``MemberRead`` keeps at most ``concurrency`` requests in flight over one client (and so
one throttle): membership pages first, since they reveal members, then ``GET /users/{id}``
of every pending member. The page that starts a run (the probe, see ``membership_list``)
is read alone among pages; members left pending by an earlier run are read beside it.
Every result is stored the moment it arrives, in a worker for a member, on the main
thread for a page (so the held positions stay consistent).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from communal_sync.api.models import MembershipPage, User
from communal_sync.errors import (
    ApiError,
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from communal_sync.identity.membership_list import MembershipList
from communal_sync.state import StateStore
from communal_sync.values.normalize import clean_text, email_key

PAGE_SIZE: Final = 500
"""Memberships per page: the documented maximum, so the fewest requests."""
FORBIDDEN_STREAK_LIMIT: Final = 3
"""403s in a row, with no user read yet, that mean the key may not read other users."""
UNREACHABLE_STREAK_LIMIT: Final = 8
"""Users in a row whose reads failed after their retries before the run gives up."""
NO_MEMBERSHIPS: Final = (
    "The API answered {subject} with 404: it does not list memberships. "
    "`link --from-communal` needs Communal API version 2026-08-25 (asked for every page); "
    "check --base-url."
)


class RosterClient(Protocol):
    """The part of the API client this reads with."""

    def list_user_memberships(self, page: int, *, size: int = ...) -> MembershipPage: ...

    def get_user(self, user_id: int) -> User: ...


@dataclass(frozen=True)
class UserFailure:
    """A member whose read failed after its retries: still pending, read next run."""

    user_id: int
    error: ApiError


@dataclass(frozen=True)
class Progress:
    """Where a run stands, after each page or user: for a progress bar or an event."""

    kind: Literal["page", "user"]
    pages_read: int
    pages_to_read: int | None
    users_read: int
    users_to_read: int
    failed: int
    page: int | None = None
    """The page just read (``kind == "page"``)."""
    failure: UserFailure | None = None
    """The member whose read just failed, if that is what happened."""


@dataclass
class RunTally:
    """What this run did."""

    pages_read: int = 0
    users_read: int = 0
    refreshed: int = 0
    not_found: int = 0
    failures: list[UserFailure] = field(default_factory=list)
    reread_list: bool = False
    """The list did not start as stored (or ``full_refresh``): every page was read."""
    continued: int = 0
    """Members left unread by an interrupted run, found pending at the start."""
    dropped: int = 0


def remember_member(store: StateStore, user_id: int, user: User | None) -> bool:
    """Store one ``GET /users/{id}`` (``None``: not found) and settle the identity map.

    In one commit: the roster's row, the email's mapping (to this user alone, or to no one
    when the roster has another user with it), the old email's, and the first snapshot.
    Return whether the roster had read this user before (a refresh).
    """
    key = _email_key(user.email if user is not None else None)
    with store.transaction():
        before = store.roster.user(user_id)
        store.roster.save_user(user_id, email_key=key, found=user is not None)
        if key is None:
            store.identity.forget_emails(user_id)
        for email in {key, before.email_key if before else None} - {None}:
            assert email is not None
            owners = store.roster.owners(email)
            if len(owners) == 1:
                store.identity.link(owners[0], email_key=email, source="link")
            elif owners:
                store.identity.share_email(email, owners)
        if user is not None:
            snapshot = store.snapshots.get(user_id)
            if snapshot is None or not snapshot.pushed:
                store.snapshots.save(user_id, user=user.raw(), pushed={}, source_hash=None)
    return before is not None


class MemberRead:
    """One run's loop: pages and users in flight, at most ``concurrency`` at once.

    ``go()`` runs it; ``tally`` says what it did, ``fatal`` why it stopped early.
    """

    def __init__(
        self,
        client: RosterClient,
        store: StateStore,
        concurrency: int,
        stop: threading.Event,
        on_progress: Callable[[Progress], None],
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.client = client
        self.page_size = page_size
        self.store = store
        self.concurrency = concurrency
        self.stop = stop
        self.on_progress = on_progress
        self.tally = RunTally()
        self.fatal: ApiError | None = None
        self.listing = MembershipList.of(store.roster.positions())
        self.users: deque[int] = deque(store.roster.pending_users())
        self.scheduled: set[int] = set(self.users)
        self.pages: deque[int] = deque()
        self.probing = True
        self.verifying = True
        self.reread = False
        self.total: int | None = None
        self.pages_total: int | None = None
        self.streak_forbidden = 0
        self.streak_unreachable = 0
        self.any_read = False

    def finished(self) -> bool:
        return not self.pages and not self.users and not self.probing and not self.reread

    def go(self) -> None:
        self.pages.append(self.listing.probe_page(self.page_size))
        inflight: dict[Future[Any], tuple[str, int]] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            try:
                while True:
                    self._fill(pool, inflight)
                    if not inflight:
                        if self.reread and not self.stop.is_set():
                            self._read_whole_list()
                            continue
                        break
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._settle(inflight.pop(future), future)
            except KeyboardInterrupt:
                self.stop.set()
                for future in wait(inflight).done:
                    self._settle(inflight.pop(future), future)
        total = self.total
        if self.finished() and total is not None and not self.stop.is_set():
            complete = self.listing.complete(total)
            self.tally.dropped = self.store.roster.drop_unlisted(total) if complete else 0

    def _fill(self, pool: ThreadPoolExecutor, inflight: dict[Future[Any], tuple[str, int]]) -> None:
        """Pages first (they reveal members), then members; the probe page goes alone."""
        while not self.stop.is_set() and len(inflight) < self.concurrency:
            if self.pages and not self.reread:
                number = self.pages.popleft()
                future = pool.submit(self.client.list_user_memberships, number, size=self.page_size)
                inflight[future] = ("page", number)
            elif self.users:
                user_id = self.users.popleft()
                inflight[pool.submit(self._read_user, user_id)] = ("user", user_id)
            else:
                return

    def _read_user(self, user_id: int) -> tuple[User | None, bool]:
        """In a worker: read one member and store it at once (None when not found); say
        whether it had been read before."""
        try:
            user = self.client.get_user(user_id)
        except NotFound:
            user = None
        return user, remember_member(self.store, user_id, user)

    def _settle(self, task: tuple[str, int], future: Future[Any]) -> None:
        kind, key = task
        error = future.exception()
        if kind == "page":
            if error is None:
                result = future.result()
                assert isinstance(result, MembershipPage)
                self._store_page(result)
            else:
                self._page_failed(key, error)
            self._report("page", key)
            return
        if error is None:
            user, again = future.result()
            self._user_read(user, again)
        elif isinstance(error, ApiError):
            self._user_failed(key, error)
            self._report("user", None, self.tally.failures[-1])
            return
        else:
            raise error
        self._report("user", None)

    def _store_page(self, page: MembershipPage) -> None:
        rows = self.listing.rows(page)
        if self.verifying and (
            not self.listing.agrees_with(rows)
            or (self.probing and page.total is not None and self.listing.outgrows(page.total))
        ):
            self._list_moved()
            return
        pending = self.store.roster.store_page(rows)
        self.listing.record(rows)
        self.tally.pages_read += 1
        for user_id in sorted(pending - self.scheduled):
            self.scheduled.add(user_id)
            self.users.append(user_id)
        if self.probing:
            self.probing = False
            self.total = page.total if page.total is not None else page.last_page * page.per_page
            self.pages_total = page.last_page
            self.pages.extend(
                number
                for number in self.listing.pages_to_read(
                    total=self.total, per_page=page.per_page, last_page=page.last_page
                )
                if number != page.number
            )

    def _list_moved(self) -> None:
        """The list no longer starts as stored: read it whole once what is in flight ends."""
        self.reread = True
        self.pages.clear()

    def _read_whole_list(self) -> None:
        self.reread = False
        self.verifying = False
        self.tally.reread_list = True
        self.store.roster.clear_positions()
        self.listing.clear()
        self.probing = True
        self.pages.append(1)

    def _page_failed(self, number: int, error: BaseException) -> None:
        if not isinstance(error, ApiError):
            raise error
        if isinstance(error, NotFound):
            error = UnexpectedResponse(
                NO_MEMBERSHIPS.format(subject=f"page {number} of the user memberships"),
                status=404,
            )
        self._stop_with(error)

    def _user_read(self, user: User | None, again: bool) -> None:
        self.tally.users_read += 1
        self.tally.refreshed += again
        if user is None:
            self.tally.not_found += 1
        self.any_read = True
        self.streak_forbidden = self.streak_unreachable = 0

    def _user_failed(self, user_id: int, error: ApiError) -> None:
        self.tally.failures.append(UserFailure(user_id, error))
        if isinstance(error, Rejected):
            return
        if isinstance(error, Forbidden):
            self.streak_forbidden += 1
            if not self.any_read and self.streak_forbidden >= FORBIDDEN_STREAK_LIMIT:
                self._stop_with(error)
            return
        if isinstance(error, TransportError | ServerError | RateLimited | UnexpectedResponse):
            self.streak_unreachable += 1
            if self.streak_unreachable >= UNREACHABLE_STREAK_LIMIT:
                self._stop_with(error)
            return
        self._stop_with(error)  # 401, an unsupported version: nothing further can succeed

    def _stop_with(self, error: ApiError) -> None:
        self.fatal = self.fatal or error
        self.stop.set()

    def _report(
        self, kind: Literal["page", "user"], page: int | None, failure: UserFailure | None = None
    ) -> None:
        self.on_progress(
            Progress(
                kind=kind,
                pages_read=self.tally.pages_read,
                pages_to_read=self.pages_total,
                users_read=self.tally.users_read,
                users_to_read=len(self.scheduled),
                failed=len(self.tally.failures),
                page=page,
                failure=failure,
            )
        )


def _email_key(email: str | None) -> str | None:
    if email is None or not clean_text(email):
        return None
    return email_key(email)
