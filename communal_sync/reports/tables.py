"""The tables of the human-readable reports, as plain cells: Markdown and HTML render them.

Both formats show the same sections from the same tables, so they cannot drift apart.
A ``Cell`` is either a value from the data or a placeholder the tool wrote ("(cleared)",
"—"); renderers style placeholders differently so a value that happens to read
"(cleared)" is never mistaken for one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from communal_sync.plan import FieldChange, IssueKind, Plan, UserPlan
from communal_sync.reports.results import Run

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


Tone = Literal["good", "change", "bad", "warn", "info", "neutral"]
"""How a count, a result or a cell is coloured: what a glance should tell."""


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` to show, whether it is a placeholder, not a value, and the
    ``tone`` it is coloured in (HTML only; ``None``: plain)."""

    text: str
    placeholder: bool = False
    tone: Tone | None = None


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


def is_first_time(change: FieldChange) -> bool:
    """A write over a value Communal never shows (``Plan.first_time_writes`` counts these)."""
    return change.provenance == "unknown"


def seen_changes_table(user: UserPlan) -> Table:
    """A person's changes over values the tool knows (live or our last push): field |
    before | after | provenance | note."""
    table = Table(("field", "before", "after", "provenance", "note"))
    for change in user.changes:
        if not is_first_time(change):
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


def first_time_changes_table(user: UserPlan) -> Table:
    """A person's first-time writes: field | written | note (there is no "before")."""
    table = Table(("field", "written", "note"))
    for change in user.changes:
        if is_first_time(change):
            table.rows.append((text_cell(change.field), after_cell(change), text_cell(change.note)))
    return table


def conflict_table(plan: Plan) -> Table:
    """Every conflict with the person's name: the three values and what was decided."""
    table = Table(
        ("user", "name", "line", "field", "last pushed", "in Communal", "in file", "resolution")
    )
    for user in plan.users:
        for conflict in user.conflicts:
            tone: Tone = "warn" if conflict.resolution == "skipped" else "neutral"
            table.rows.append(
                (
                    text_cell(str(user.user_id)),
                    value_cell(user.name),
                    text_cell(str(user.line)),
                    text_cell(conflict.field),
                    value_cell(conflict.base),
                    value_cell(conflict.current),
                    value_cell(conflict.source),
                    Cell(RESOLUTION_TEXT[conflict.resolution], tone=tone),
                )
            )
    return table


def issue_kind_table(plan: Plan, kind: IssueKind) -> Table:
    """The row issues of one kind: line | field | value | reason."""
    table = Table(("line", "field", "value", "reason"))
    for issue in plan.issues:
        if issue.kind == kind:
            table.rows.append(
                (
                    text_cell(str(issue.line)),
                    text_cell(issue.field),
                    value_cell(issue.value),
                    text_cell(issue.message),
                )
            )
    return table


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
