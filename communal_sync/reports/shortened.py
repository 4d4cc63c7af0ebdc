"""A copy of a plan (and of a run's outcomes) with every shown value cut to a fixed length.

Every report format renders what this returns, as the terminal does, so a 50 MB cell is
one short line in a report too (see ``display.cut``). The PUT bodies stay whole: they are
what is sent, and the JSON report carries them as data.
"""

from __future__ import annotations

from communal_sync.display import MESSAGE_CHARS, cut
from communal_sync.plan import Outcome, Plan, RowIssue, UserPlan
from communal_sync.reports.results import Run


def shortened_plan(plan: Plan) -> Plan:
    """``plan`` with every value a report shows cut (``None`` stays ``None``)."""
    return plan.model_copy(
        update={
            "users": tuple(_user(user) for user in plan.users),
            "issues": tuple(_issue(issue) for issue in plan.issues),
            "unmapped_columns": tuple(cut(c) for c in plan.unmapped_columns),
            "warnings": tuple(cut(w, MESSAGE_CHARS) for w in plan.warnings),
        }
    )


def shortened_run(run: Run) -> Run:
    """``run`` with each outcome's message and field errors cut."""
    return Run(run_id=run.run_id, outcomes=tuple(_outcome(o) for o in run.outcomes))


def _user(user: UserPlan) -> UserPlan:
    email_change = user.email_change
    if email_change is not None:
        email_change = email_change.model_copy(
            update={"old": cut(email_change.old), "new": cut(email_change.new)}
        )
    return user.model_copy(
        update={
            "name": cut(user.name),
            "external_id": cut(user.external_id),
            "email_change": email_change,
            "changes": tuple(
                c.model_copy(
                    update={
                        "field": cut(c.field),
                        "before": cut(c.before),
                        "after": cut(c.after),
                        "note": cut(c.note, MESSAGE_CHARS),
                    }
                )
                for c in user.changes
            ),
            "conflicts": tuple(
                c.model_copy(
                    update={
                        "field": cut(c.field),
                        "base": cut(c.base),
                        "current": cut(c.current),
                        "source": cut(c.source),
                    }
                )
                for c in user.conflicts
            ),
            "skipped": tuple(
                s.model_copy(
                    update={
                        "field": cut(s.field),
                        "current": cut(s.current),
                        "source": cut(s.source),
                    }
                )
                for s in user.skipped
            ),
        }
    )


def _issue(issue: RowIssue) -> RowIssue:
    return issue.model_copy(
        update={
            "field": cut(issue.field),
            "value": cut(issue.value),
            "message": cut(issue.message, MESSAGE_CHARS),
            "quoted": tuple(cut(q) for q in issue.quoted),
        }
    )


def _outcome(outcome: Outcome) -> Outcome:
    return outcome.model_copy(
        update={
            "message": cut(outcome.message, MESSAGE_CHARS),
            "field_errors": {
                cut(name): [cut(m, MESSAGE_CHARS) for m in messages]
                for name, messages in outcome.field_errors.items()
            },
        }
    )
