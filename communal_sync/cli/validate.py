"""``communal-sync validate FILE``: read, map and validate an export; change nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.cli import options as opt
from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.errors import ExitCode
from communal_sync.files import private_writer
from communal_sync.intake.pipeline import IntakeOptions, open_intake
from communal_sync.intake.validate import RowResult, ValidationSummary, summarize
from communal_sync.reports import neutralize_data_cell
from communal_sync.reports.redaction import REDACTED, redact_value

ERROR_COLUMN = "error"
SHOWN_VALUE_CHARS = 200
"""Longer values are cut in reports: a 100 MB cell must not become a 100 MB table."""
ERRORS_OUT: Path | None = typer.Option(
    None,
    "--errors-out",
    help="Write the invalid rows, as they came in plus an 'error' column, to this CSV "
    "(unredacted, so not with --redact; cells a spreadsheet would run as formulas get a "
    "leading ').",
)


@app.command()
@handles_errors
def validate(
    file: str = opt.FILE,
    map_items: list[str] = opt.MAP,
    config: Path | None = opt.CONFIG,
    encoding: str | None = opt.ENCODING,
    input_format: opt.InputFormat | None = opt.INPUT_FORMAT,
    on_duplicate: opt.OnDuplicate | None = opt.ON_DUPLICATE,
    default_region: str | None = opt.DEFAULT_REGION,
    report_format: opt.ReportFormat = opt.REPORT_FORMAT,
    redact: bool = opt.REDACT,
    errors_out: Path | None = ERRORS_OUT,
) -> None:
    """Check an export: every row read, mapped and validated; nothing is sent anywhere.

    Exit 0 when every row is valid, 3 when some are invalid, 1 when the file cannot be read.
    """
    opt.refuse_raw_with_redact("--errors-out", errors_out, redact)
    opt.refuse_overwriting_input((file,), {"errors_out": errors_out})
    intake = open_intake(
        file,
        IntakeOptions(
            encoding=encoding,
            input_format=input_format.value if input_format else None,
            map_items=map_items,
            config_path=config,
            on_duplicate=on_duplicate.value if on_duplicate else None,
            default_region=default_region,
        ),
    )
    for message in intake.warnings:
        warn(message)
    results = intake.results()
    if errors_out is not None:
        with private_writer(errors_out, newline="") as handle:
            summary = summarize(
                _tee_invalid(results, intake.source.headers, handle), intake.mapping
            )
    else:
        summary = summarize(results, intake.mapping)

    if report_format is opt.ReportFormat.json:
        typer.echo(json.dumps(_summary_json(summary, intake.source.name, redact), indent=2))
    else:
        _render_text(summary, intake.source.name, redact)
    raise typer.Exit(ExitCode.ROW_FAILURES if summary.invalid else ExitCode.OK)


def _tee_invalid(results: Any, headers: list[str], handle: IO[str]) -> Any:
    """Pass results through, writing each invalid or skipped row to ``handle`` as CSV."""
    writer: csv.DictWriter[str] | None = None
    for result in results:
        if result.status != "valid":
            if writer is None:
                extra = [k for k in result.source.values if k not in headers]
                writer = csv.DictWriter(
                    handle, fieldnames=[*headers, *extra, ERROR_COLUMN], extrasaction="ignore"
                )
                writer.writeheader()
            row = {**result.source.values, ERROR_COLUMN: _reasons(result)}
            writer.writerow({k: neutralize_data_cell(v) for k, v in row.items()})
        yield result
    if writer is None:
        csv.writer(handle).writerow([*headers, ERROR_COLUMN])


def shorten(value: str | None) -> str | None:
    """A value as shown in a report: whole up to a point, then cut with its length noted."""
    if value is None or len(value) <= SHOWN_VALUE_CHARS:
        return value
    return f"{value[:SHOWN_VALUE_CHARS]}… ({len(value)} characters)"


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
                "value": shorten(redact_value(e.value, redact)),
                "message": e.message,
            }
            for e in summary.errors
        ],
        "unmapped_columns": list(summary.unmapped_columns),
    }


def _render_text(summary: ValidationSummary, name: str, redact: bool) -> None:
    console = stdout_console()
    console.print(
        f"{escape(name)}: {summary.rows} rows, {summary.valid} valid, {summary.invalid} invalid"
        + (f", {summary.duplicates} duplicates skipped" if summary.duplicates else "")
    )
    if summary.unmapped_columns:
        columns = escape(", ".join(repr(c) for c in summary.unmapped_columns))
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
    for error in summary.errors:
        value = REDACTED if redact and error.value else (shorten(error.value) or "")
        table.add_row(str(error.line), Text(error.field or ""), Text(value), Text(error.message))
    console.print(table)
