"""The one tally of a run's outcomes: what ``runs``, ``runs show``, the ``run_finished``
event, the summary line and every report count.

Each planned user counts once, under the worst of their operations' outcomes (a profile
PUT and custom field writes are separate operations): applied, already (sent by an
earlier attempt, or Communal held it already), failed or conflict. A user the plan meant
to send with no outcome is ``pending`` (not sent: the run stopped or was interrupted); a
planned user with nothing to send (every difference a conflict left alone) is held back.
The outcomes come either from ``apply_plan`` (``tally_outcomes``) or, for a run that was
killed before it could count, from the journal (``tally_journal``): the same rules, so a
killed run and a finished one are counted alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from pydantic import ValidationError

from communal_sync.applying.landed import FOUND_NOTE, LANDED_NOTE
from communal_sync.plan import ISSUE_KINDS, Outcome, Plan, issue_words

if TYPE_CHECKING:
    from communal_sync.state.records import ResultRecord, RunRecord

OUTCOME_STATUSES: Final = ("applied", "already", "failed", "conflict")
"""Every outcome a user can have, in the order counts list them."""
SEVERITY: Final[Mapping[str, int]] = {"skipped": 0, "applied": 1, "conflict": 2, "failed": 3}
"""A user with several operations in a run counts under the worst of their outcomes."""
ALREADY_NOTES: Final = frozenset({FOUND_NOTE, LANDED_NOTE})
"""Journal notes of an operation journalled as applied that this attempt did not send."""
CONFLICTS_LEFT_ALONE: Final = "conflicts_left_alone"
"""The stored count of conflicting fields the plan left alone (``--on-conflict skip``)."""

COUNT_LABELS: Final[tuple[tuple[str, str, str], ...]] = (
    ("applied", "applied", "applied"),
    ("already", "already applied", "already applied"),
    ("failed", "failed", "failed"),
    ("conflict", "conflict", "conflicts"),
    ("pending", "not sent", "not sent"),
    ("unchanged", "unchanged", "unchanged"),
    *((kind, issue_words(kind), issue_words(kind)) for kind in ISSUE_KINDS),
    (CONFLICTS_LEFT_ALONE, "conflict left alone", "conflicts left alone"),
    ("clears", "field cleared", "fields cleared"),
    ("locked_fields", "locked field not written", "locked fields not written"),
)
"""Stored count -> how it is said (singular, plural), in the order it is said."""
UNSAID_COUNTS: Final = frozenset({"to_update", "conflicts"})
"""Counts kept for scripts (``--json``) that words leave out: the sum of the outcomes, and
conflicts the plan resolved (those left alone are said)."""


@dataclass(frozen=True)
class Tally:
    """Planned users by outcome; see the module docstring for what each means."""

    by_status: Mapping[str, int]
    """Users by outcome status: every one of ``OUTCOME_STATUSES``, zeros included."""
    pending: int | None
    """Users meant to be sent with no outcome; None when the plan is not known."""
    held_back: int = 0
    """Planned users with nothing to send and no outcome."""

    def __getitem__(self, status: str) -> int:
        return self.by_status.get(status, 0)

    def counts(self) -> dict[str, int]:
        """The outcome counts as a run stores them: each status, then ``pending``."""
        counts = dict(self.by_status)
        if self.pending is not None:
            counts["pending"] = self.pending
        return counts


def tally(plan: Plan | None, statuses: Mapping[int | str, str]) -> Tally:
    """Count ``statuses`` (one per user) against ``plan``'s users."""
    counter = Counter(statuses.values())
    by_status = {status: counter.get(status, 0) for status in OUTCOME_STATUSES}
    by_status.update({s: n for s, n in counter.items() if s not in by_status})
    if plan is None:
        return Tally(by_status=by_status, pending=None)
    to_send = {user.user_id for user in plan.to_update}
    silent = [user.user_id for user in plan.users if user.user_id not in statuses]
    return Tally(
        by_status=by_status,
        pending=sum(1 for uid in silent if uid in to_send),
        held_back=sum(1 for uid in silent if uid not in to_send),
    )


