"""The results of applying a plan, as the reports show them: one result per planned user.

A run report is a plan report plus what happened. Each planned user gets a result: the
status of its ``Outcome`` (applied, already, failed, conflict), or, with no outcome,
``not_sent`` (apply never got to it: the run stopped or was interrupted, so resuming would
send it) or ``held_back`` (nothing to send: every difference is a skipped conflict, so
apply never sends it). Outcomes for a user the plan does not hold are still listed, as
"other" outcomes, so nothing the API said is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from communal_sync.applying.counts import OUTCOME_STATUSES, tally_outcomes
from communal_sync.plan import Outcome, Plan, UserPlan

Result = Literal["applied", "already", "failed", "conflict", "not_sent", "held_back"]
RESULTS: Final[tuple[Result, ...]] = (
    "applied",
    "already",
    "failed",
    "conflict",
    "not_sent",
    "held_back",
)
"""Every result, in the order the counts and the summary list them."""

RESULT_TEXT: Final[Mapping[Result, str]] = {
    "applied": "applied",
    "already": "already applied",
    "failed": "failed",
    "conflict": "conflict",
    "not_sent": "not sent",
    "held_back": "nothing to send",
}
"""Each result in words, for headings and the results summary."""


@dataclass(frozen=True)
class Run:
    """A run's id (if known) and the outcomes it produced, in the order they happened."""

    run_id: int | None
    outcomes: tuple[Outcome, ...]

    def outcome_of(self, user: UserPlan) -> Outcome | None:
        """The outcome for ``user``; the last one if a user was (wrongly) reported twice."""
        found = None
        for outcome in self.outcomes:
            if outcome.user_id == user.user_id:
                found = outcome
        return found

    def result_of(self, user: UserPlan) -> Result:
        """What happened to ``user``: its outcome's status, ``not_sent`` or ``held_back``."""
        outcome = self.outcome_of(user)
        if outcome is not None:
            return outcome.status
        return "held_back" if user.body is None and not user.custom_writes else "not_sent"

    def others(self, plan: Plan) -> tuple[Outcome, ...]:
        """Outcomes for users ``plan`` does not hold (should not happen; never hidden)."""
        planned = {user.user_id for user in plan.users}
        return tuple(o for o in self.outcomes if o.user_id not in planned)

    def counts(self, plan: Plan) -> dict[str, int]:
        """Planned users by result; every key of ``RESULTS`` is present, zeros included.

        The run's one tally (``applying.counts``), said as results: outcomes for users not
        in the plan count under their own status too, so the counts agree with the list.
        """
        tally = tally_outcomes(plan, self.outcomes)
        counts = {status: tally[status] for status in OUTCOME_STATUSES}
        counts.update(not_sent=tally.pending or 0, held_back=tally.held_back)
        return {result: counts.get(result, 0) for result in RESULTS}

    def summary(self, plan: Plan) -> str:
        """The results in one line: "3 applied, 1 failed, 2 not sent" (zeros left out)."""
        counts = self.counts(plan)
        parts = [f"{counts[r]} {RESULT_TEXT[r]}" for r in RESULTS if counts[r]]
        return ", ".join(parts) if parts else "no user to send"


def make_run(outcomes: Sequence[Outcome] | None, run_id: int | None) -> Run | None:
    """The run to report, or ``None`` for a plan report (neither outcomes nor a run id).

    A run id without outcomes is a run that sent nothing: every user reads ``not_sent``.
    """
    if outcomes is None and run_id is None:
        return None
    return Run(run_id=run_id, outcomes=tuple(outcomes or ()))


def result_message(outcome: Outcome | None) -> str:
    """The outcome's reason (``Outcome.reason``), or "" for a user with no outcome."""
    return "" if outcome is None else outcome.reason
