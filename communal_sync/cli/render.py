"""Rich renderings for the terminal: a plan (a summary, then per user old -> new) and a
run's results (what was not updated, and the summary line)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.applying.counts import Tally
from communal_sync.display import MESSAGE_CHARS, SHOWN_VALUE_CHARS, cut, for_terminal, shown
from communal_sync.plan import ISSUE_KINDS, IssueKind, Outcome, Plan, UserPlan, issue_words
from communal_sync.reports import redact_issue
from communal_sync.reports.redaction import redact_value
from communal_sync.words import plural

EMPTY = "(empty)"
NOT_WRITTEN = "NOT WRITTEN"
CLEARED = "(cleared)"
UNKNOWN = "(unknown)"
PER_USER_TABLES = 25
"""Up to this many users get a table each (with their name); more share one table."""
ISSUE_TITLES = {
    "invalid": "Invalid rows (not pushed)",
    "unmatched": "Unmatched rows (not pushed)",
    "unreachable": "Rows whose Communal record could not be read (not pushed; run again)",
    "ambiguous": "Ambiguous rows (not pushed)",
    "mismatched": "Rows matched to someone else in Communal (not pushed; check the id)",
    "duplicate": "Duplicate rows skipped",
    "email_cycle": "Email changes in a cycle (not pushed; see the way out)",
}


def _value(value: str | None, redact: bool, *, empty: str = EMPTY) -> Text:
    masked = redact_value(value, redact)
    return Text(empty if masked is None or masked == "" else shown(masked))


def _text(text: str | None, limit: int = SHOWN_VALUE_CHARS) -> Text:
    """Text from the data or the API (a field name, a reason): cut and escaped."""
    return Text(shown(text, limit))


def render_plan(plan: Plan, console: Console, *, redact: bool = False) -> None:
    """Print the plan: refusal first, then the summary, each user's changes, and the rows
    that will not be pushed.

    The refusal, summary and unmapped-columns lines are never wrapped, so a log of a
    nightly run keeps each on one line whatever the terminal width.
    """
    if plan.refused:
        console.print(f"Refused: {escape(shown(plan.refused, MESSAGE_CHARS))}", soft_wrap=True)
    name = for_terminal(plan.input.name)
    console.print(f"Plan for {escape(name)}: {escape(plan.summary())}", soft_wrap=True)
    if plan.unmapped_columns:
        columns = escape(", ".join(repr(cut(c)) for c in plan.unmapped_columns))
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}", soft_wrap=True
        )
    if len(plan.users) > PER_USER_TABLES:
        console.print(_changes_lines(plan.users, redact), soft_wrap=True, end="")
    else:
        for user in plan.users:
            console.print(_user_table(user, redact))
    listed = [redact_issue(i) for i in plan.issues] if redact else list(plan.issues)
    for kind, title in ISSUE_TITLES.items():
        issues = [i for i in listed if i.kind == kind]
        if not issues:
            continue
        if len(issues) > PER_USER_TABLES * 8:
            console.print(title, soft_wrap=True)
            lines = Text()
            for issue in issues:
                value = _value(issue.value, redact, empty="")
                lines.append(f"line {issue.line} {shown(issue.field)} ")
                lines.append_text(value)
                lines.append(f": {shown(issue.message, MESSAGE_CHARS)}\n")
            console.print(lines, soft_wrap=True, end="")
            continue
        table = Table(title=title, title_justify="left")
        for column in ("line", "field", "value", "reason"):
            table.add_column(column, overflow="fold")
        for issue in issues:
            table.add_row(
                str(issue.line),
                _text(issue.field),
                _value(issue.value, redact, empty=""),
                _text(issue.message, MESSAGE_CHARS),
            )
        console.print(table)


def _user_rows(user: UserPlan, redact: bool) -> list[tuple[Text, Text, Text, Text]]:
    """One row per field that changes, conflicts or is locked: field, now, after, from."""
    rows: list[tuple[Text, Text, Text, Text]] = []
    if user.email_change is not None:
        rows.append(
            (
                Text("email (identity)"),
                _value(user.email_change.old, redact),
                _value(user.email_change.new, redact),
                Text("last push"),
            )
        )
    for change in user.changes:
        known = change.provenance != "unknown"
        source: str = change.provenance
        if change.provenance == "snapshot" and change.note:
            source = shown(change.note, MESSAGE_CHARS)
        if change.field == "email" and change.note:
            source = f"{source}; {shown(change.note, MESSAGE_CHARS)}"  # its place in a chain
        rows.append(
            (
                _text(change.field),
                _value(change.before, redact) if known else Text(UNKNOWN),
                _value(change.after, redact, empty=CLEARED),
                Text(source),
            )
        )
    if user.temporary_email is not None:
        rows.append(
            (
                Text("email (first step)"),
                Text(""),
                _value(user.temporary_email, redact),
                Text("temporary, to free the address (--break-email-cycles)"),
            )
        )
    for conflict in user.conflicts:
        rows.append(
            (
                _text(conflict.field),
                _value(conflict.current, redact),
                _value(conflict.source, redact),
                Text(
                    f"CONFLICT: {conflict.resolution} (last pushed "
                    f"{shown(redact_value(conflict.base, redact)) or EMPTY})"
                ),
            )
        )
    for skipped in user.skipped:
        rows.append(
            (
                _text(skipped.field),
                _value(skipped.current, redact),
                _value(skipped.source, redact),
                Text(f"{NOT_WRITTEN}: {shown(skipped.reason, MESSAGE_CHARS)}"),
            )
        )
    return rows


def _user_table(user: UserPlan, redact: bool) -> Table:
    name = shown(redact_value(user.name, redact))
    title = f"User {user.user_id} ({name}, line {user.line}, matched by {user.matched_by})"
    table = Table(title=Text(title), title_justify="left")
    table.add_column("field")
    table.add_column("now", overflow="fold")
    table.add_column("→", overflow="fold")
    table.add_column("from")
    for row in _user_rows(user, redact):
        table.add_row(*row)
    return table


def _changes_lines(users: tuple[UserPlan, ...], redact: bool) -> Text:
    """Every user's changes as plain lines, one per field: past a few dozen users a table
    per user costs more than the API calls (about 9 ms each), and reads no better."""
    text = Text()
    for user in users:
        for field_name, now, after, source in _user_rows(user, redact):
            text.append(f"user {user.user_id} (line {user.line}) ")
            text.append_text(field_name)
            text.append(": ")
            text.append_text(now)
            text.append(" → ")
            text.append_text(after)
            text.append("  [")
            text.append_text(source)
            text.append("]\n")
    return text


def render_failures(failures: list[Outcome], console: Console, *, redact: bool) -> None:
    """The "Not updated" table: each user that failed or conflicted, and why."""
    if not failures:
        return
    table = Table(title="Not updated", title_justify="left")
    for column in ("user", "line", "result", "reason"):
        table.add_column(column, overflow="fold")
    for outcome in failures:
        table.add_row(
            str(outcome.user_id),
            str(outcome.line),
            outcome.status,
            Text(shown(redact_value(outcome.reason, redact), MESSAGE_CHARS)),
        )
    console.print(table)


def run_summary(plan: Plan, tally: Tally, run_id: int) -> str:
    """One line: what the run did, then the rows it did not touch (every reason for exit 3)."""
    applied = tally["applied"]
    parts = [f"{applied} {plural(applied, 'user')} updated"]
    if tally["already"]:
        parts.append(f"{tally['already']} already applied")
    parts.append(f"{len(plan.unchanged)} unchanged")
    for status, label in (("failed", "failed"), ("conflict", "conflict")):
        if tally[status]:
            parts.append(f"{tally[status]} {label}")
    if tally.pending:
        parts.append(f"{tally.pending} not sent")
    if left_alone := plan.conflicts_left_alone:
        parts.append(f"{left_alone} {plural(left_alone, 'conflict')} left alone")
    kinds: tuple[IssueKind, ...] = tuple(k for k in ISSUE_KINDS if k != "duplicate")
    for kind in kinds:
        if n := plan.issue_count(kind):
            parts.append(f"{n} {issue_words(kind)}")
    return f"Run {run_id}: " + ", ".join(parts)
