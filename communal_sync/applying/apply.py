"""Apply a plan: send each user's PUT once, journal every outcome at once, stop cleanly.

Workers share one client and one ``Throttle``. Right before each write, its intent (the
body's hash and the fields it sets) is journalled; every finished request is written to
the state journal before the next is taken, together with the user's new snapshot and
identity. So a run killed at any point resumes without sending anything twice: an
operation already journalled as applied is skipped, and (when ``verify`` is on) a user
whose record changed since planning is skipped as a conflict, unless Communal already
holds what we meant to send (a PUT that landed just before a crash: see ``already_holds``
for what a GET can and cannot show, and how the journalled intent decides the rest).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Set
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Final

from communal_sync.api.models import User
from communal_sync.applying.counts import tally_outcomes
from communal_sync.applying.custom_writes import (
    CustomWrites,
    WriteStopped,
    may_have_landed,
    write_custom_values,
)
from communal_sync.applying.landed import (
    FOUND_MESSAGE,
    FOUND_NOTE,
    LANDED_MESSAGE,
    LANDED_NOTE,
    already_holds,
    as_landed,
)
from communal_sync.applying.ports import ApplyState, UserWriter
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
from communal_sync.hashing import canonical_hash
from communal_sync.plan import Outcome, Plan, UserPlan
from communal_sync.state.records import Snapshot

FORBIDDEN_STREAK_LIMIT: Final = 3
"""403s in a row, with no success yet, that mean the key cannot update other users."""
UNREACHABLE_STREAK_LIMIT: Final = 8
"""Requests in a row that exhausted their retries on network/5xx errors, or got an answer
that is not the API's (HTML, truncated JSON), before the run gives up."""


@dataclass
class ApplyResult:
    """The outcomes of a run, and why it stopped early if it did."""

    outcomes: list[Outcome] = field(default_factory=list)
    fatal: ApiError | None = None
    interrupted: bool = False
    pending: int = 0

    def counts(self) -> dict[str, int]:
        """Outcomes by status, plus users left unsent (``pending``); see ``counts.tally``."""
        return {**tally_outcomes(None, self.outcomes).counts(), "pending": self.pending}

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "conflict")]


def operation_key(user_id: int) -> str:
    """The journal's name for a profile PUT to ``user_id``."""
    return f"user:{user_id}"


def before_image(user: UserPlan) -> dict[str, Any]:
    """The values the PUT overwrites, for ``revert``; unknown ones are listed as such."""
    return {
        "fields": {c.field: c.before for c in user.changes if c.provenance != "unknown"},
        "unknown": [c.field for c in user.changes if c.provenance == "unknown"],
        "updated_at": user.updated_at,
    }


@dataclass(frozen=True)
class _Sent:
    """What earlier attempts of the run sent: (operation, body hash) pairs.

    ``done`` landed and were journalled as applied; ``unsettled`` were sent (their intent
    journalled) but the outcome never was, or was an error after which they may have
    landed.
    """

    done: Set[tuple[str, str]]
    unsettled: Set[tuple[str, str]]


@dataclass
class _Streaks:
    lock: threading.Lock = field(default_factory=threading.Lock)
    succeeded: bool = False
    forbidden: int = 0
    unreachable: int = 0


