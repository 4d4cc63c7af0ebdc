"""``communal-sync validate FILE``: read, map and validate an export; change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.options import (
    OUTPUT_PANEL,
    FileArg,
    FormatOpt,
    IntakeFlags,
    RedactOpt,
    ReportFormat,
    flags,
)
from communal_sync.cli.outputs import check_outputs, refuse_raw_with_redact
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal, shown
from communal_sync.errors import ExitCode
from communal_sync.files import private_writer
from communal_sync.intake.pipeline import open_intake
from communal_sync.intake.validate import RowResult, ValidationSummary, summarize
from communal_sync.reports.error_rows import ErrorRowsWriter
from communal_sync.reports.redaction import REDACTED, redact_value

SHOWN_PROBLEMS: Final = 20
"""Problems the text report lists: a screenful; ``--format json`` and ``--errors-out`` have all."""

ErrorsOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--errors-out",
        metavar="FILE.csv",
        help="Write the invalid rows, as they came in plus an 'error' column, to this CSV "
        "(unredacted, so not with --redact; cells a spreadsheet would run as formulas get a "
        "leading ').",
        rich_help_panel=OUTPUT_PANEL,
    ),
]


@app.command()
@handles_errors
@flags
def validate(
    file: FileArg,
    intake: IntakeFlags,
    report_format: FormatOpt = ReportFormat.text,
    redact: RedactOpt = False,
    errors_out: ErrorsOutOpt = None,
) -> None:
    """Check an export: every row read, mapped and validated; nothing is sent anywhere.

    Exit 0 when every row is valid, 3 when some are invalid, 1 when the file cannot be read.
    """
    refuse_raw_with_redact("--errors-out", errors_out, redact)
    check_outputs({"--errors-out": errors_out}, inputs=(file,))
    export = open_intake(file, intake.intake_options())
    for message in export.warnings:
        warn(message)
    if errors_out is not None:
        with private_writer(errors_out, newline="") as handle:
            writer = ErrorRowsWriter(handle, export.source.headers)
            summary = summarize(_tee_invalid(export.results(), writer), export.mapping)
            writer.finish()
    else:
        summary = export.summary()  # no rows needed: one read when no key repeats

    if report_format is ReportFormat.json:
        typer.echo(json.dumps(_summary_json(summary, export.source.name, redact), indent=2))
    else:
        _render_text(summary, export.source.name, redact)
    raise typer.Exit(ExitCode.ROW_FAILURES if summary.invalid else ExitCode.OK)


def _tee_invalid(results: Iterator[RowResult], writer: ErrorRowsWriter) -> Iterator[RowResult]:
    """Pass results through, writing each invalid or skipped row with its reasons."""
    for result in results:
        if result.status != "valid":
            writer.add(result.source.values, _reasons(result))
        yield result


def _reasons(result: RowResult) -> str:
    return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in result.errors)


def _summary_json(summary: ValidationSummary, name: str, redact: bool) -> dict[str, Any]:
    return {
        "file": name,
        "rows": summary.rows,
        "valid": summary.valid,
        "invalid": summary.invalid,
        "duplicates": summary.duplicates,
        "errors": [
            {
                "line": e.line,
                "field": e.field,
                "value": cut(redact_value(e.value, redact)),
                "message": e.message,
            }
            for e in summary.errors
        ],
        "unmapped_columns": list(summary.unmapped_columns),
    }


def _summary_line(summary: ValidationSummary, name: str) -> str:
    return (
        f"{escape(for_terminal(name))}: {summary.rows} rows, {summary.valid} valid, "
        f"{summary.invalid} invalid"
        + (f", {summary.duplicates} duplicates skipped" if summary.duplicates else "")
    )


def _render_text(summary: ValidationSummary, name: str, redact: bool) -> None:
    """The summary, unmapped columns and at most ``SHOWN_PROBLEMS`` problems.

    A file with thousands of bad rows would scroll the summary away: past the bound one line
    says how many more there are and where to find them, and the summary is repeated last.
    """
    console = stdout_console()
    console.print(_summary_line(summary, name))
    if summary.unmapped_columns:
        columns = escape(", ".join(repr(cut(c)) for c in summary.unmapped_columns))
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}. "
            'Use --map "Column=field" to map one.'
        )
    if not summary.errors:
        return
    table = Table(title="Problems", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_column("reason", overflow="fold")
    for error in summary.errors[:SHOWN_PROBLEMS]:
        value = REDACTED if redact and error.value else shown(error.value)
        table.add_row(
            str(error.line),
            Text(shown(error.field)),
            Text(value),
            Text(shown(error.message, MESSAGE_CHARS)),
        )
    console.print(table)
    hidden = len(summary.errors) - SHOWN_PROBLEMS
    if hidden > 0:
        console.print(f"…{hidden} more (see --errors-out / --format json)")
    console.print(_summary_line(summary, name))
