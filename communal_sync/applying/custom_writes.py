"""Writing one user's custom profile field values, each journalled like a profile PUT.

A create (``POST``) is not idempotent, so a run that may already have sent one (a resume,
an ``apply`` of a saved plan) first re-reads the user's values: a value that is already
there is recognized or updated in place, never created twice. Each write is journalled
under its own key (``cpfv:<user>:<field>``): an intent right before the request, then its
outcome, failures that stop the user included.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import Any

from communal_sync.api.models import CustomProfileFieldValue
from communal_sync.applying.ports import CustomValueWriter, JournalWriter
from communal_sync.errors import (
    ApiError,
    NotFound,
    Rejected,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from communal_sync.hashing import canonical_hash
from communal_sync.plan import CustomWrite, UserPlan
from communal_sync.state.records import ResultStatus

RECOVERABLE = (Rejected, NotFound, UnexpectedResponse)
"""Errors that fail one value only; anything else stops the user (and may stop the run)."""
NOTHING_SENT = "note"
"""The key ``_send`` puts in its result when no request was needed (so none is counted)."""
LANDED_EARLIER = "sent by an earlier attempt that stopped before its answer"
"""The note of a write an earlier attempt sent without learning the outcome, found landed."""


class WriteStopped(Exception):
    """A write ended in an error that stops its user (and may stop the run).

    Raised only after the failure was journalled under the write's own operation key, so
    the caller counts ``error`` (towards the run's fatal streaks) without journalling it
    again under another key.
    """

    def __init__(self, error: ApiError, message: str) -> None:
        super().__init__(message)
        self.error = error


def may_have_landed(error: ApiError) -> bool:
    """Whether a write that ended in ``error`` may still have changed Communal.

    No answer (a timeout, a reset after sending), a 5xx or an answer that is not the API's
    leave the outcome unknown; a 4xx or a 429 means the API refused it, and a connection
    that never opened means it never left. An unknown outcome keeps the write's intent
    journalled, so a resume compares rather than assumes.
    """
    if isinstance(error, TransportError):
        return error.may_have_reached_server
    return isinstance(error, ServerError | UnexpectedResponse)


@dataclass(frozen=True)
class CustomWrites:
    """Where one run's custom value writes go: the API client, the journal, the run."""

    client: CustomValueWriter
    journal: JournalWriter
    run_id: int


@dataclass
class CustomWriteResult:
    """What ``write_custom_values`` did for one user."""

    written: dict[str, str | None] = field(default_factory=dict)
    """The values now in Communal, by plan key (``custom:<name>``)."""
    failures: list[str] = field(default_factory=list)
    """One message per write that failed (the user's other writes went on)."""
    sent: int = 0
    """Requests this call sent (a value already in Communal costs none)."""
    conflicts: list[str] = field(default_factory=list)
    """One message per value changed in Communal since planning, left alone."""


def custom_operation_key(user_id: int, field_id: int) -> str:
    """The journal's name for writing one custom field value of one user."""
    return f"cpfv:{user_id}:{field_id}"


def custom_body(user_id: int, write: CustomWrite) -> dict[str, Any]:
    """The request body of a write (an empty value clears, as the API documents)."""
    return {"user_id": user_id, "custom_profile_field_id": write.field_id, "value": write.value}


def write_custom_values(
    user: UserPlan,
    writes: CustomWrites,
    *,
    done: Set[tuple[str, str]],
    recheck: bool,
    unsettled: Set[tuple[str, str]] = frozenset(),
) -> CustomWriteResult:
    """Send ``user``'s custom writes not yet journalled as applied.

    Returns what landed, what failed, how many requests were sent and what conflicted
    (``CustomWriteResult``). ``recheck`` re-reads the
    user's values before the first write: a value changed in Communal since the plan was
    made (neither what the plan saw nor what it would write) is a conflict, left alone.
    ``unsettled`` names writes an earlier attempt sent without learning the outcome; one
    found holding its value is journalled as landed then, and never sent again. An error
    that stops the user is journalled under the write's key and raised as ``WriteStopped``.
    """
    result = CustomWriteResult()
    client, journal, run_id = writes.client, writes.journal, writes.run_id
    existing: dict[int, CustomProfileFieldValue] | None = None
    for write in user.custom_writes:
        key = (custom_operation_key(user.user_id, write.field_id), _hash(user.user_id, write))
        if key in done:
            result.written[write.field] = write.value
            continue
        if recheck and existing is None:
            existing = {
                v.custom_profile_field_id: v
                for v in client.list_custom_profile_field_values(user.user_id)
                if v.custom_profile_field_id is not None
            }
        current = existing.get(write.field_id) if existing is not None else None
        if existing is not None and _changed_since_planning(user, write, current):
            message = (
                f"{write.field} changed in Communal since the plan was made; not written. "
                "Plan again to see why."
            )
            _journal(journal, run_id, user, write, "conflict", error=message, settled=False)
            result.conflicts.append(message)
            continue

        def announce(write: CustomWrite = write) -> None:
            journal.record_intent(
                run_id,
                operation=custom_operation_key(user.user_id, write.field_id),
                body_hash=_hash(user.user_id, write),
                fields=("value",),
                user_id=user.user_id,
            )

        try:
            after = _send(user.user_id, write, current, client, announce)
        except ApiError as error:
            landed = may_have_landed(error)
            _journal(
                journal,
                run_id,
                user,
                write,
                "failed",
                error=str(error),
                status=error.status,
                settled=not landed,
            )
            if not isinstance(error, RECOVERABLE):
                raise WriteStopped(error, f"{write.field}: {error}") from error
            result.failures.append(f"{write.field}: {error}")
            continue
        if key in unsettled and NOTHING_SENT in after:
            after[NOTHING_SENT] = LANDED_EARLIER
        _journal(journal, run_id, user, write, "applied", after=after, status=200)
        result.written[write.field] = write.value
        if NOTHING_SENT not in after:
            result.sent += 1
    return result


def _changed_since_planning(
    user: UserPlan, write: CustomWrite, current: CustomProfileFieldValue | None
) -> bool:
    """Whether Communal now holds neither the planned "before" nor the value to write."""
    now = (current.value or None) if current is not None else None
    before = next((c.before for c in user.changes if c.field == write.field), None)
    return now not in (before or None, write.value)


def _send(
    user_id: int,
    write: CustomWrite,
    current: CustomProfileFieldValue | None,
    client: CustomValueWriter,
    announce: Callable[[], None],
) -> dict[str, Any]:
    """Carry out one write; with a re-read ``current``, never create a second value.

    ``announce`` journals the intent; it is called right before a request, and only when
    one is sent.
    """
    if current is not None and (current.value or None) == write.value:
        return {"value": write.value, "value_id": current.id, NOTHING_SENT: "already in Communal"}
    value_id = current.id if current is not None else write.value_id
    if write.value is None:
        if value_id is None:
            return {"value": None, "value_id": None, NOTHING_SENT: "nothing to clear"}
        announce()
        client.update_custom_profile_field_value(value_id, user_id, write.field_id, "")
        return {"value": None, "value_id": None}
    announce()
    if value_id is None:
        created = client.create_custom_profile_field_value(user_id, write.field_id, write.value)
        return {"value": write.value, "value_id": created.id if created else None}
    updated = client.update_custom_profile_field_value(
        value_id, user_id, write.field_id, write.value
    )
    return {"value": write.value, "value_id": updated.id if updated else value_id}


def _journal(
    journal: JournalWriter,
    run_id: int,
    user: UserPlan,
    write: CustomWrite,
    outcome: ResultStatus,
    *,
    after: dict[str, Any] | None = None,
    error: str | None = None,
    status: int | None = None,
    settled: bool = True,
) -> None:
    before = next((c.before for c in user.changes if c.field == write.field), None)
    journal.record_result(
        run_id,
        operation=custom_operation_key(user.user_id, write.field_id),
        status=outcome,
        user_id=user.user_id,
        source_line=user.line,
        body_hash=_hash(user.user_id, write),
        http_status=status,
        error=error,
        before={
            "field": write.field,
            "field_id": write.field_id,
            "value": before,
            "value_id": write.value_id,
        },
        after=after,
        settled=settled,
    )


def _hash(user_id: int, write: CustomWrite) -> str:
    return canonical_hash(custom_body(user_id, write))
