"""Rich renderings for the terminal: a plan and a run's results.

A plan reads like Terraform's at any size: the summary line first; the count per field;
each user with a change, headed by their name (at most ``SHOWN_USERS`` of them unless
``--show all``, then how many more and where the full list is); the first-time writes
over values Communal never shows, folded into one line; the rows that will not be
pushed; and the summary again, last, right above the question. Every user is printed as
plain styled lines, a chunk at a time, never as one big table: printing a 10,000-user
plan costs a small part of planning it (``bench/plan_render.py``).

Colour follows rich's rules (none when not a terminal, ``TERM=dumb``), and ``NO_COLOR``
turns every style off (``app.stdout_console``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.applying.counts import Tally
from communal_sync.display import MESSAGE_CHARS, SHOWN_VALUE_CHARS, cut, for_terminal, shown
from communal_sync.fields import ADDRESS_FIELDS
from communal_sync.plan import (
    ISSUE_KINDS,
    FieldChange,
    FieldCount,
    IssueKind,
    Outcome,
    Plan,
    RowIssue,
    UserPlan,
    issue_words,
)
from communal_sync.reports import redact_issue
from communal_sync.reports.redaction import redact_value
from communal_sync.words import plural

Show = Literal["changes", "all"]

EMPTY = "(empty)"
NOT_WRITTEN = "NOT WRITTEN"
CLEARED = "(cleared)"
UNKNOWN = "(unknown)"
FIRST_TIME = "first-time"
SHOWN_USERS: Final = 50
"""Users shown in full on the terminal (``--show changes``); the rest are counted, and
listed whole by ``--report`` and ``--show all``."""
SHOWN_ISSUES: Final = 50
"""Rows of each kind of issue listed on the terminal before "…and N more"."""
CHUNK_USERS: Final = 100
"""Users rendered into one ``Text`` before it is printed: streamed, never one huge object."""

OLD: Final = "red"
NEW: Final = "green"
CLEAR: Final = "bold red"
CONFLICT: Final = "bold yellow"
HELD: Final = "yellow"
FIRST: Final = "cyan"
HEADING: Final = "bold"

ISSUE_TITLES = {
    "invalid": "Invalid rows (not pushed)",
    "unmatched": "Unmatched rows (not pushed)",
    "unreachable": "Rows whose Communal record could not be read (not pushed; run again)",
    "ambiguous": "Ambiguous rows (not pushed)",
    "mismatched": "Rows matched to someone else in Communal (not pushed; check the id)",
    "duplicate": "Duplicate rows skipped",
    "email_cycle": "Email changes in a cycle (not pushed; see the way out)",
}
NOT_PUSHED_KINDS: Final[tuple[IssueKind, ...]] = tuple(k for k in ISSUE_KINDS if k != "duplicate")
"""The issue kinds repeated just above the question: rows that will not be pushed."""


def _value(value: str | None, redact: bool, *, empty: str = EMPTY) -> Text:
    masked = redact_value(value, redact)
    return Text(empty if masked is None or masked == "" else shown(masked))


def _text(text: str | None, limit: int = SHOWN_VALUE_CHARS) -> Text:
    """Text from the data or the API (a field name, a reason): cut and escaped."""
    return Text(shown(text, limit))


# --- the summary lines ----------------------------------------------------------------------


def plan_summary(plan: Plan) -> str:
    """The plan's summary with the first-time writes counted: what the terminal says first
    and last ("…, 52 first-time writes over values Communal never shows")."""
    summary = plan.summary()
    if first := plan.first_time_writes:
        summary += f", {first} first-time {plural(first, 'write')} over values Communal never shows"
    return summary


def summary_line(plan: Plan) -> str:
    """The line "Plan for FILE: SUMMARY", escaped for the terminal (rich markup too)."""
    return escape(f"Plan for {for_terminal(plan.input.name)}: {plan_summary(plan)}")


def field_counts_line(counts: tuple[FieldCount, ...]) -> str:
    """The count per field: "Per field: telephone 13 · profile_address 57, of which 52
    first-time · …"."""
    parts: list[str] = []
    for count in counts:
        said = [str(count.users)] if count.users else []
        if count.first_time:
            said.append(f"of which {count.first_time} {FIRST_TIME}")
        if count.clears:
            said.append(f"{count.clears} cleared")
        if count.conflicts:
            said.append(f"{count.conflicts} {plural(count.conflicts, 'conflict')}")
        head, *rest = said
        parts.append(" ".join([shown(count.field), head]) + "".join(f", {r}" for r in rest))
    return escape("Per field: " + " · ".join(parts))


