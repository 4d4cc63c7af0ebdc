"""``communal-sync link FILE``: load an id map (Communal user id by email or external id)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.options import (
    FileArg,
    FormatOpt,
    ReadFlags,
    RedactOpt,
    ReportFormat,
    StateOpt,
    flags,
)
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal, shown
from communal_sync.errors import ExitCode
from communal_sync.identity.link import (
    LinkResult,
    apply_links,
    open_link_file,
    read_links,
)
from communal_sync.reports.redaction import REDACTED, redact_value
from communal_sync.state import acquire_lock, open_state, resolve_state_path

LinkDryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Check the file and report what would be linked; write nothing."
    ),
]


@app.command()
@handles_errors
@flags
def link(
    file: FileArg,
    read: ReadFlags,
    state: StateOpt = None,
    dry_run: LinkDryRunOpt = False,
    report_format: FormatOpt = ReportFormat.text,
    redact: RedactOpt = False,
) -> None:
    """Load an id map: which Communal user id each email or external id belongs to.

    FILE has a column with the Communal user id and an email and/or external id column
    (a people export from Communal, or your system's table of Communal ids). Later plans
    match rows without an id column through it. Valid rows are linked in one go; bad or
    contradictory rows are refused and listed. Exit 0 when every row was linked, 3 when
    some were refused, 1 when the file cannot be read, 4 when another run holds the state.
    """
    link_file = open_link_file(file, read.options())
    with link_file.source:
        for message in link_file.warnings:
            warn(message)
        links = read_links(link_file)
    state_path = resolve_state_path(state, os.environ)
    if dry_run:
        if state_path.exists():
            with open_state(state_path) as store:
                result = apply_links(store, links, dry_run=True)
        else:
            result = apply_links(None, links, dry_run=True)
    else:
        with (
            acquire_lock(state_path, command=f"link {links.name}"),
            open_state(state_path) as store,
        ):
            result = apply_links(store, links, dry_run=False)

    if report_format is ReportFormat.json:
        payload = _result_json(result, link_file.columns.unmapped, state_path, redact)
        typer.echo(json.dumps(payload, indent=2))
    else:
        _render_text(result, link_file.columns.unmapped, stdout_console(), redact)
    raise typer.Exit(ExitCode.ROW_FAILURES if result.refused_rows else ExitCode.OK)


def _result_json(
    result: LinkResult, unmapped: tuple[str, ...], state_path: Path, redact: bool
) -> dict[str, Any]:
    return {
        "file": result.name,
        "state": str(state_path),
        "dry_run": result.dry_run,
        "rows": result.rows,
        "people": result.people,
        "by_email": result.by_email,
        "by_external_id": result.by_external_id,
        "already_known": result.already_known,
        "moved": len(result.moves),
        "refused": result.refused_rows,
        "moves": [
            {
                "line": move.line,
                "field": move.key,
                "value": redact_value(move.value, redact),
                "from_users": list(move.from_users),
                "to_user": move.to_user,
            }
            for move in result.moves
        ],
        "errors": [
            {
                "line": error.line,
                "field": error.field,
                "value": redact_value(error.value, redact),
                "message": error.message,
            }
            for error in result.problems
        ],
        "unmapped_columns": list(unmapped),
    }


def _render_text(
    result: LinkResult, unmapped: tuple[str, ...], console: Console, redact: bool
) -> None:
    console.print(f"{escape(for_terminal(result.name))}: {escape(result.summary())}")
    if unmapped:
        columns = escape(", ".join(repr(cut(c)) for c in unmapped))
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}. "
            'Use --map "Column=id", "Column=email" or "Column=external_id" if one was meant.'
        )
    if result.moves:
        table = Table(title="Moved mappings", title_justify="left")
        for column in ("line", "field", "change"):
            table.add_column(column, overflow="fold")
        for move in result.moves:
            value = REDACTED if redact else cut(move.value)
            table.add_row(str(move.line), move.key, Text(for_terminal(move.describe(value))))
        console.print(table)
    if result.problems:
        table = Table(title="Refused rows (not linked)", title_justify="left")
        for column in ("line", "field", "value", "reason"):
            table.add_column(column, overflow="fold")
        for error in result.problems:
            value = redact_value(error.value, redact) or ""
            table.add_row(
                str(error.line),
                Text(shown(error.field)),
                Text(shown(value)),
                Text(shown(error.message, MESSAGE_CHARS)),
            )
        console.print(table)
