"""Source rows plus an ``error`` column: ``validate --errors-out`` and ``push --failed-out``.

Each row is written with the values the reader gave it (every column of the file, text as
decoded, so a fixed file can be fed straight back) and one more column saying why it was
not pushed. The file is UTF-8 CSV; cells a spreadsheet would run as a formula get a leading
``'`` (``neutralize_data_cell``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Final

from communal_sync.errors import CommunalSyncError
from communal_sync.files import private_writer
from communal_sync.plan import Outcome, Plan
from communal_sync.reports.csv_report import neutralize_data_cell
from communal_sync.sources.source import STDIN_NAME, open_source

ERROR_COLUMN: Final = "error"


class ErrorRowsWriter:
    """Writes rows with their reason as they come; the header once, even for no rows.

    Rows of a JSON export may carry keys the first record lacked: the columns are the
    file's headers, then any extra keys of the first row written, then ``error``.
    """

    def __init__(self, handle: IO[str], headers: Sequence[str]) -> None:
        self._handle = handle
        self._headers = list(headers)
        self._writer: csv.DictWriter[str] | None = None

    def add(self, values: Mapping[str, str], reason: str) -> None:
        """Write one source row and why it was not pushed."""
        if self._writer is None:
            extra = [k for k in values if k not in self._headers]
            self._writer = csv.DictWriter(
                self._handle,
                fieldnames=[*self._headers, *extra, ERROR_COLUMN],
                extrasaction="ignore",
            )
            # The header is text from the export too: a "=HYPERLINK(...)" column name runs.
            self._writer.writerow(
                {name: neutralize_data_cell(name) for name in self._writer.fieldnames}
            )
        row = {**values, ERROR_COLUMN: reason}
        self._writer.writerow({k: neutralize_data_cell(v) for k, v in row.items()})

    def finish(self) -> None:
        """Write the header alone if no row was written, so the file is never empty."""
        if self._writer is None:
            names = [*self._headers, ERROR_COLUMN]
            csv.writer(self._handle).writerow([neutralize_data_cell(name) for name in names])


def failed_row_reasons(plan: Plan, failed: Sequence[Outcome]) -> dict[int, list[str]]:
    """Why each source line was not pushed: its failed outcome, or its row issue."""
    reasons: dict[int, list[str]] = {}
    for outcome in failed:
        reasons.setdefault(outcome.line, []).append(outcome.message or outcome.status)
    for issue in plan.issues:
        if issue.kind != "duplicate":
            where = f"{issue.field}: " if issue.field else ""
            reasons.setdefault(issue.line, []).append(where + issue.message)
    return reasons


def write_failed_rows(
    plan: Plan, failed: Sequence[Outcome], path: Path, *, warn: Callable[[str], None]
) -> bool:
    """Write the source rows that were not pushed (failed, conflicting, invalid,
    unmatched), re-read from the input, plus an ``error`` column: ready to fix and feed
    back. Standard input or a pipe cannot be re-read; ``warn`` says so and nothing is
    written (opening a pipe again would wait forever). Return whether the file was written."""
    reasons = failed_row_reasons(plan, failed)
    if plan.input.name == STDIN_NAME or not Path(plan.input.name).is_file():
        warn(
            f"--failed-out needs the input file again, and {plan.input.name} cannot be re-read "
            "(standard input, a pipe, or a file moved since); no file was written."
        )
        return False
    try:
        source = open_source(plan.input.name)
    except CommunalSyncError as error:
        warn(f"--failed-out: {error}")
        return False
    with source, private_writer(path, newline="") as handle:
        writer = ErrorRowsWriter(handle, source.headers)
        for row in source.rows():
            if row.line in reasons:
                writer.add(row.values, "; ".join(reasons[row.line]))
        writer.finish()
    return True