def not_pushed_line(plan: Plan) -> str | None:
    """The line "Not pushed: 2 invalid, 3 unmatched." (None when every row is pushed)."""
    parts = [
        f"{n} {issue_words(kind)}" for kind in NOT_PUSHED_KINDS if (n := plan.issue_count(kind))
    ]
    if left_alone := plan.conflicts_left_alone:
        parts.append(f"{left_alone} {plural(left_alone, 'conflict')} left alone")
    return f"Not pushed: {', '.join(parts)}." if parts else None


def question(plan: Plan) -> str:
    """The question, "Apply these changes to 400 users?" (typer adds " [y/N]")."""
    count = len(plan.to_update)
    return f"Apply these changes to {count} {plural(count, 'user')}?"


# --- the plan -------------------------------------------------------------------------------


def render_plan(
    plan: Plan,
    console: Console,
    *,
    redact: bool = False,
    show: Show = "changes",
    quiet: bool = False,
    report: Path | None = None,
) -> None:
    """Print the plan: refusal first, the summary, the count per field, each user's real
    changes, the first-time writes (folded unless ``show == "all"``), the rows that will
    not be pushed, and the summary again with the rows not pushed repeated under it
    (unless nothing was listed between: then the first line is the last).

    ``quiet`` prints the summary line only (and the refusal). The refusal, summary and
    count lines are never wrapped, so a log of a nightly run keeps each on one line.
    """
    if plan.refused:
        refused = escape(shown(plan.refused, MESSAGE_CHARS))
        console.print(f"[{CLEAR}]Refused:[/] {refused}", soft_wrap=True)
    summary = summary_line(plan)
    console.print(summary, soft_wrap=True)
    if quiet:
        return
    if plan.unmapped_columns:
        columns = escape(", ".join(repr(cut(c)) for c in plan.unmapped_columns))
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}", soft_wrap=True
        )
    if counts := plan.field_counts():
        console.print(field_counts_line(counts), soft_wrap=True)
    _render_changes(plan, console, redact=redact, show=show, report=report)
    _render_first_time(plan, console, redact=redact, show=show)
    _render_issues(plan, console, redact=redact, show=show, report=report)
    if not (plan.users or plan.issues):
        return  # nothing listed: the first line is the last
    console.print()
    console.print(summary, soft_wrap=True)
    if line := not_pushed_line(plan):
        console.print(line, soft_wrap=True)


def _real(user: UserPlan) -> tuple[FieldChange, ...]:
    return tuple(c for c in user.changes if not c.is_first_time)


def _first(user: UserPlan) -> tuple[FieldChange, ...]:
    return tuple(c for c in user.changes if c.is_first_time)


def _has_real_lines(user: UserPlan) -> bool:
    """Whether the user has anything besides first-time writes to show."""
    return bool(
        _real(user)
        or user.email_change is not None
        or user.temporary_email is not None
        or user.conflicts
        or user.skipped
    )


def _more_line(hidden: int, noun: str, report: Path | None) -> str:
    where = (
        f"the full list is in {for_terminal(str(report))}; --show all prints it"
        if report is not None
        else "the full list: --report plan.html / --show all"
    )
    return escape(f"…and {hidden} more {plural(hidden, noun)} ({where})")


