"""``runs`` and ``runs show RUN``: what past runs did."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.table import Table
from rich.text import Text

from communal_sync.applying.counts import counts_of, describe_counts
from communal_sync.cli.app import app, handles_errors, stderr_console, stdout_console
from communal_sync.cli.options import JsonOpt, StateOpt
from communal_sync.display import MESSAGE_CHARS, shown
from communal_sync.errors import RefusedError, UsageError
from communal_sync.fields import CUSTOM_PREFIX, MAX_USER_ID, custom_name

if TYPE_CHECKING:
    from communal_sync.state import StateStore
    from communal_sync.state.records import AttemptRecord, ResultRecord, RunRecord

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
    if not path.exists():
        # Not opened: opening would create the file (and its lock) for nothing.
        if as_json:
            typer.echo("[]")
        warn_no_state(path)
        return
    with open_state(path) as store:
        _settle_abandoned_runs(path, store)
        listed = store.journal.list_runs(limit)
        attempts = store.journal.attempts([r.id for r in listed])
        records = [(r, counts_of(store.journal, r), attempts[r.id]) for r in listed]
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "started_at": r.started_at.isoformat(timespec="seconds"),
            "finished_at": r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
            "duration_seconds": run_seconds(tries),
            "resumed": max(len(tries), r.attempts) - 1,
            "attempts": [attempt_json(a) for a in tries],
            "input": r.input_name,
            "exit_code": r.exit_code,
            "abandoned": is_abandoned(r),
            "counts": counts,
        }
        for r, counts, tries in records
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Runs", title_justify="left")
    for column in ("id", "kind", "status", "started", "took", "input", "counts", "exit"):
        table.add_column(column, overflow="fold")
    for r, counts, tries in records:
        table.add_row(
            str(r.id),
            r.kind,
            status_text(r, tries),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            took_text(r, tries),
            Text(shown(r.input_name)),
            describe_counts(counts),
            _exit_cell(r),
        )
    stdout_console().print(table)


NO_STATE_SANDBOX_NOTE: Final = "(The sandbox uses a temporary state unless --state is given.)"


def warn_no_state(path: Path) -> None:
    """Say, in one line on stderr, that there is no state file (so no run) at ``path``."""
    stderr_console().print(
        Text(f"No state file at {path}: nothing has been run with it yet. {NO_STATE_SANDBOX_NOTE}")
    )


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
    """Show one run's counts, and each outcome: which user, which change, what happened.

    Outcomes are listed in the plan's order (the order the run meant to send them, not
    the order they happened to finish in), each with the fields it changed.
    """
    from communal_sync.state import open_state, resolve_state_path

    path = resolve_state_path(state, os.environ)
    if not path.exists():
        raise UsageError(
            f"There is no run {run_id}: no state file at {path}, so nothing has been run "
            f"with it yet. {NO_STATE_SANDBOX_NOTE} `communal-sync runs --state FILE` lists "
            "the runs of another state file."
        )
    with open_state(path) as store:
        _settle_abandoned_runs(path, store)
        run = store.journal.get_run(run_id)
        results = in_plan_order(store.journal.results(run_id), store.journal.load_plan(run_id))
        counts = counts_of(store.journal, run, results)
        tries = store.journal.attempts([run_id])[run_id]
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "user_id": r.user_id,
                "line": r.source_line,
                "operation": r.operation,
                "change": operation_label(r),
                "fields": changed_fields(r),
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
            "duration_seconds": run_seconds(tries),
            "resumed": max(len(tries), run.attempts) - 1,
            "attempts": [attempt_json(a) for a in tries],
            "counts": counts,
            "results": rows,
        }
        typer.echo(json.dumps(document, indent=2))
        return
    console = stdout_console()
    took = took_text(run, tries)
    console.print(
        Text(
            f"Run {run.id} ({run.kind}, {status_text(run, tries)}) of "
            f"{shown(run.input_name) or '?'}, started {run.started_at:%Y-%m-%d %H:%M:%S}, "
            f"{ending_text(run)}" + (f", took {took}" if took else "")
        )
    )
    if len(tries) > 1:
        for attempt in tries:
            console.print(Text(attempt_text(attempt)))
    console.print(Text(f"Counts: {describe_counts(counts) or 'nothing recorded'}"))
    if hint := resume_hint(run):
        console.print(Text(shown(hint, MESSAGE_CHARS)))
    table = Table(title="Outcomes (in plan order)", title_justify="left")
    for column in ("user", "line", "change", "result", "http", "message"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            str(r.user_id or ""),
            str(r.source_line or ""),
            Text(shown(change_text(r))),
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


def changed_fields(result: ResultRecord) -> list[str]:
    """The profile fields a journalled PUT set (known, unknown and snapshot-only before
    values alike), sorted, or the custom field a value write set; [] when the journal has
    none."""
    kind = result.operation.partition(":")[0]
    before = result.before or {}
    if kind == TEMPORARY_OPERATION:
        return ["email"]
    if kind == CUSTOM_OPERATION:
        field = before.get("field")
        return [custom_name(field)] if isinstance(field, str) else []
    if kind != PROFILE_OPERATION:
        return []
    names = {str(name) for name in before.get("fields") or {}}
    names.update(str(name) for name in before.get("unknown") or ())
    return sorted(names)  # the journal keeps them as a JSON object: no order of their own


def change_text(result: ResultRecord) -> str:
    """The change column of ``runs show``: "profile: telephone, last_name"."""
    label = operation_label(result)
    kind = result.operation.partition(":")[0]
    fields = changed_fields(result) if kind == PROFILE_OPERATION else []
    return f"{label}: {', '.join(fields)}" if fields else label


def in_plan_order(results: list[ResultRecord], plan_json: str | None) -> list[ResultRecord]:
    """The results in the order the run's plan lists its users (source line order when
    the plan is not stored, or a user is not in it); one user's results stay in the order
    they were recorded (attempt by attempt)."""
    position: dict[int, int] = {}
    if plan_json:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            for index, user in enumerate(json.loads(plan_json).get("users") or ()):
                position.setdefault(int(user["user_id"]), index)
    unknown = len(position)

    def key(result: ResultRecord) -> tuple[int, int, int]:
        where = position.get(result.user_id, unknown) if result.user_id is not None else unknown
        return (where, result.source_line or MAX_USER_ID, result.id)

    return sorted(results, key=key)


# --- how long runs took, and whether they were resumed ---------------------------------------


def duration_text(seconds: float) -> str:
    """A duration as people say it: "12s", "4m 12s", "2h 5m"."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def attempt_seconds(attempt: AttemptRecord) -> float | None:
    """How long one attempt ran, or None when its end is not known."""
    if attempt.ended_at is None:
        return None
    return (attempt.ended_at - attempt.started_at).total_seconds()


