"""The Markdown report: the HTML report's sections in the same order (``overview``): the
headline and counts, the per-field summary, the rows that need action, then the people.

Every value is escaped: Markdown punctuation (pipes, backticks, emphasis, links, HTML
angle brackets) gets a backslash, and a line break inside a value becomes ``<br>`` so a
table row stays one line. Placeholders ("(cleared)", "—") are set in italics, so they
cannot be confused with a value that reads the same.
"""

from __future__ import annotations

import re
from typing import Final

from communal_sync.plan import Plan, UserPlan
from communal_sync.reports.overview import (
    cards,
    duplicate_group,
    field_table,
    first_time_table,
    first_time_title,
    headline,
    needs_action,
    outcome_sentence,
    people,
    person_fields,
    person_title,
    summary_line,
)
from communal_sync.reports.results import RESULT_TEXT, Run
from communal_sync.reports.tables import (
    RUN_TITLE,
    TITLE,
    Cell,
    Table,
    first_time_changes_table,
    locked_table,
    plan_facts,
    run_facts,
    seen_changes_table,
    user_facts,
)

_INLINE: Final = re.compile(r"([\\`*\[\]<>|&~$#])")
"""Characters that start code, emphasis, links, raw HTML, table cells, strikes, math or
close a heading."""
_UNDERSCORE: Final = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
"""An underscore that could open or close emphasis: not one inside a word (profile_city)."""
_BLOCK_START: Final = re.compile(r"^(\s*)([+\-=>]|\d+(?=[.)]))")
"""A list, quote or setext marker at the start of a line (``#`` is escaped everywhere)."""
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")


def escape_markdown(text: str, *, line_start: bool = False) -> str:
    """``text`` with every Markdown-significant character backslash-escaped.

    CommonMark lets any ASCII punctuation be escaped, so a value can never start code,
    a link, emphasis, raw HTML, a table cell or a heading; with ``line_start`` (a list
    item's text) it cannot start a nested list or quote either. Line breaks become
    ``<br>`` so a table row stays on one line.
    """
    escaped = _INLINE.sub(r"\\\1", text)
    escaped = _UNDERSCORE.sub(r"\\_", escaped)
    if line_start:
        escaped = _BLOCK_START.sub(_escape_block_start, escaped)
    return _LINE_BREAK.sub("<br>", escaped)


def _escape_block_start(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker.isdigit():
        return indent + marker + "\\"
    return indent + "\\" + marker


def render_markdown(plan: Plan, run: Run | None = None) -> str:
    """The report as a Markdown document ending in a newline, in the HTML report's order.

    The headline says what happened ("10 users updated, 2 failed"), then the counts, the
    per-field summary, the rows that need action, warnings, changes by person, the users
    with only first-time writes (one table), locked fields, skipped duplicates, unmapped
    columns and the details. A section with nothing in it is left out.
    """
    kind = TITLE if run is None else RUN_TITLE
    if run is not None and run.run_id is not None:
        kind += f" {run.run_id}"
    lines = [
        f"# {escape_markdown(headline(plan, run))}",
        "",
        escape_markdown(f"{kind} · {plan.input.name} · {plan.created_at}"),
        "",
        f"**{escape_markdown(summary_line(plan, run))}**",
        "",
    ]
    if plan.refused:
        lines += [f"> **Refused:** {escape_markdown(plan.refused)}", ""]
    lines += [f"- **{card.count}** {card.label}" for card in cards(plan, run)]
    lines.append("")
    fields = field_table(plan, run)
    if fields.rows:
        lines += ["## Fields", "", *_table(fields)]
    groups = needs_action(plan, run)
    if groups:
        lines += ["## Needs action", ""]
        for group in groups:
            lines += [f"### {escape_markdown(group.title)}", ""]
            if group.hint:
                lines += [escape_markdown(group.hint), ""]
            lines += _table(group.table)
    if plan.warnings:
        lines += [f"## Warnings ({len(plan.warnings)})", ""]
        lines += [f"- {escape_markdown(w, line_start=True)}" for w in plan.warnings]
        lines.append("")
    split = people(plan)
    if split.changed:
        lines += [f"## Changes by person ({len(split.changed)})", ""]
        for user in split.changed:
            lines += _person(user, run)
    if split.first_time_only:
        lines += [f"## {escape_markdown(first_time_title(split.first_time_only))}", ""]
        lines += [
            "Communal never shows these fields, so there is no old value to compare: each is "
            "the first value we send.",
            "",
        ]
        lines += _table(first_time_table(split.first_time_only, run))
    if not plan.users:
        lines += ["Nothing to update.", ""]
    locked = locked_table(plan)
    if locked.rows:
        lines += ["## Locked fields (not written)", "", *_table(locked)]
    duplicates = duplicate_group(plan)
    if duplicates is not None:
        lines += [f"## {escape_markdown(duplicates.title)}", "", *_table(duplicates.table)]
    if plan.unmapped_columns:
        lines += ["## Unmapped columns", ""]
        lines += [f"- {escape_markdown(c, line_start=True)}" for c in plan.unmapped_columns]
        lines.append("")
    facts = plan_facts(plan) + ([] if run is None else run_facts(plan, run))
    lines += ["## Details", ""]
    lines += [f"- {label}: {escape_markdown(text)}" for label, text in facts]
    return "\n".join(lines).rstrip("\n") + "\n"


def _person(user: UserPlan, run: Run | None) -> list[str]:
    heading = person_title(user)
    if run is not None:
        heading += f" — {RESULT_TEXT[run.result_of(user)]}"
    lines = [f"### {escape_markdown(heading)}", ""]
    lines += [escape_markdown(f"Fields: {person_fields(user)}. " + " ".join(user_facts(user))), ""]
    if run is not None:
        lines += [escape_markdown(outcome_sentence(user, run)), ""]
    seen = seen_changes_table(user)
    if seen.rows:
        lines += _table(seen)
    first = first_time_changes_table(user)
    if first.rows:
        lines += ["First-time writes (Communal never shows these fields):", ""]
        lines += _table(first)
    return lines


def _table(table: Table) -> list[str]:
    lines = [
        "| " + " | ".join(table.headers) + " |",
        "|" + "|".join("---" for _ in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in table.rows]
    lines.append("")
    return lines


def _cell(cell: Cell) -> str:
    if cell.placeholder:
        return f"*{escape_markdown(cell.text)}*" if cell.text else ""
    return escape_markdown(cell.text)