def _render_changes(
    plan: Plan, console: Console, *, redact: bool, show: Show, report: Path | None
) -> None:
    users = [u for u in plan.users if _has_real_lines(u)]
    if not users:
        return
    limit = len(users) if show == "all" else SHOWN_USERS
    console.print()
    console.print(
        Text(f"Changes ({len(users)} {plural(len(users), 'user')}):", style=HEADING),
        soft_wrap=True,
    )
    _print_chunks(console, users[:limit], redact, first=False)
    if len(users) > limit:
        console.print(_more_line(len(users) - limit, "user", report), soft_wrap=True)


def _render_first_time(plan: Plan, console: Console, *, redact: bool, show: Show) -> None:
    users = [u for u in plan.users if _first(u)]
    if not users:
        return
    console.print()
    fields: dict[str, int] = {}
    for user in users:
        for change in _first(user):
            fields[change.field] = fields.get(change.field, 0) + 1
    what = (
        "first address push"
        if all(name in ADDRESS_FIELDS for name in fields)
        else "first push of values Communal never shows"
    )
    detail = ", ".join(f"{shown(name)} {n}" for name, n in fields.items())
    heading = "First-time writes over values Communal never shows"
    if show == "all":
        console.print(Text(f"{heading}:", style=HEADING), soft_wrap=True)
        _print_chunks(console, users, redact, first=True)
        return
    console.print(
        Text(f"{heading} (folded; --show all lists them):", style=HEADING), soft_wrap=True
    )
    line = Text("  ")
    line.append(f"{len(users)} {plural(len(users), 'user')}: {what}", style=FIRST)
    line.append(f" ({detail})")
    console.print(line, soft_wrap=True)


class _Painter:
    """Styled plain lines written straight to the console's file, ``CHUNK_USERS`` users
    at a time: rich renders each style once (to learn its escape codes, or none when
    colour is off), never the lines themselves, so 10,000 users cost milliseconds."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._codes: dict[str, tuple[str, str]] = {}

    def paint(self, text: str, style: str | None) -> str:
        if not style or not text:
            return text
        codes = self._codes.get(style)
        if codes is None:
            with self._console.capture() as captured:
                self._console.print(Text("\0", style=style), end="")
            prefix, _, suffix = captured.get().partition("\0")
            codes = self._codes[style] = (prefix, suffix)
        return f"{codes[0]}{text}{codes[1]}"

    def write(self, blocks: Iterator[str]) -> None:
        chunk: list[str] = []
        for block in blocks:
            chunk.append(block)
            if len(chunk) == CHUNK_USERS:
                self._flush(chunk)
        self._flush(chunk)

    def _flush(self, chunk: list[str]) -> None:
        if chunk and not self._console.quiet:  # a quiet console prints nothing, as print does
            self._console.file.write("".join(chunk))
            self._console.file.flush()
            chunk.clear()


def _print_chunks(console: Console, users: list[UserPlan], redact: bool, *, first: bool) -> None:
    """Print each user's block (``_user_block``), streamed."""
    painter = _Painter(console)
    painter.write(_user_block(u, redact, painter, first_time=first) for u in users)


def user_heading(user: UserPlan, redact: bool) -> str:
    """The line "User 103 (Chen Wei, line 3, matched by id)": each user named."""
    name = shown(redact_value(user.name, redact))
    return f"User {user.user_id} ({name}, line {user.line}, matched by {user.matched_by})"


Piece = tuple[str, str | None]
"""Text to show (cut and escaped already) and its style."""
Row = tuple[str, Piece, Piece, Piece]
"""One field's line: the field, what Communal has now, what it gets, where now is from."""


