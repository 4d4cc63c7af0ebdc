"""The Markdown report: title, summary, refusal, results, a table per user, conflicts, locked
fields, issues.

Every value is escaped: Markdown punctuation (pipes, backticks, emphasis, links, HTML
angle brackets) gets a backslash, and a line break inside a value becomes ``<br>`` so a
table row stays one line. Placeholders ("(cleared)", "—") are set in italics, so they
cannot be confused with a value that reads the same.
"""

from __future__ import annotations

import re
from typing import Final

from communal_sync.plan import Plan
from communal_sync.reports.results import Run
from communal_sync.reports.tables import (
    RUN_TITLE,
    TITLE,
    Cell,
    Table,
    change_table,
    conflict_table,
    issue_table,
    locked_table,
    plan_facts,
    result_table,
    run_facts,
    user_facts,
    user_heading,
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
    """The report as a Markdown document ending in a newline.

    With ``run`` it is a run report: the run id and results in the header, a "Results"
    section before the changes, and each user's heading ends with its result.
    """
    title = TITLE if run is None else RUN_TITLE
    facts = plan_facts(plan) + ([] if run is None else run_facts(plan, run))
    lines = [f"# {title}", "", f"**{escape_markdown(plan.summary())}**", ""]
    lines += [f"- {label}: {escape_markdown(text)}" for label, text in facts]
    lines.append("")
    if plan.refused:
        lines += [f"> **Refused:** {escape_markdown(plan.refused)}", ""]
    if plan.warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {escape_markdown(w, line_start=True)}" for w in plan.warnings]
        lines.append("")
    if run is not None:
        lines += ["## Results", ""]
        lines += _table(result_table(plan, run), empty="No user to send.")
    lines += ["## Changes", ""]
    if not plan.users:
        lines += ["No user to update.", ""]
    for user in plan.users:
        lines += [f"### {escape_markdown(user_heading(user, run))}", ""]
        lines += [escape_markdown(" ".join(user_facts(user))), ""]
        lines += _table(change_table(user), empty="No field changes.")
    lines += ["## Conflicts", ""]
    lines += _table(conflict_table(plan), empty="No conflicts.")
    lines += ["## Locked fields (not written)", ""]
    lines += _table(locked_table(plan), empty="No locked field differs.")
    lines += ["## Row issues", ""]
    lines += _table(issue_table(plan), empty="No row issues.")
    if plan.unmapped_columns:
        lines += ["## Unmapped columns", ""]
        lines += [f"- {escape_markdown(c, line_start=True)}" for c in plan.unmapped_columns]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(table: Table, *, empty: str) -> list[str]:
    if not table.rows:
        return [empty, ""]
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
