"""``runs`` and ``runs show RUN``: what past runs did."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from communal_sync.applying.counts import counts_of, describe_counts
from communal_sync.cli.app import app, handles_errors, stdout_console
from communal_sync.cli.options import JsonOpt, StateOpt
from communal_sync.display import MESSAGE_CHARS, shown
from communal_sync.errors import RefusedError
from communal_sync.fields import CUSTOM_PREFIX, MAX_USER_ID, custom_name

if TYPE_CHECKING:
    from communal_sync.state import StateStore
    from communal_sync.state.records import ResultRecord, RunRecord

RunIdArg = Annotated[
    int,
    typer.Argument(
        metavar="RUN",
        help="The run id, from `communal-sync runs`.",
        show_default=False,
        min=1,
        max=MAX_USER_ID,  # what the state file can hold: a larger id is no run
    ),
]
LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="How many recent runs to list.")]

runs_app = typer.Typer(help="Past runs: when, which file, what happened.", no_args_is_help=False)
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
@handles_errors
def runs(
    ctx: typer.Context,
    limit: LimitOpt = 20,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """List recent runs: when, the file, the counts and the exit code."""
    from communal_sync.state import open_state, resolve_state_path

    if ctx.invoked_subcommand is not None:
        return
    path = resolve_state_path(state, os.environ)
    with open_state(path) as store:
        _settle_abandoned_runs(path, store)
        records = [(r, counts_of(store.journal, r)) for r in store.journal.list_runs(limit)]
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "started_at": r.started_at.isoformat(timespec="seconds"),
            "finished_at": r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
            "input": r.input_name,
            "exit_code": r.exit_code,
            "abandoned": is_abandoned(r),
            "counts": counts,
        }
        for r, counts in records
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Runs", title_justify="left")
    for column in ("id", "kind", "status", "started", "input", "counts", "exit"):
        table.add_column(column, overflow="fold")
    for r, counts in records:
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            Text(shown(r.input_name)),
            describe_counts(counts),
            _exit_cell(r),
        )
    stdout_console().print(table)


def _settle_abandoned_runs(path: Path, store: StateStore) -> None:
    """Mark runs whose process died (kill -9) as interrupted, unless a run is live now."""
    from communal_sync.state import acquire_lock

    try:
        with acquire_lock(path, command="runs"):
            store.journal.mark_abandoned_runs()
    except RefusedError:
        pass  # a run is in progress: its 'running' is true


@runs_app.command("show")
@handles_errors
def runs_show(
    run_id: RunIdArg,
    as_json: JsonOpt = False,
    state: StateOpt = None,
) -> None:
    """Show one run's counts, and each outcome: which user, which change, what happened."""
    from communal_sync.state import open_state, resolve_state_path

    path = resolve_state_path(state, os.environ)
    with open_state(path) as store:
        _settle_abandoned_runs(path, store)
        run = store.journal.get_run(run_id)
        results = store.journal.results(run_id)
        counts = counts_of(store.journal, run, results)
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "user_id": r.user_id,
                "line": r.source_line,
                "operation": r.operation,
                "change": operation_label(r),
                "status": r.status,
                "http_status": r.http_status,
                "error": r.error,
                "finished_at": r.finished_at.isoformat(timespec="seconds"),
            }
            for r in results
        ]
        document = {
            "run": run.id,
            "status": run.status,
            "exit_code": run.exit_code,
            "abandoned": is_abandoned(run),
            "counts": counts,
            "results": rows,
        }
        typer.echo(json.dumps(document, indent=2))
        return
    console = stdout_console()
    console.print(
        Text(
            f"Run {run.id} ({run.kind}, {run.status}) of {shown(run.input_name) or '?'}, started "
            f"{run.started_at:%Y-%m-%d %H:%M:%S}, {ending_text(run)}"
        )
    )
    console.print(Text(f"Counts: {describe_counts(counts) or 'nothing recorded'}"))
    if hint := resume_hint(run):
        console.print(Text(shown(hint, MESSAGE_CHARS)))
    table = Table(title="Outcomes", title_justify="left")
    for column in ("user", "line", "change", "result", "http", "message"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            str(r.user_id or ""),
            str(r.source_line or ""),
            Text(shown(operation_label(r))),
            r.status,
            str(r.http_status or ""),
            Text(shown(r.error, MESSAGE_CHARS)),
        )
    console.print(table)


# --- what a run's outcomes say ---------------------------------------------------------------

PROFILE_OPERATION: Final = "user"
CUSTOM_OPERATION: Final = "cpfv"
TEMPORARY_OPERATION: Final = "email-temp"
"""A cycle breaker's move to its temporary address (``applying.email_steps``)."""


def is_abandoned(run: RunRecord) -> bool:
    """Whether the run's process died before it could finish (kill -9, a crash, power loss).

    ``mark_abandoned_runs`` marks such a run interrupted without an exit code; a Ctrl-C'd
    run finishes as interrupted with exit code 130.
    """
    return run.status == "interrupted" and run.exit_code is None


def ending_text(run: RunRecord) -> str:
    """How the run ended, in words: its exit code, or why it has none."""
    if run.exit_code is not None:
        return f"exit code {run.exit_code}"
    if run.status == "running":
        return "still running (no exit code yet)"
    return "killed before it finished (no exit code): its counts are what it journalled"


def resume_hint(run: RunRecord) -> str | None:
    """How to finish a run that did not, or None for one that needs nothing."""
    if run.status not in ("interrupted", "failed") or run.kind == "revert":
        return None
    if run.kind == "push" and run.input_name:
        return f"Resume it with: communal-sync push {run.input_name} --resume"
    return "Run the same `communal-sync apply PLAN` again to finish it."


def _exit_cell(run: RunRecord) -> str:
    if run.exit_code is not None:
        return str(run.exit_code)
    return "killed" if is_abandoned(run) else ""


def operation_label(result: ResultRecord) -> str:
    """What a journalled operation changed: "profile" or "custom: T-shirt size"."""
    kind, _, rest = result.operation.partition(":")
    if kind == PROFILE_OPERATION:
        return "profile"
    if kind == TEMPORARY_OPERATION:
        return "profile: temporary email (cycle)"
    if kind == CUSTOM_OPERATION:
        field = (result.before or {}).get("field")
        if isinstance(field, str) and field.startswith(CUSTOM_PREFIX):
            return f"custom: {custom_name(field)}"
        return f"custom field {rest.rpartition(':')[2]}"
    return result.operation
