"""Sending email changes in order: no PUT takes an address before its holder has left it.

The plan says, for each user, whose address their new one is (``UserPlan.email_after``)
and, for the first user of a cycle broken with ``--break-email-cycles``, the temporary
address they move to first (``UserPlan.temporary_email``). ``Schedule`` hands out the
steps of a run in an order that respects both, at any concurrency:

- a user's address is *freed* when their temporary step landed (cycle breakers), or
  otherwise when their PUT landed (applied, or already applied by an earlier attempt);
- a user whose ``email_after`` has not freed their address waits; when it has, they are
  ready; when that user's change failed, conflicted or was held, they are held too (not
  sent: the PUT could only be refused as "already taken") and so is anyone waiting on them.

A step that waits on nothing in flight, ready or waiting (a cycle left unbroken in a
saved plan) is held rather than waiting forever.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from communal_sync.errors import Rejected
from communal_sync.plan import Outcome, UserPlan
from communal_sync.values.normalize import email_key

TEMPORARY_OPERATION: Final = "email-temp"
"""The journal's kind of operation for a cycle breaker's move to its temporary address."""
LANDED: Final = frozenset({"applied", "already"})

StepKind = Literal["temporary", "final"]


def temporary_key(user_id: int) -> str:
    """The journal's name for ``user_id``'s move to its temporary address."""
    return f"{TEMPORARY_OPERATION}:{user_id}"


def temporary_body(user: UserPlan) -> dict[str, str | None]:
    """The first step of breaking a cycle: the user's current names, the temporary address.

    Only the email changes, so a kill between the steps leaves nothing half-renamed.
    """
    assert user.temporary_email is not None and user.body is not None
    before = {c.field: c.before for c in user.changes}
    return {
        "first_name": before.get("first_name", user.body.get("first_name")),
        "last_name": before.get("last_name", user.body.get("last_name")),
        "email": user.temporary_email,
    }


@dataclass(frozen=True)
class Step:
    """One PUT of a run: a user's move to a temporary address, or their planned PUT."""

    user: UserPlan
    kind: StepKind = "final"


@dataclass
class Schedule:
    """Which steps may be sent now; see the module docstring for the rules."""

    users: Mapping[int, UserPlan]
    ready: deque[Step] = field(default_factory=deque)
    waiting: dict[int, list[Step]] = field(default_factory=dict)
    freed: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)
    """User id -> why their address was not freed (their change did not land)."""

    @classmethod
    def of(cls, todo: Iterable[UserPlan]) -> Schedule:
        users = list(todo)
        schedule = cls(users={u.user_id: u for u in users})
        for user in users:
            if user.temporary_email is not None:
                schedule.ready.append(Step(user, "temporary"))
            else:
                schedule._enqueue(Step(user))
        return schedule

    def _enqueue(self, step: Step) -> list[Outcome]:
        """Make ``step`` ready or waiting; a step whose address will never be freed is held."""
        after = step.user.email_after
        if after is None or after not in self.users or after in self.freed:
            self.ready.append(step)
        elif after in self.failed:
            held = held_outcome(step.user, self.failed[after])
            return [held, *self._fail(step.user.user_id, f"user {held.user_id}'s change was held")]
        else:
            self.waiting.setdefault(after, []).append(step)
        return []

    def take(self) -> Step | None:
        """The next step that may be sent, or None."""
        return self.ready.popleft() if self.ready else None

    def finished(self, step: Step, outcome: Outcome) -> list[Outcome]:
        """Record how ``step`` ended; return the outcomes of users held because of it."""
        user = step.user
        landed = outcome.status in LANDED
        if step.kind == "temporary" and landed:
            self._free(user.user_id)
            return self._enqueue(Step(user))
        if step.kind == "final" and landed:
            if user.temporary_email is None:
                self._free(user.user_id)
            return []
        return self._fail(user.user_id, f"user {user.user_id}'s change {outcome.status}")

    def stalled(self) -> list[Outcome]:
        """Hold every waiting step: nothing in flight or ready can free what they wait for."""
        held: list[Outcome] = []
        while self.waiting:
            after = min(self.waiting)
            held += self._fail(after, f"user {after}'s change was never sent (a cycle)")
        return held

    @property
    def left(self) -> int:
        """Steps not handed out yet (ready or waiting)."""
        return len(self.ready) + sum(len(steps) for steps in self.waiting.values())

    def _free(self, user_id: int) -> None:
        self.freed.add(user_id)
        for step in self.waiting.pop(user_id, []):
            self.ready.append(step)

    def _fail(self, user_id: int, why: str) -> list[Outcome]:
        self.failed[user_id] = why
        held: list[Outcome] = []
        for step in self.waiting.pop(user_id, []):
            held.append(held_outcome(step.user, why))
            held += self._fail(step.user.user_id, f"user {step.user.user_id}'s change was held")
        return held


def held_outcome(user: UserPlan, why: str) -> Outcome:
    """The outcome of a PUT not sent because the address it takes was not freed."""
    return Outcome(
        user_id=user.user_id,
        line=user.line,
        status="failed",
        message=(
            f"Not sent: the new email is still user {user.email_after}'s, and {why}, so "
            f"Communal would refuse it as already taken. Settle user {user.email_after}'s "
            "change first (its own reason says how), then push again."
        ),
    )


def freed_addresses(users: Iterable[UserPlan]) -> dict[str, int]:
    """Email key -> the user this plan moves off that address (their email changes)."""
    freed: dict[str, int] = {}
    for user in users:
        for change in user.changes:
            if change.field == "email" and change.before and change.after:
                freed[email_key(change.before)] = user.user_id
    return freed


def explain_taken(
    error: Rejected, user: UserPlan, body: Mapping[str, str | None], freed: Mapping[str, int]
) -> Rejected:
    """A 422 on the email of an address this plan frees, said as what it is.

    The API's own words ("Fix them in the input") would send the operator to fix a file
    that is right: the address belongs to another user of this plan until their change
    lands, or someone outside the file took it once it was freed.
    """
    address = body.get("email")
    holder = freed.get(email_key(address)) if address else None
    if "email" not in error.errors or holder is None or holder == user.user_id:
        return error
    said = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.errors.items())
    message = (
        f"The API rejected the values for user {user.user_id} (422): {said.rstrip('. ')}. "
        f"This plan moves user {holder} off that address: if their change has not landed "
        f"yet, push again once it has; if it has, someone else in Communal took the address "
        "since. The input is right."
    )
    return Rejected(message, errors=error.errors, status=error.status)


def explain_temporary(error: Rejected, user: UserPlan) -> Rejected:
    """A 422 on a cycle breaker's move to its temporary address: nothing of the cycle moved."""
    if "email" not in error.errors:
        return error
    said = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in error.errors.items())
    message = (
        f"The API rejected the temporary address of user {user.user_id} (422): "
        f"{said.rstrip('. ')}. Nothing of the email cycle was changed: free that address "
        "in Communal, or change one address of the cycle there by hand, and push again."
    )
    return Rejected(message, errors=error.errors, status=error.status)