def apply_plan(
    plan: Plan,
    *,
    client: UserWriter,
    store: ApplyState,
    run_id: int,
    concurrency: int = 4,
    verify: bool = False,
    stop: threading.Event | None = None,
    on_outcome: Callable[[Outcome], None] = lambda outcome: None,
    region: str | None = None,
) -> ApplyResult:
    """Send the plan's PUTs with ``concurrency`` workers; journal each outcome at once.

    ``verify`` re-reads each user first and skips, as a conflict, anyone whose
    ``updated_at`` moved since planning (``apply plan.json`` and ``--resume``). A 401, a
    400 version error, 403 on every user or a network that stays down stops the run
    (``fatal``): requests in flight finish and are journalled, nothing new is sent.
    Setting ``stop`` (Ctrl-C) does the same and marks the result ``interrupted``.
    ``region`` reads telephones written without a country code when judging whether a
    PUT already landed (the plan's ``options.default_region``).
    """
    stop = stop or threading.Event()
    run = _RunWrites(
        client=client,
        store=store,
        run_id=run_id,
        verify=verify,
        region=region,
        earlier=_Sent(
            done=store.journal.applied_operations(run_id),
            unsettled=store.journal.unsettled_operations(run_id),
        ),
    )
    result = ApplyResult()
    streaks = _Streaks()
    lock = threading.Lock()

    def work(user: UserPlan) -> Outcome | None:
        if stop.is_set():
            return None
        try:
            outcome = run.apply_user(user)
        except (ApiError, WriteStopped) as raised:
            error = raised.error if isinstance(raised, WriteStopped) else raised
            if _is_fatal(error, streaks):
                with lock:
                    result.fatal = result.fatal or error
                stop.set()
            if isinstance(raised, WriteStopped):
                outcome = _failure_outcome(user, error, message=str(raised))
            else:
                # Re-reading the user failed, before this attempt sent anything: an
                # earlier attempt's write, if one is unsettled, stays so.
                outcome = run.record_failure(user, user.body or {}, error, settled=False)
        else:
            with streaks.lock:
                streaks.succeeded = streaks.succeeded or outcome.status == "applied"
                streaks.unreachable = 0
                streaks.forbidden = 0
        return outcome

    todo = list(plan.to_update)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        _run_bounded(pool, work, todo, concurrency, stop, result, on_outcome)
    result.pending = len(todo) - len(result.outcomes)
    result.interrupted = stop.is_set() and result.fatal is None and result.pending > 0
    return result


def _run_bounded(
    pool: ThreadPoolExecutor,
    work: Callable[[UserPlan], Outcome | None],
    todo: Iterable[UserPlan],
    concurrency: int,
    stop: threading.Event,
    result: ApplyResult,
    on_outcome: Callable[[Outcome], None],
) -> None:
    """Keep at most ``concurrency`` users in flight; on Ctrl-C stop taking new ones and
    let those in flight finish (and be journalled) before returning."""
    pending: set[Future[Outcome | None]] = set()
    queue = iter(todo)
    try:
        while True:
            while not stop.is_set() and len(pending) < concurrency:
                user = next(queue, None)
                if user is None:
                    break
                pending.add(pool.submit(work, user))
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            _collect(finished, result, on_outcome)
    except KeyboardInterrupt:
        stop.set()
        finished, _ = wait(pending)
        _collect(finished, result, on_outcome)


def _collect(
    finished: Iterable[Future[Outcome | None]],
    result: ApplyResult,
    on_outcome: Callable[[Outcome], None],
) -> None:
    for future in finished:
        outcome = future.result()
        if outcome is not None:
            result.outcomes.append(outcome)
            on_outcome(outcome)


