"""The content of the human-readable reports, as plain cells: Markdown and HTML render it.

Both formats show the same sections from the same tables, so they cannot drift apart.
A ``Cell`` is either a value from the data or a placeholder the tool wrote ("(cleared)",
"—"); renderers style placeholders differently so a value that happens to read
"(cleared)" is never mistaken for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from communal_sync.plan import Conflict, FieldChange, Outcome, Plan, UserPlan
from communal_sync.reports.results import RESULT_TEXT, Run

TITLE: Final = "communal-sync plan"
RUN_TITLE: Final = "communal-sync run"
EMPTY: Final = "—"
CLEARED: Final = "(cleared)"
UNKNOWN: Final = "(unknown)"

RESOLUTION_TEXT: Final = {
    "skipped": "skipped: Communal left as is",
    "source": "file value sent",
    "communal": "Communal value kept",
}
"""What each conflict resolution did, in words."""


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` to show, and whether it is a placeholder, not a value."""

    text: str
    placeholder: bool = False


@dataclass(frozen=True)
class Table:
    """Headers and rows of cells; an empty table is rendered as a sentence, not a grid."""

    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)


def value_cell(value: str | None) -> Cell:
    """A value, or the empty placeholder for ``None`` and blanks."""
    if value is None or value == "":
        return Cell(EMPTY, placeholder=True)
    return Cell(value)


def before_cell(change: FieldChange) -> Cell:
    """The current value; "(unknown)" where Communal's value could not be known."""
    if change.before is None and change.provenance == "unknown":
        return Cell(UNKNOWN, placeholder=True)
    return value_cell(change.before)


def after_cell(change: FieldChange) -> Cell:
    """The new value; "(cleared)" for an explicit clear."""
    if change.is_clear:
        return Cell(CLEARED, placeholder=True)
    return value_cell(change.after)


def text_cell(text: str | None) -> Cell:
    """Text the tool wrote (field names, notes, reasons): never a placeholder unless empty."""
    return Cell(text) if text else Cell("", placeholder=True)


def change_table(user: UserPlan) -> Table:
    """One user's field changes: field | before | after | provenance | note."""
    table = Table(("field", "before", "after", "provenance", "note"))
    for change in user.changes:
        table.rows.append(
            (
                text_cell(change.field),
                before_cell(change),
                after_cell(change),
                text_cell(change.provenance),
                text_cell(change.note),
            )
        )
    return table


def conflict_table(plan: Plan) -> Table:
    """Every conflict: who, which field, the three values, and what was decided."""
    table = Table(("user", "line", "field", "last pushed", "in Communal", "in file", "resolution"))
    for user in plan.users:
        for conflict in user.conflicts:
            table.rows.append(_conflict_row(user, conflict))
    return table


def _conflict_row(user: UserPlan, conflict: Conflict) -> tuple[Cell, ...]:
    return (
        text_cell(str(user.user_id)),
        text_cell(str(user.line)),
        text_cell(conflict.field),
        value_cell(conflict.base),
        value_cell(conflict.current),
        value_cell(conflict.source),
        text_cell(RESOLUTION_TEXT[conflict.resolution]),
    )


def locked_table(plan: Plan) -> Table:
    """Every locked field whose file value differs from Communal's: reported, never sent."""
    table = Table(("user", "line", "field", "in Communal", "in file", "reason"))
    for user in plan.users:
        for skipped in user.skipped:
            table.rows.append(
                (
                    text_cell(str(user.user_id)),
                    text_cell(str(user.line)),
                    text_cell(skipped.field),
                    value_cell(skipped.current),
                    value_cell(skipped.source),
                    text_cell(skipped.reason),
                )
            )
    return table


def issue_table(plan: Plan) -> Table:
    """Every row that will not be pushed: line | kind | field | value | reason."""
    table = Table(("line", "kind", "field", "value", "reason"))
    for issue in plan.issues:
        table.rows.append(
            (
                text_cell(str(issue.line)),
                text_cell(issue.kind),
                text_cell(issue.field),
                value_cell(issue.value),
                text_cell(issue.message),
            )
        )
    return table


def result_table(plan: Plan, run: Run) -> Table:
    """What happened to each planned user, then any other outcome the run reported.

    Columns: user | line | result | HTTP status | message | field errors (the API's
    per-field errors, one "field: message" per line).
    """
    table = Table(("user", "line", "result", "HTTP status", "message", "field errors"))
    for user in plan.users:
        outcome = run.outcome_of(user)
        result = RESULT_TEXT[run.result_of(user)]
        table.rows.append(_result_row(user.user_id, user.line, result, outcome))
    for outcome in run.others(plan):
        result = RESULT_TEXT[outcome.status]
        table.rows.append(_result_row(outcome.user_id, outcome.line, result, outcome))
    return table


def _result_row(user_id: int, line: int, result: str, outcome: Outcome | None) -> tuple[Cell, ...]:
    status = outcome.http_status if outcome is not None else None
    message = outcome.message if outcome is not None else None
    errors = outcome.field_error_lines() if outcome is not None else []
    return (
        text_cell(str(user_id)),
        text_cell(str(line)),
        text_cell(result),
        text_cell(None if status is None else str(status)),
        text_cell(message),
        text_cell("\n".join(errors)),
    )


def user_heading(user: UserPlan, run: Run | None = None) -> str:
    """The heading above a user's changes: "User 42: Ada Lovelace", plus " — failed" in a run."""
    heading = f"User {user.user_id}: {user.name}"
    if run is None:
        return heading
    return f"{heading} — {RESULT_TEXT[run.result_of(user)]}"


def run_facts(plan: Plan, run: Run) -> list[tuple[str, str]]:
    """Label and text for a run report's header: the run id (if known) and its results."""
    facts = [] if run.run_id is None else [("Run", str(run.run_id))]
    facts.append(("Results", run.summary(plan)))
    return facts


def user_facts(user: UserPlan) -> list[str]:
    """Sentences under the heading: source line, how it matched, identity events."""
    facts = [f"Line {user.line}, matched by {user.matched_by.replace('_', ' ')}."]
    if user.external_id:
        facts.append(f"External id: {user.external_id}.")
    if user.email_change is not None:
        facts.append(
            f"Email change (same person): {user.email_change.old} → {user.email_change.new}."
        )
    if user.body is None and not user.custom_writes:
        facts.append(
            "Nothing will be sent: every difference is a skipped conflict or a locked field."
        )
    return facts


def plan_facts(plan: Plan) -> list[tuple[str, str]]:
    """Label and text for the header: input, time, API and the options that shaped the plan."""
    source = plan.input
    described = f"{source.name} ({source.format}, {source.rows} rows"
    if source.sha256:
        described += f", sha256 {source.sha256}"
    described += ")"
    options = plan.options
    chosen = [f"on conflict: {options.on_conflict}"]
    if options.allow_clear:
        chosen.append("clearing allowed: " + ", ".join(options.allow_clear))
    if options.full_refresh:
        chosen.append("full refresh")
    if options.discover:
        chosen.append("discover")
    if options.trust_ids:
        chosen.append("ids trusted (no identity check)")
    return [
        ("Input", described),
        ("Planned at", plan.created_at),
        ("API", plan.base_url),
        ("Options", "; ".join(chosen)),
        ("Tool version", plan.tool_version),
    ]
