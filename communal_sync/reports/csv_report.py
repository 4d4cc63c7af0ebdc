"""The CSV report: one row per change, conflict, email change and row issue.

Columns: ``user_id, line, name, field, before, after, provenance, note, status``. For a
conflict, ``before`` is Communal's current value, ``after`` the file's, and ``note`` says
what was last pushed and what was decided; a locked custom field whose value differs
(status "locked: not written") reads like a conflict, ``note`` giving the reason; for a
row issue, ``after`` holds the file's
value and ``note`` the reason. ``None`` is an empty cell; ``status`` tells a clear
("clear") from an empty value.

A run report (after apply) appends two columns, ``result, result_message``, to every row;
a plan report has neither, so it reads exactly as before and the first nine columns mean
the same in both. ``result`` is what happened to the row's user (applied, already,
failed, conflict, not_sent, held_back; see ``results``) and ``result_message`` the API's
message with its per-field errors; both are empty on row-issue and refusal rows. An
outcome for a user the plan does not hold gets a row of its own, so none is dropped.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, so
following the OWASP CSV-injection guidance every such cell (also after leading
whitespace, or starting with a tab or carriage return) gets a leading ``'`` and every
cell is quoted. That includes negative numbers: a report is read, not computed on.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Final

from communal_sync.plan import Conflict, Plan, UserPlan
from communal_sync.reports.results import Run, result_message

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
RUN_CSV_COLUMNS: Final = (*CSV_COLUMNS, "result", "result_message")
"""A run report's columns: the plan report's, then what happened to the row's user."""
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

LOCKED_STATUS: Final = "locked: not written"
"""The status of a locked field's differing value: reported, never sent."""

Row = tuple[str, ...]


def neutralize_cell(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet could run it as a formula."""
    stripped = text.lstrip()
    if text.startswith(FORMULA_TRIGGERS) or stripped.startswith(FORMULA_TRIGGERS):
        return FORMULA_ESCAPE + text
    return text


_FORMULA_BODY: Final = re.compile(r"[A-Za-z!|\"'=(]")


def neutralize_data_cell(text: str) -> str:
    """Like ``neutralize_cell``, for files of source rows meant to be fixed and fed back.

    A leading ``+`` or ``-`` is left alone when what follows cannot run anything (a phone
    number such as "+1 416 555 0101", a negative number), so the data survives the round
    trip; ``=``, ``@``, tab, CR, and ``+``/``-`` before letters or a call are escaped.
    """
    stripped = text.lstrip()
    if stripped[:1] in ("+", "-") and not _FORMULA_BODY.search(stripped):
        return text
    return neutralize_cell(text)


def render_csv(plan: Plan, run: Run | None = None) -> str:
    """The report as CSV text (RFC 4180 line endings, no byte-order mark).

    ``write_report`` adds the UTF-8 byte-order mark when writing a file, so that Excel
    opens accented names correctly; text returned here is for pipes and tests. With
    ``run`` the rows carry the ``result`` and ``result_message`` columns.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(CSV_COLUMNS if run is None else RUN_CSV_COLUMNS)
    for row in _rows(plan, run):
        writer.writerow([neutralize_cell(cell) for cell in row])
    return buffer.getvalue()


def _rows(plan: Plan, run: Run | None) -> list[Row]:
    no_result: Row = () if run is None else ("", "")
    rows: list[Row] = []
    if plan.refused:
        rows.append(("", "", "", "", "", "", "", plan.refused, "refused", *no_result))
    for user in plan.users:
        rows.extend(_with_result(_user_rows(user), user, run))
    if run is not None:
        for outcome in run.others(plan):
            who = (str(outcome.user_id), str(outcome.line))
            rows.append((*who, "", "", "", "", "", "", "", outcome.status, result_message(outcome)))
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
                *no_result,
            )
        )
    return rows


def _with_result(rows: list[Row], user: UserPlan, run: Run | None) -> list[Row]:
    """``rows`` with the user's result appended; in a run, at least one row per user."""
    if run is None:
        return rows
    if not rows:
        rows = [(str(user.user_id), str(user.line), user.name, "", "", "", "", "", "")]
    result = (run.result_of(user), result_message(run.outcome_of(user)))
    return [(*row, *result) for row in rows]


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
    for skipped in user.skipped:
        rows.append(
            (
                *who,
                skipped.field,
                skipped.current or "",
                skipped.source or "",
                "",
                skipped.reason,
                LOCKED_STATUS,
            )
        )
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