def _user_block(user: UserPlan, redact: bool, painter: _Painter, *, first_time: bool) -> str:
    """A user's heading and one line per field: ``field: now → after  [from]``.

    ``first_time`` renders the user's first-time writes only (``--show all``); otherwise
    every other line (changes, identity, conflicts, locked fields), never those.
    """
    lines = [painter.paint(user_heading(user, redact), HEADING)]
    rows = _first_time_rows(user, redact) if first_time else _user_rows(user, redact)
    width = max((len(row[0]) for row in rows), default=0)
    for field_name, now, after, source in rows:
        lines.append(
            f"  {field_name}:{' ' * (width - len(field_name) + 1)}{painter.paint(*now)} → "
            f"{painter.paint(*after)}  [{painter.paint(*source)}]"
        )
    return "\n".join(lines) + "\n"


def _shown_value(value: str | None, redact: bool, *, empty: str = EMPTY) -> str:
    masked = redact_value(value, redact)
    return empty if masked is None or masked == "" else shown(masked)


def _change_row(change: FieldChange, redact: bool) -> Row:
    known = change.provenance != "unknown"
    source: str = change.provenance
    if change.provenance == "snapshot" and change.note:
        source = shown(change.note, MESSAGE_CHARS)
    if change.field == "email" and change.note:
        source = f"{source}; {shown(change.note, MESSAGE_CHARS)}"  # its place in a chain
    before = _shown_value(change.before, redact) if known else UNKNOWN
    after = _shown_value(change.after, redact, empty=CLEARED)
    return (
        shown(change.field),
        (before, OLD),
        (after, CLEAR if change.is_clear else NEW),
        (source, None),
    )


def _first_time_rows(user: UserPlan, redact: bool) -> list[Row]:
    return [
        (
            shown(change.field),
            (UNKNOWN, None),
            (_shown_value(change.after, redact), FIRST),
            (FIRST_TIME, FIRST),
        )
        for change in _first(user)
    ]


def _user_rows(user: UserPlan, redact: bool) -> list[Row]:
    """One row per field that changes (first-time writes aside), conflicts or is locked."""
    rows: list[Row] = []
    if user.email_change is not None:
        rows.append(
            (
                "email (identity)",
                (_shown_value(user.email_change.old, redact), OLD),
                (_shown_value(user.email_change.new, redact), NEW),
                ("last push", None),
            )
        )
    rows.extend(_change_row(change, redact) for change in _real(user))
    if user.temporary_email is not None:
        rows.append(
            (
                "email (first step)",
                ("", None),
                (_shown_value(user.temporary_email, redact), NEW),
                ("temporary, to free the address (--break-email-cycles)", None),
            )
        )
    for conflict in user.conflicts:
        base = shown(redact_value(conflict.base, redact)) or EMPTY
        rows.append(
            (
                shown(conflict.field),
                (_shown_value(conflict.current, redact), None),
                (_shown_value(conflict.source, redact), None),
                (f"CONFLICT: {conflict.resolution} (last pushed {base})", CONFLICT),
            )
        )
    for skipped in user.skipped:
        rows.append(
            (
                shown(skipped.field),
                (_shown_value(skipped.current, redact), None),
                (_shown_value(skipped.source, redact), None),
                (f"{NOT_WRITTEN}: {shown(skipped.reason, MESSAGE_CHARS)}", HELD),
            )
        )
    return rows


def _render_issues(
    plan: Plan, console: Console, *, redact: bool, show: Show, report: Path | None
) -> None:
    listed = [redact_issue(i) for i in plan.issues] if redact else list(plan.issues)
    for kind, title in ISSUE_TITLES.items():
        issues = [i for i in listed if i.kind == kind]
        if not issues:
            continue
        limit = len(issues) if show == "all" else SHOWN_ISSUES
        console.print()
        console.print(_issue_table(title, issues[:limit], redact))
        if len(issues) > limit:
            console.print(_more_line(len(issues) - limit, "row", report), soft_wrap=True)


def _issue_table(title: str, issues: list[RowIssue], redact: bool) -> Table:
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
    return table


# --- a run ----------------------------------------------------------------------------------


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