def outcome_statuses(outcomes: Iterable[Outcome]) -> dict[int | str, str]:
    """Each user's status as ``apply_plan`` reported it (the last, if reported twice)."""
    return {outcome.user_id: outcome.status for outcome in outcomes}


def tally_outcomes(plan: Plan | None, outcomes: Iterable[Outcome]) -> Tally:
    """The tally of a run whose outcomes ``apply_plan`` returned."""
    return tally(plan, outcome_statuses(outcomes))


def journal_statuses(results: Iterable[ResultRecord]) -> dict[int | str, str]:
    """Each user's status as the journal holds it.

    Each operation counts by its latest result (a resumed run may repeat one); each user
    by the worst of their operations. An operation with no user counts by itself.
    """
    latest = {r.operation: r for r in results}
    by_user: dict[int | str, str] = {}
    for result in latest.values():
        status: str = result.status
        if status == "applied" and result.error in ALREADY_NOTES:
            status = "already"
        who: int | str = result.user_id if result.user_id is not None else result.operation
        previous = by_user.get(who)
        if previous is None or _severity(status) > _severity(previous):
            by_user[who] = status
    return by_user


def tally_journal(plan: Plan | None, results: Iterable[ResultRecord]) -> Tally:
    """The tally of a run from its journal (a run killed before it counted itself)."""
    return tally(plan, journal_statuses(results))


def run_counts(plan: Plan | None, outcomes: Tally) -> dict[str, int]:
    """Everything a run's exit code follows from, as the journal stores it.

    The outcome counts and the plan's own counts (unchanged, invalid, unmatched, ...,
    conflicts left alone, clears): a run that exits 3 for an invalid row or a skipped
    conflict says so in ``runs`` too.
    """
    counts = outcomes.counts()
    if plan is not None:
        counts.update(plan.counts())
        counts[CONFLICTS_LEFT_ALONE] = plan.conflicts_left_alone
    return counts


def describe_counts(counts: Mapping[str, int]) -> str:
    """A run's counts in words, zeros left out: "3 applied, 1 failed, 2 unchanged, 1 invalid".

    Counts stored by another version under a name this one does not know are said as is.
    """
    known = {key for key, _, _ in COUNT_LABELS} | UNSAID_COUNTS
    parts = [
        f"{counts[key]} {one if counts[key] == 1 else many}"
        for key, one, many in COUNT_LABELS
        if counts.get(key)
    ]
    parts += [f"{value} {key}" for key, value in counts.items() if value and key not in known]
    return ", ".join(parts)


def _severity(status: str) -> int:
    return SEVERITY.get("applied" if status == "already" else status, 0)


class RunHistory(Protocol):
    """The journal as counting a past run reads it."""

    def results(self, run_id: int) -> list[ResultRecord]: ...

    def load_plan(self, run_id: int) -> str | None: ...


def counts_of(
    journal: RunHistory, run: RunRecord, results: list[ResultRecord] | None = None
) -> dict[str, int]:
    """The counts the run stored when it ended; for one that has not ended (killed, or
    still running), its outcomes counted from the journal and its plan's counts.

    A resumed run that was killed again still holds its earlier attempt's counts: the
    journal, which covers every attempt, is the truth then.
    """
    if run.exit_code is not None:
        return dict(run.counts)
    plan = stored_plan(journal, run.id)
    journalled = journal.results(run.id) if results is None else results
    return run_counts(plan, tally_journal(plan, journalled))


def stored_plan(journal: RunHistory, run_id: int) -> Plan | None:
    """The plan a run stored, or None (none stored, or one of another version)."""
    text = journal.load_plan(run_id)
    if text is None:
        return None
    try:
        return Plan.model_validate_json(text)
    except ValidationError:
        return None  # a plan of another version: the journal's counts alone