@dataclass(frozen=True)
class _RunWrites:
    """What every user of one run is applied with: the client, the state, the run, and
    what earlier attempts of it already sent."""

    client: UserWriter
    store: ApplyState
    run_id: int
    verify: bool
    region: str | None
    earlier: _Sent

    def apply_user(self, user: UserPlan) -> Outcome:
        """The profile PUT, then the custom field writes; each skipped if already journalled."""
        sent = False
        put_done = (
            operation_key(user.user_id),
            canonical_hash(user.body or {}),
        ) in self.earlier.done
        if user.body is not None and not put_done:
            outcome = self._put(user, user.body, final=not user.custom_writes)
            if outcome.status == "conflict" or not user.custom_writes:
                return outcome
            sent = outcome.status == "applied"
        if user.custom_writes:
            custom = write_custom_values(
                user,
                CustomWrites(self.client, self.store.journal, self.run_id),
                done=self.earlier.done,
                recheck=self.verify,
                unsettled=self.earlier.unsettled,
            )
            if custom.conflicts and not custom.failures:
                return Outcome(
                    user_id=user.user_id,
                    line=user.line,
                    status="conflict",
                    message="; ".join(custom.conflicts),
                )
            if custom.failures:
                return Outcome(
                    user_id=user.user_id,
                    line=user.line,
                    status="failed",
                    message="; ".join(custom.failures),
                )
            self._finish_custom(user, custom.written)
            sent = sent or custom.sent > 0
        if sent:
            return Outcome(user_id=user.user_id, line=user.line, status="applied", http_status=200)
        return Outcome(
            user_id=user.user_id,
            line=user.line,
            status="already",
            message="Applied by an earlier attempt.",
        )

    def _finish_custom(self, user: UserPlan, written: dict[str, str | None]) -> None:
        """After every write of a user landed: remember the values and the row's hash."""
        snapshots = self.store.snapshots
        previous = snapshots.get(user.user_id)
        held_back = user.holds_a_conflict
        snapshots.save(
            user.user_id,
            user=previous.user if previous else {},
            pushed=pushed_base(user, previous, landed=written),
            source_hash=None if held_back else user.source_hash,
            external_id=user.external_id,
            pushed_email=(user.body or {}).get("email")
            or (previous.pushed_email if previous else None),
            run_id=self.run_id,
        )

    def _put(self, user: UserPlan, body: dict[str, str | None], *, final: bool) -> Outcome:
        """The user's profile PUT: re-read first when verifying, journal intent and outcome."""
        key = operation_key(user.user_id)
        body_hash = canonical_hash(body)
        if self.verify:
            live = self.client.get_user(user.user_id)
            if live.updated_at != user.updated_at:
                return self._changed_since_planning(user, body, live, final=final)
        self.store.journal.record_intent(
            self.run_id, operation=key, body_hash=body_hash, fields=body, user_id=user.user_id
        )
        try:
            updated = self.client.update_user(user.user_id, body)
        except ApiError as error:
            self.record_failure(user, body, error, settled=not may_have_landed(error))
            raise WriteStopped(error, str(error)) from error
        self._record_success(user, body, updated.raw(), final=final)
        return Outcome(user_id=user.user_id, line=user.line, status="applied", http_status=200)

    def _changed_since_planning(
        self, user: UserPlan, body: dict[str, str | None], live: User, *, final: bool
    ) -> Outcome:
        """A user whose record moved since planning: our own landed PUT, or someone's edit."""
        key = operation_key(user.user_id)
        body_hash = canonical_hash(body)
        in_flight = (key, body_hash) in self.earlier.unsettled
        if already_holds(live, body, region=self.region, in_flight=in_flight):
            # Journalled as applied (so resume skips it and revert can undo it), but
            # reported as "already": this attempt did not change anything.
            self._record_success(
                user,
                body,
                as_landed(live, body),
                note=LANDED_NOTE if in_flight else FOUND_NOTE,
                final=final,
            )
            return Outcome(
                user_id=user.user_id,
                line=user.line,
                status="already",
                message=LANDED_MESSAGE if in_flight else FOUND_MESSAGE,
            )
        message = (
            "Changed in Communal since the plan was made (updated_at "
            f"{user.updated_at} -> {live.updated_at}); not sent. Plan again to see why."
        )
        self.store.journal.record_result(
            self.run_id,
            operation=key,
            status="conflict",
            user_id=user.user_id,
            source_line=user.line,
            body_hash=body_hash,
            error=message,
            before=before_image(user),
            settled=False,
        )
        return Outcome(user_id=user.user_id, line=user.line, status="conflict", message=message)

    def _record_success(
        self,
        user: UserPlan,
        body: dict[str, str | None],
        updated: Mapping[str, Any],
        *,
        note: str | None = None,
        final: bool = True,
    ) -> None:
        """Journal the result, the new snapshot and the identity, in one transaction.

        The row's hash is remembered only when this is the user's last write (``final``):
        a row whose custom values are still to be written must not look unchanged next time.
        """
        store = self.store
        previous = store.snapshots.get(user.user_id)
        merged = dict(previous.user) if previous else {}
        merged.update(updated)
        held_back = user.holds_a_conflict or not final
        email = body.get("email")
        with store.transaction():
            store.journal.record_result(
                self.run_id,
                operation=operation_key(user.user_id),
                status="applied",
                user_id=user.user_id,
                source_line=user.line,
                body_hash=canonical_hash(body),
                http_status=200,
                error=note,
                before=before_image(user),
                after=dict(updated),
            )
            store.snapshots.save(
                user.user_id,
                user=merged,
                pushed=pushed_base(user, previous, landed=()),
                source_hash=None if held_back else user.source_hash,
                external_id=user.external_id,
                pushed_email=email,
                run_id=self.run_id,
            )
            store.identity.link(
                user.user_id, email_key=email, external_id=user.external_id, source="push"
            )

    def record_failure(
        self, user: UserPlan, body: dict[str, str | None], error: ApiError, *, settled: bool
    ) -> Outcome:
        """Journal a failure of the user's profile PUT (or of re-reading the user before it)."""
        self.store.journal.record_result(
            self.run_id,
            operation=operation_key(user.user_id),
            status="failed",
            user_id=user.user_id,
            source_line=user.line,
            body_hash=canonical_hash(body),
            http_status=error.status,
            error=str(error),
            before=before_image(user),
            settled=settled,
        )
        return _failure_outcome(user, error, message=str(error))


