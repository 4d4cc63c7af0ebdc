"""A copy of a plan with every personal value masked, for reports written with ``--redact``.

Every report format renders the plan this returns, so one function decides what is
personal: values (before, after, base, current, source, emails, names, external ids, PUT
body and pushed values, invalid values). Field names, user ids, line numbers, provenance,
counts and the tool's own messages stay readable. Row hashes (``source_hash``) stay too:
they are digests of whole rows, not values, and runs are compared by them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from communal_sync.plan import Conflict, EmailChange, FieldChange, Plan, RowIssue, UserPlan
from communal_sync.redact import REDACTED, redact_value


def redact_plan(plan: Plan) -> Plan:
    """Return ``plan`` with every personal value replaced by ``REDACTED``.

    ``None`` and blank values stay as they are, so a clear is still visible as a clear.
    A message or note that quotes its own value gets that value masked too.
    """
    return plan.model_copy(
        update={
            "users": tuple(_redact_user(user) for user in plan.users),
            "issues": tuple(_redact_issue(issue) for issue in plan.issues),
        }
    )


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
            "body": None if user.body is None else _mask_values(user.body),
            "pushed": _mask_values(user.pushed),
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


def _redact_issue(issue: RowIssue) -> RowIssue:
    return issue.model_copy(
        update={"value": _mask(issue.value), "message": _scrub(issue.message, (issue.value,))}
    )


def _scrub(text: str, values: tuple[str | None, ...]) -> str:
    """Mask each of ``values`` where it appears in ``text`` as a whole word or phrase.

    Whole words only, so masking a one-letter middle name does not mangle the sentence.
    """
    for value in sorted((v.strip() for v in values if v and v.strip()), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", REDACTED, text)
    return text
