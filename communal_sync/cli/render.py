"""Rich renderings of a plan for the terminal: a summary, then per user old -> new."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.plan import Plan, UserPlan
from communal_sync.redact import redact_value

EMPTY = "(empty)"
CLEARED = "(cleared)"
UNKNOWN = "(unknown)"
ISSUE_TITLES = {
    "invalid": "Invalid rows (not pushed)",
    "unmatched": "Unmatched rows (not pushed)",
    "unreachable": "Rows whose Communal record could not be read (not pushed; run again)",
    "ambiguous": "Ambiguous rows (not pushed)",
    "duplicate": "Duplicate rows skipped",
}


def _value(value: str | None, redact: bool, *, empty: str = EMPTY) -> Text:
    shown = redact_value(value, redact)
    return Text(empty if shown is None or shown == "" else shown)


def render_plan(plan: Plan, console: Console, *, redact: bool = False) -> None:
    """Print the plan: refusal first, then the summary, each user's changes, and the rows
    that will not be pushed.

    The refusal, summary and unmapped-columns lines are never wrapped, so a log of a
    nightly run keeps each on one line whatever the terminal width.
    """
    if plan.refused:
        console.print(f"Refused: {escape(plan.refused)}", soft_wrap=True)
    console.print(f"Plan for {escape(plan.input.name)}: {escape(plan.summary())}", soft_wrap=True)
    if plan.unmapped_columns:
        columns = escape(", ".join(repr(c) for c in plan.unmapped_columns))
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}", soft_wrap=True
        )
    for user in plan.users:
        console.print(_user_table(user, redact))
    for kind, title in ISSUE_TITLES.items():
        issues = [i for i in plan.issues if i.kind == kind]
        if not issues:
            continue
        table = Table(title=title, title_justify="left")
        for column in ("line", "field", "value", "reason"):
            table.add_column(column, overflow="fold")
        for issue in issues:
            table.add_row(
                str(issue.line),
                Text(issue.field or ""),
                _value(issue.value, redact, empty=""),
                Text(issue.message),
            )
        console.print(table)


def _user_table(user: UserPlan, redact: bool) -> Table:
    name = redact_value(user.name, redact) or ""
    title = f"User {user.user_id} ({name}, line {user.line}, matched by {user.matched_by})"
    table = Table(title=Text(title), title_justify="left")
    table.add_column("field")
    table.add_column("now", overflow="fold")
    table.add_column("→", overflow="fold")
    table.add_column("from")
    if user.email_change is not None:
        table.add_row(
            "email (identity)",
            _value(user.email_change.old, redact),
            _value(user.email_change.new, redact),
            "last push",
        )
    for change in user.changes:
        after = _value(change.after, redact, empty=CLEARED)
        known = change.provenance != "unknown"
        before = _value(change.before, redact) if known else Text(UNKNOWN)
        table.add_row(Text(change.field), before, after, change.provenance)
    for conflict in user.conflicts:
        table.add_row(
            Text(conflict.field),
            _value(conflict.current, redact),
            _value(conflict.source, redact),
            Text(
                f"CONFLICT: {conflict.resolution} (last pushed "
                f"{redact_value(conflict.base, redact) or EMPTY})"
            ),
        )
    return table