def pushed_base(
    user: UserPlan, previous: Snapshot | None, *, landed: Collection[str]
) -> dict[str, str | None]:
    """What the row asserts, to remember as the base of the next three-way diff.

    A custom value whose write has not landed (yet) keeps its previous base; every other
    asserted field, custom ones that already held the file's value included, is recorded,
    so a later edit made only in Communal is recognized as such and left alone.
    """
    pending = {w.field for w in user.custom_writes} - set(landed)
    base = {k: v for k, v in user.pushed.items() if k not in pending}
    if previous is not None:
        base.update({k: previous.pushed[k] for k in pending if k in previous.pushed})
    return base


def _failure_outcome(user: UserPlan, error: ApiError, *, message: str) -> Outcome:
    fields = error.errors if isinstance(error, Rejected) else {}
    return Outcome(
        user_id=user.user_id,
        line=user.line,
        status="failed",
        message=message,
        http_status=error.status,
        field_errors=fields,
    )


def _is_fatal(error: ApiError, streaks: _Streaks) -> bool:
    """Whether ``error`` means no further request can succeed, so the run must stop."""
    if isinstance(error, Rejected | NotFound):
        return False
    with streaks.lock:
        if isinstance(error, Forbidden):
            streaks.forbidden += 1
            return not streaks.succeeded and streaks.forbidden >= FORBIDDEN_STREAK_LIMIT
        if isinstance(error, TransportError | ServerError | RateLimited | UnexpectedResponse):
            streaks.unreachable += 1
            return streaks.unreachable >= UNREACHABLE_STREAK_LIMIT
    return True


def remember_unchanged(plan: Plan, store: ApplyState, run_id: int) -> int:
    """Record verified-unchanged rows' hashes, so the next run skips them without a call."""
    count = 0
    for row in plan.unchanged:
        if not row.verified or row.pushed is None:
            continue
        previous = store.snapshots.get(row.user_id)
        with store.transaction():
            store.snapshots.save(
                row.user_id,
                user=previous.user if previous else {},
                pushed=row.pushed,
                source_hash=row.source_hash,
                external_id=row.external_id,
                pushed_email=row.email,
                run_id=run_id,
            )
            if row.email or row.external_id:
                store.identity.link(
                    row.user_id, email_key=row.email, external_id=row.external_id, source="push"
                )
        count += 1
    return count
