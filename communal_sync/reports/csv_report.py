"""The CSV report: one row per change, conflict, email change and row issue.

Columns: ``user_id, line, name, field, before, after, provenance, note, status``. For a
conflict, ``before`` is Communal's current value, ``after`` the file's, and ``note`` says
what was last pushed and what was decided; for a row issue, ``after`` holds the file's
value and ``note`` the reason. ``None`` is an empty cell; ``status`` tells a clear
("clear") from an empty value.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, so
following the OWASP CSV-injection guidance every such cell (also after leading
whitespace, or starting with a tab or carriage return) gets a leading ``'`` and every
cell is quoted. That includes negative numbers: a report is read, not computed on.
"""

from __future__ import annotations

import csv
import io
from typing import Final

from communal_sync.plan import Conflict, Plan, UserPlan

CSV_COLUMNS: Final = (
    "user_id",
    "line",
    "name",
    "field",
    "before",
    "after",
    "provenance",
    "note",
    "status",
)
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
"""First characters a spreadsheet may treat as the start of a formula (OWASP)."""
FORMULA_ESCAPE: Final = "'"

CONFLICT_NOTES: Final = {
    "skipped": "Changed in Communal since the last push and in the file; field left as is "
    "(choose with --on-conflict source|communal).",
    "source": "Changed in Communal since the last push; the file's value is sent "
    "(--on-conflict source).",
    "communal": "Changed in Communal since the last push; Communal's value is kept "
    "(--on-conflict communal).",
}

Row = tuple[str, ...]


def neutralize_cell(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet could run it as a formula."""
    stripped = text.lstrip()
    if text.startswith(FORMULA_TRIGGERS) or stripped.startswith(FORMULA_TRIGGERS):
        return FORMULA_ESCAPE + text
    return text


def render_csv(plan: Plan) -> str:
    """The report as CSV text (RFC 4180 line endings, no byte-order mark).

    ``write_report`` adds the UTF-8 byte-order mark when writing a file, so that Excel
    opens accented names correctly; text returned here is for pipes and tests.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS)
    for row in _rows(plan):
        writer.writerow([neutralize_cell(cell) for cell in row])
    return buffer.getvalue()


def _rows(plan: Plan) -> list[Row]:
    rows: list[Row] = []
    if plan.refused:
        rows.append(("", "", "", "", "", "", "", plan.refused, "refused"))
    for user in plan.users:
        rows.extend(_user_rows(user))
    for issue in plan.issues:
        rows.append(
            (
                "",
                str(issue.line),
                "",
                issue.field or "",
                "",
                issue.value or "",
                "",
                issue.message,
                issue.kind,
            )
        )
    return rows


def _user_rows(user: UserPlan) -> list[Row]:
    who = (str(user.user_id), str(user.line), user.name)
    rows: list[Row] = []
    for change in user.changes:
        status = "clear" if change.is_clear else "change"
        rows.append(
            (
                *who,
                change.field,
                change.before or "",
                change.after or "",
                change.provenance,
                change.note or "",
                status,
            )
        )
    for conflict in user.conflicts:
        rows.append((*who, *_conflict_cells(conflict)))
    if user.email_change is not None:
        rows.append(
            (
                *who,
                "email",
                user.email_change.old,
                user.email_change.new,
                "",
                "Same person, new email: the email differs from the one last pushed.",
                "email change",
            )
        )
    return rows


def _conflict_cells(conflict: Conflict) -> Row:
    base = conflict.base if conflict.base else "(empty)"
    note = f"{CONFLICT_NOTES[conflict.resolution]} Last pushed: {base}."
    return (
        conflict.field,
        conflict.current or "",
        conflict.source or "",
        "",
        note,
        f"conflict ({conflict.resolution})",
    )