def run_seconds(attempts: list[AttemptRecord]) -> float | None:
    """The time a run spent running: its attempts added up, without the gaps between an
    interruption and its resume; None when an attempt's end is not known."""
    spans = [attempt_seconds(a) for a in attempts]
    if not spans or any(span is None for span in spans):
        return None
    return sum(span for span in spans if span is not None)


def took_text(run: RunRecord, attempts: list[AttemptRecord]) -> str:
    """The "took" cell: "4m 12s", "running", or "" when the end is not known (killed)."""
    if run.status == "running":
        return "running"
    seconds = run_seconds(attempts)
    if seconds is None and run.finished_at is not None and not attempts:
        seconds = (run.finished_at - run.started_at).total_seconds()
    return duration_text(seconds) if seconds is not None else ""


def status_text(run: RunRecord, attempts: list[AttemptRecord]) -> str:
    """The run's status, and whether it was resumed after an interruption: "finished,
    resumed", "interrupted, resumed 2×" (``runs show`` lists each attempt)."""
    resumes = max(len(attempts), run.attempts) - 1
    if resumes <= 0:
        return run.status
    if resumes == 1:
        return f"{run.status}, resumed"
    return f"{run.status}, resumed {resumes}×"


def attempt_text(attempt: AttemptRecord) -> str:
    """One line per attempt of a resumed run, for ``runs show``."""
    which = "first run" if attempt.attempt == 1 else "resume"
    start = f"Attempt {attempt.attempt} ({which}): started {attempt.started_at:%Y-%m-%d %H:%M:%S}"
    seconds = attempt_seconds(attempt)
    if attempt.status == "running":
        return f"{start}, still running"
    ended = (
        attempt.status if seconds is None else f"{attempt.status} after {duration_text(seconds)}"
    )
    code = "" if attempt.exit_code is None else f" (exit code {attempt.exit_code})"
    return f"{start}, {ended}{code}"


def attempt_json(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "started_at": attempt.started_at.isoformat(timespec="seconds"),
        "ended_at": attempt.ended_at.isoformat(timespec="seconds") if attempt.ended_at else None,
        "status": attempt.status,
        "exit_code": attempt.exit_code,
        "duration_seconds": attempt_seconds(attempt),
    }
