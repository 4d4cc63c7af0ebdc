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
from collections.abc import Callable, Collection, Mapping, Set
from concurrent.futures import ThreadPoolExecutor
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
from communal_sync.applying.email_steps import (
    Schedule,
    Step,
    StepKind,
    explain_taken,
    explain_temporary,
    freed_addresses,
    temporary_body,
    temporary_key,
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
from communal_sync.applying.workers import Report, run_scheduled
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
UNCHANGED_PER_COMMIT: Final = 500
"""Verified-unchanged rows ``remember_unchanged`` writes in one commit."""
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
    """The values the PUT overwrites, for ``revert``; unknown ones are listed as such, and
    those known only from our snapshot (not read from Communal) as ``unverified``."""
    return {
        "fields": {c.field: c.before for c in user.changes if c.provenance != "unknown"},
        "unknown": [c.field for c in user.changes if c.provenance == "unknown"],
        "unverified": [c.field for c in user.changes if c.provenance == "snapshot"],
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
        freed=freed_addresses(plan.to_update),
    )
    result = ApplyResult()
    streaks = _Streaks()
    lock = threading.Lock()

    def work(step: Step) -> Outcome | None:
        if stop.is_set():
            return None
        user = step.user
        try:
            if step.kind == "temporary":
                outcome = run.move_to_temporary(user)
            else:
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
                body, key = run.step_body(step)
                outcome = run.record_failure(user, body, error, settled=False, operation=key)
        else:
            with streaks.lock:
                streaks.succeeded = streaks.succeeded or outcome.status == "applied"
                streaks.unreachable = 0
                streaks.forbidden = 0
        return outcome

    todo = list(plan.to_update)
    schedule = Schedule.of(todo)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        run_scheduled(
            pool,
            work,
            schedule,
            concurrency,
            stop,
            Report(result.outcomes, on_outcome, run.record_held),
        )
    result.pending = len(todo) - len(result.outcomes)
    result.interrupted = stop.is_set() and result.fatal is None and result.pending > 0
    return result


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
    freed: Mapping[str, int] = field(default_factory=dict)
    """Email key -> the user this plan moves off it (``email_steps.freed_addresses``)."""
    moved_at: dict[int, str | None] = field(default_factory=dict)
    """Cycle breakers whose temporary step landed -> ``updated_at`` it left them with."""

    def move_to_temporary(self, user: UserPlan) -> Outcome:
        """A cycle breaker's first step: move to its temporary address, freeing its own.

        Skipped when an earlier attempt journalled it as applied; its ``updated_at`` then
        comes from the journal, so the final PUT's re-read does not take it for an edit.
        """
        body = temporary_body(user)
        key = temporary_key(user.user_id)
        if (key, canonical_hash(body)) in self.earlier.done:
            after = self.store.journal.applied_after(self.run_id, key) or {}
            updated_at = after.get("updated_at")
            self.moved_at[user.user_id] = updated_at if isinstance(updated_at, str) else None
            return Outcome(
                user_id=user.user_id,
                line=user.line,
                status="already",
                message="Applied by an earlier attempt.",
            )
        return self._put(user, body, final=False, step="temporary")

    def step_body(self, step: Step) -> tuple[dict[str, str | None], str]:
        """The body and journal operation of one step."""
        if step.kind == "temporary":
            return temporary_body(step.user), temporary_key(step.user.user_id)
        return step.user.body or {}, operation_key(step.user.user_id)

    def record_held(self, outcome: Outcome) -> None:
        """Journal a PUT held back because the address it takes was never freed.

        Nothing was sent, so an intent an earlier attempt left stays as it was.
        """
        self.store.journal.record_result(
            self.run_id,
            operation=operation_key(outcome.user_id),
            status="failed",
            user_id=outcome.user_id,
            source_line=outcome.line,
            error=outcome.message,
            settled=False,
        )

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

    def _put(
        self,
        user: UserPlan,
        body: dict[str, str | None],
        *,
        final: bool,
        step: StepKind = "final",
    ) -> Outcome:
        """One PUT of the user (their planned one, or a cycle breaker's move to its
        temporary address): re-read first when verifying, journal intent and outcome."""
        key = temporary_key(user.user_id) if step == "temporary" else operation_key(user.user_id)
        body_hash = canonical_hash(body)
        if self.verify:
            live = self.client.get_user(user.user_id)
            if live.updated_at != self._expected_updated_at(user, step):
                return self._changed_since_planning(user, body, live, final=final, step=step)
        self.store.journal.record_intent(
            self.run_id, operation=key, body_hash=body_hash, fields=body, user_id=user.user_id
        )
        try:
            updated = self.client.update_user(user.user_id, body)
        except ApiError as raised:
            error = raised
            if isinstance(raised, Rejected):
                error = (
                    explain_temporary(raised, user)
                    if step == "temporary"
                    else explain_taken(raised, user, body, self.freed)
                )
            self.record_failure(
                user, body, error, settled=not may_have_landed(error), operation=key
            )
            raise WriteStopped(error, str(error)) from raised
        self._record_success(user, body, updated.raw(), final=final, step=step)
        return Outcome(user_id=user.user_id, line=user.line, status="applied", http_status=200)

    def _expected_updated_at(self, user: UserPlan, step: StepKind) -> str | None:
        """What a re-read must show for nobody to have edited the user since planning:
        after a cycle breaker's temporary step, what that step left."""
        if step == "final" and user.user_id in self.moved_at:
            return self.moved_at[user.user_id]
        return user.updated_at

    def _changed_since_planning(
        self,
        user: UserPlan,
        body: dict[str, str | None],
        live: User,
        *,
        final: bool,
        step: StepKind = "final",
    ) -> Outcome:
        """A user whose record moved since planning: our own landed PUT, or someone's edit."""
        key = temporary_key(user.user_id) if step == "temporary" else operation_key(user.user_id)
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
                step=step,
            )
            return Outcome(
                user_id=user.user_id,
                line=user.line,
                status="already",
                message=LANDED_MESSAGE if in_flight else FOUND_MESSAGE,
            )
        expected = self._expected_updated_at(user, step)
        message = (
            "Changed in Communal since the plan was made (updated_at "
            f"{expected} -> {live.updated_at}); not sent. Plan again to see why."
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
        step: StepKind = "final",
    ) -> None:
        """Journal the result, the new snapshot and the identity, in one transaction
        (shared with the results other workers finish at the same moment: a group commit,
        on disk before this returns, so before this worker takes its next user).

        The row's hash is remembered only when this is the user's last write (``final``):
        a row whose custom values are still to be written must not look unchanged next time.
        A cycle breaker's temporary step records the temporary address as what we pushed,
        so a fresh plan after a kill between the steps sees our own write, not an edit.
        """
        store = self.store
        held_back = user.holds_a_conflict or not final
        email = body.get("email")
        temporary = step == "temporary"
        before = before_image(user)
        if temporary:
            old = next((c.before for c in user.changes if c.field == "email"), None)
            before = {"fields": {"email": old}, "unknown": [], "updated_at": user.updated_at}
            at = updated.get("updated_at")
            self.moved_at[user.user_id] = at if isinstance(at, str) else None
        after = written_image(updated, body, before["fields"])
        body_hash = canonical_hash(body)

        def write() -> None:
            previous = store.snapshots.get(user.user_id)
            merged = dict(previous.user) if previous else {}
            merged.update(updated)
            pushed = pushed_base(user, previous, landed=())
            if temporary:
                pushed = {**(previous.pushed if previous else {}), "email": email}
            store.journal.record_result(
                self.run_id,
                operation=temporary_key(user.user_id) if temporary else operation_key(user.user_id),
                status="applied",
                user_id=user.user_id,
                source_line=user.line,
                body_hash=body_hash,
                http_status=200,
                error=note,
                before=before,
                after=after,
            )
            store.snapshots.save(
                user.user_id,
                user=merged,
                pushed=pushed,
                source_hash=None if held_back else user.source_hash,
                external_id=user.external_id,
                pushed_email=email,
                run_id=self.run_id,
            )
            store.identity.link(
                user.user_id, email_key=email, external_id=user.external_id, source="push"
            )

        store.grouped(write)  # on disk, with other workers' results, when it returns

    def record_failure(
        self,
        user: UserPlan,
        body: dict[str, str | None],
        error: ApiError,
        *,
        settled: bool,
        operation: str | None = None,
    ) -> Outcome:
        """Journal a failure of one of the user's PUTs (or of re-reading the user before it)."""
        self.store.journal.record_result(
            self.run_id,
            operation=operation or operation_key(user.user_id),
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


def written_image(
    updated: Mapping[str, Any], body: Mapping[str, Any], known: Collection[str]
) -> dict[str, Any]:
    """The after image a result keeps: what the PUT wrote over a value known before it
    (``known``: the before image's fields, as the API returned them) and the record's id
    and ``updated_at``. The whole returned ``User`` is the snapshot's; ``revert`` compares
    only the fields it can put back (a first-time address write has no before value to
    restore) and a resume reads only ``updated_at``."""
    kept = (*(k for k in body if k in known), "id", "updated_at")
    return {k: updated[k] for k in kept if k in updated}


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
    """Record verified-unchanged rows' hashes, so the next run skips them without a call.

    Written ``UNCHANGED_PER_COMMIT`` rows to a commit (one fsync each, not one per row: a
    first push of an organization that mostly matches its export verifies thousands). A
    crash loses at most the rows of the commit under way, which the next run then simply
    verifies again.
    """
    rows = [row for row in plan.unchanged if row.verified and row.pushed is not None]
    for start in range(0, len(rows), UNCHANGED_PER_COMMIT):
        with store.transaction():
            for row in rows[start : start + UNCHANGED_PER_COMMIT]:
                assert row.pushed is not None
                previous = store.snapshots.get(row.user_id)
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
                        row.user_id,
                        email_key=row.email,
                        external_id=row.external_id,
                        source="push",
                    )
    return len(rows)
