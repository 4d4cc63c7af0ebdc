"""A copy of a plan with every personal value masked, for reports written with ``--redact``.

Every report format renders the plan this returns, so one function decides what is
personal: values (before, after, base, current, source, locked fields' values, emails,
names, external ids, PUT body and pushed values, invalid values, and the names and emails
a row issue's message quotes). Field names, user ids, line numbers, provenance, counts and
the tool's own messages stay readable. Row hashes (``source_hash``) stay too: they are
digests of whole rows, not values, and runs are compared by them.

Outcomes of a run carry the API's words, which may quote a value ("ada@example.org has
already been taken"): ``redact_run`` masks every value of the outcome's user wherever a
message or per-field error quotes it, the way issue messages are scrubbed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from communal_sync.plan import (
    Conflict,
    EmailChange,
    FieldChange,
    Outcome,
    Plan,
    RowIssue,
    SkippedField,
    UserPlan,
)
from communal_sync.reports.results import Run

REDACTED: Final = "•••"


def redact_value(value: str | None, redact: bool) -> str | None:
    """``value`` itself, or a mask when redacting (``None`` and blanks stay visible as such)."""
    if not redact or value is None or value == "":
        return value
    return REDACTED


def redact_plan(plan: Plan) -> Plan:
    """Return ``plan`` with every personal value replaced by ``REDACTED``.

    ``None`` and blank values stay as they are, so a clear is still visible as a clear.
    A message or note that quotes its own value gets that value masked too.
    """
    return plan.model_copy(
        update={
            "users": tuple(_redact_user(user) for user in plan.users),
            "issues": tuple(redact_issue(issue) for issue in plan.issues),
        }
    )


def redact_run(plan: Plan, run: Run) -> Run:
    """Return ``run`` with its user's values masked in every outcome message and field error.

    ``plan`` must be the unredacted plan: it holds the values to look for. An outcome for
    a user the plan does not hold has no known values, so its texts are masked whole.
    Field names, statuses and HTTP statuses stay readable.
    """
    users = {user.user_id: user for user in plan.users}
    return Run(
        run_id=run.run_id,
        outcomes=tuple(_redact_outcome(o, users.get(o.user_id)) for o in run.outcomes),
    )


def _redact_outcome(outcome: Outcome, user: UserPlan | None) -> Outcome:
    def scrub(text: str) -> str:
        return REDACTED if user is None else _scrub(text, _user_values(user))

    message = None if outcome.message is None else scrub(outcome.message)
    field_errors = {
        name: [scrub(text) for text in texts] for name, texts in outcome.field_errors.items()
    }
    return outcome.model_copy(update={"message": message, "field_errors": field_errors})


def _user_values(user: UserPlan) -> tuple[str | None, ...]:
    """Every personal value the plan holds for ``user``: any of them may be quoted back."""
    values: list[str | None] = [user.name, user.external_id]
    if user.email_change is not None:
        values += [user.email_change.old, user.email_change.new]
    for change in user.changes:
        values += [change.before, change.after]
    for conflict in user.conflicts:
        values += [conflict.base, conflict.current, conflict.source]
    for skipped in user.skipped:
        values += [skipped.current, skipped.source]
    values += (user.body or {}).values()
    values += user.pushed.values()
    values.append(user.temporary_email)
    return tuple(values)


def _mask(value: str | None) -> str | None:
    return redact_value(value, True)


def _mask_values(values: Mapping[str, str | None]) -> dict[str, str | None]:
    return {name: _mask(value) for name, value in values.items()}


def _redact_user(user: UserPlan) -> UserPlan:
    email_change = None
    if user.email_change is not None:
        email_change = EmailChange(old=REDACTED, new=REDACTED)
    return user.model_copy(
        update={
            "name": REDACTED,
            "external_id": _mask(user.external_id),
            "email_change": email_change,
            "changes": tuple(_redact_change(change) for change in user.changes),
            "conflicts": tuple(_redact_conflict(conflict) for conflict in user.conflicts),
            "skipped": tuple(_redact_skipped(skipped) for skipped in user.skipped),
            "body": None if user.body is None else _mask_values(user.body),
            "pushed": _mask_values(user.pushed),
            "temporary_email": _mask(user.temporary_email),
        }
    )


def _redact_change(change: FieldChange) -> FieldChange:
    note = change.note
    if note is not None:
        note = _scrub(note, (change.before, change.after))
    return change.model_copy(
        update={"before": _mask(change.before), "after": _mask(change.after), "note": note}
    )


def _redact_conflict(conflict: Conflict) -> Conflict:
    return conflict.model_copy(
        update={
            "base": _mask(conflict.base),
            "current": _mask(conflict.current),
            "source": _mask(conflict.source),
        }
    )


def _redact_skipped(skipped: SkippedField) -> SkippedField:
    return skipped.model_copy(
        update={"current": _mask(skipped.current), "source": _mask(skipped.source)}
    )


def redact_issue(issue: RowIssue) -> RowIssue:
    """``issue`` with its value, and every personal value its message quotes, masked.

    The terminal rendering uses it too, so a table on screen and a report agree.
    """
    return issue.model_copy(
        update={
            "value": _mask(issue.value),
            "message": _scrub(issue.message, (issue.value, *issue.quoted)),
            "quoted": tuple(REDACTED for _ in issue.quoted),
        }
    )


def _scrub(text: str, values: tuple[str | None, ...]) -> str:
    """Mask each of ``values`` where it appears in ``text`` as a whole word or phrase.

    Whole words only, so masking a one-letter middle name does not mangle the sentence.
    """
    for value in sorted((v.strip() for v in values if v and v.strip()), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", REDACTED, text)
    return text
