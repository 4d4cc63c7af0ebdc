"""``communal-sync doctor``: is everything in place to sync? One line per check, exit 0 or 1."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from communal_sync.cli.app import app, handles_errors, stdout_console
from communal_sync.cli.options import INPUT_PANEL, ApiFlags, JsonOpt, StateOpt, flags
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal
from communal_sync.errors import ExitCode

DoctorConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="The communal-sync.toml to check (default: ./communal-sync.toml if present).",
        rich_help_panel=INPUT_PANEL,
    ),
]


@app.command()
@handles_errors
@flags
def doctor(
    api: ApiFlags,
    state: StateOpt = None,
    config: DoctorConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the setup: key, role, API version, base URL, state file, config file.

    Sends two read-only requests and changes nothing. Exit 0 when every check passes,
    1 when one does not.
    """
    from communal_sync.checkup import run_checkup

    checkup = run_checkup(api.options(), state=state, config=config, env=os.environ, cwd=Path.cwd())
    code = ExitCode.OK if checkup.ok else ExitCode.FATAL
    if as_json:
        document = {
            "ok": checkup.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checkup.checks],
            **checkup.facts,
        }
        typer.echo(json.dumps(document, indent=2))
        raise typer.Exit(code)
    console = stdout_console()
    for check in checkup.checks:
        mark = "ok     " if check.ok else "problem"
        line = f"{mark} {check.name}: {cut(check.detail, MESSAGE_CHARS)}"
        console.print(escape(for_terminal(line)), soft_wrap=True)
    problems = sum(not check.ok for check in checkup.checks)
    if problems:
        console.print(
            f"{problems} {'problem' if problems == 1 else 'problems'}: fix "
            f"{'it' if problems == 1 else 'them'} and run `communal-sync doctor` again."
        )
    else:
        console.print("Everything is in place.")
    raise typer.Exit(code)
