"""``communal-sync validate FILE``: read, map and validate an export; change nothing."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

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
    JsonOpt,
    RedactOpt,
    ReportFormat,
    flags,
)
from communal_sync.cli.outputs import check_outputs, refuse_raw_with_redact, say_written
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal, shown
from communal_sync.errors import ExitCode
from communal_sync.files import private_writer
from communal_sync.intake.pipeline import Intake, open_intake
from communal_sync.intake.validate import RowResult, ValidationSummary, summarize

if TYPE_CHECKING:
    from communal_sync.reports.error_rows import ErrorRowsWriter

if TYPE_CHECKING:
    from communal_sync.intake.mapping_report import ColumnReport

SHOWN_PROBLEMS: Final = 20
"""Problems the text report lists: a screenful; ``--json`` and ``--errors-out`` have all."""

ShowMappingOpt = Annotated[
    bool,
    typer.Option(
        "--show-mapping",
        help="First list every column → field and why (--map, the config file, its name), "
        "or why it maps to nothing (ignored, unmapped, a suggestion).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ErrorsOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--errors-out",
        metavar="FILE.csv",
        help="Write the invalid rows to this CSV, plus an 'error' column saying why: every "
        "column of the file with its values as read, written anew as UTF-8 comma-separated "
        "CSV (not the original bytes, encoding or delimiter); cells a spreadsheet would run "
        "as formulas get a leading '. Unredacted, so not with --redact.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]


@app.command()
@handles_errors
@flags
def validate(
    file: FileArg,
    intake: IntakeFlags,
    as_json: JsonOpt = False,
    report_format: FormatOpt = ReportFormat.text,
    redact: RedactOpt = False,
    errors_out: ErrorsOutOpt = None,
    show_mapping: ShowMappingOpt = False,
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
        from communal_sync.reports.error_rows import ErrorRowsWriter

        with private_writer(errors_out, newline="") as handle:
            writer = ErrorRowsWriter(handle, export.source.headers)
            summary = summarize(_tee_invalid(export.results(), writer), export.mapping)
            writer.finish()
        say_written("Invalid rows", errors_out)
    else:
        summary = export.summary()  # no rows needed: one read when no key repeats

    columns = _column_reports(export) if show_mapping else None
    if as_json or report_format is ReportFormat.json:
        document = _summary_json(summary, export.source.name, redact)
        if columns is not None:
            document["mapping"] = [column.as_json() for column in columns]
        typer.echo(json.dumps(document, indent=2))
    else:
        if columns is not None:
            _render_mapping(columns, export.source.name)
        _render_text(summary, export.source.name, redact, taken=export.mapping.fields)
    raise typer.Exit(ExitCode.ROW_FAILURES if summary.invalid else ExitCode.OK)


def _column_reports(export: Intake) -> list[ColumnReport]:
    from communal_sync.intake.mapping_report import explain_mapping

    return explain_mapping(
        export.source.headers, export.mapping, export.settings, export.source.name
    )


def _render_mapping(columns: list[ColumnReport], name: str) -> None:
    """``--show-mapping``: each column → field and why, or why it maps nowhere."""
    console = stdout_console()
    console.print(f"Mapping of {escape(for_terminal(name))}:", soft_wrap=True)
    for column in columns:
        console.print(
            f"  {escape(for_terminal(cut(column.line(), MESSAGE_CHARS)))}", soft_wrap=True
        )


def _tee_invalid(results: Iterator[RowResult], writer: ErrorRowsWriter) -> Iterator[RowResult]:
    """Pass results through, writing each invalid or skipped row with its reasons."""
    for result in results:
        if result.status != "valid":
            writer.add(result.source.values, _reasons(result))
        yield result


def _reasons(result: RowResult) -> str:
    return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in result.errors)


def _masked(value: str | None, redact: bool) -> str | None:
    """``reports.redaction.redact_value``, that package (plans, runs) imported only to redact."""
    if not redact:
        return value
    from communal_sync.reports.redaction import redact_value

    return redact_value(value, redact)


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
                "value": cut(_masked(e.value, redact)),
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


def _render_text(
    summary: ValidationSummary, name: str, redact: bool, taken: Collection[str] = ()
) -> None:
    """The summary, unmapped columns and at most ``SHOWN_PROBLEMS`` problems.

    A file with thousands of bad rows would scroll the summary away: past the bound one line
    says how many more there are and where to find them, and the summary is repeated last.
    """
    console = stdout_console()
    console.print(_summary_line(summary, name))
    if summary.unmapped_columns:
        from communal_sync.intake.mapping_hints import unmapped_advice

        columns = escape(", ".join(repr(cut(c)) for c in summary.unmapped_columns))
        advice = unmapped_advice([cut(c) for c in summary.unmapped_columns], taken=taken)
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}. "
            f"{escape(for_terminal(advice))}",
            soft_wrap=True,
        )
    if not summary.errors:
        return
    table = Table(title="Problems", title_justify="left")
    table.add_column("line", justify="right")
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_column("reason", overflow="fold")
    for error in summary.errors[:SHOWN_PROBLEMS]:
        masked = _masked(error.value, redact) if redact else None
        value = masked if masked else shown(error.value)
        table.add_row(
            str(error.line),
            Text(shown(error.field)),
            Text(value),
            Text(shown(error.message, MESSAGE_CHARS)),
        )
    console.print(table)
    hidden = len(summary.errors) - SHOWN_PROBLEMS
    if hidden > 0:
        console.print(f"…{hidden} more (see --errors-out / --json)")
    console.print(_summary_line(summary, name))
