"""``runs``, ``runs show RUN`` and ``revert RUN``: what past runs did, and undoing one."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from communal_sync.api.throttle import Throttle
from communal_sync.applying.landed import FOUND_NOTE, LANDED_NOTE
from communal_sync.cli import options as opt
from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.plan import CONCURRENCY, REPORT, plan_exit_code, show_plan
from communal_sync.cli.push import DRY_RUN, YES, run_plan
from communal_sync.cli.results import CONFLICTS_LEFT_ALONE, plan_run_counts
from communal_sync.errors import RefusedError
from communal_sync.fields import CUSTOM_PREFIX, custom_name
from communal_sync.plan import ISSUE_KINDS, Plan
from communal_sync.planning.revert import build_revert_plan
from communal_sync.session import ApiOptions, check_state_api, open_session
from communal_sync.state import StateStore, acquire_lock, open_state, resolve_state_path
from communal_sync.state.records import ResultRecord, RunRecord

RUN_ID_SHOW: int = typer.Argument(..., help="The run id, from `communal-sync runs`.")
RUN_ID_REVERT: int = typer.Argument(..., help="The run to undo, from `communal-sync runs`.")
LIMIT: int = typer.Option(20, "--limit", min=1, help="How many recent runs to list.")

runs_app = typer.Typer(help="Past runs: when, which file, what happened.", no_args_is_help=False)
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
@handles_errors
def runs(
    ctx: typer.Context,
    limit: int = LIMIT,
    as_json: bool = opt.JSON_OUTPUT,
    state: str | None = opt.STATE,
) -> None:
    """List recent runs: when, the file, the counts and the exit code."""
    if ctx.invoked_subcommand is not None:
        return
    path = resolve_state_path(state, os.environ)
    with open_state(path) as store:
        _settle_abandoned_runs(path, store)
        records = [(r, counts_of(store, r)) for r in store.journal.list_runs(limit)]
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
            Text(r.input_name or ""),
            describe_counts(counts),
            _exit_cell(r),
        )
    stdout_console().print(table)


def _settle_abandoned_runs(path: Path, store: StateStore) -> None:
    """Mark runs whose process died (kill -9) as interrupted, unless a run is live now."""
    try:
        with acquire_lock(path, command="runs"):
            store.journal.mark_abandoned_runs()
    except RefusedError:
        pass  # a run is in progress: its 'running' is true


@runs_app.command("show")
@handles_errors
def runs_show(
    run_id: int = RUN_ID_SHOW,
    as_json: bool = opt.JSON_OUTPUT,
    state: str | None = opt.STATE,
) -> None:
    """Show one run's counts, and each outcome: which user, which change, what happened."""
    path = resolve_state_path(state, os.environ)
    with open_state(path) as store:
        _settle_abandoned_runs(path, store)
        run = store.journal.get_run(run_id)
        results = store.journal.results(run_id)
        counts = counts_of(store, run, results)
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
            f"Run {run.id} ({run.kind}, {run.status}) of {run.input_name or '?'}, started "
            f"{run.started_at:%Y-%m-%d %H:%M:%S}, {ending_text(run)}"
        )
    )
    console.print(Text(f"Counts: {describe_counts(counts) or 'nothing recorded'}"))
    if hint := resume_hint(run):
        console.print(Text(hint))
    table = Table(title="Outcomes", title_justify="left")
    for column in ("user", "line", "change", "result", "http", "message"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            str(r.user_id or ""),
            str(r.source_line or ""),
            Text(operation_label(r)),
            r.status,
            str(r.http_status or ""),
            Text(r.error or ""),
        )
    console.print(table)


# --- what a run's counts and outcomes say -----------------------------------------------------

COUNT_LABELS: Final[tuple[tuple[str, str, str], ...]] = (
    ("applied", "applied", "applied"),
    ("already", "already applied", "already applied"),
    ("failed", "failed", "failed"),
    ("conflict", "conflict", "conflicts"),
    ("pending", "not sent", "not sent"),
    ("unchanged", "unchanged", "unchanged"),
    *((kind, kind, kind) for kind in ISSUE_KINDS),
    (CONFLICTS_LEFT_ALONE, "conflict left alone", "conflicts left alone"),
    ("clears", "field cleared", "fields cleared"),
    ("locked_fields", "locked field not written", "locked fields not written"),
)
"""Stored count -> how ``runs`` says it (singular, plural), in the order it is said."""
UNSAID_COUNTS: Final = frozenset({"to_update", "conflicts"})
"""Counts kept for scripts (``--json``) that the text leaves out: the sum of the outcomes,
and conflicts the plan resolved (those left alone are said)."""
SEVERITY: Final[dict[str, int]] = {"skipped": 0, "applied": 1, "conflict": 2, "failed": 3}
"""A user with several operations in a run counts under the worst of their outcomes."""
ALREADY_NOTES: Final = frozenset({FOUND_NOTE, LANDED_NOTE})
PROFILE_OPERATION: Final = "user"
CUSTOM_OPERATION: Final = "cpfv"


def describe_counts(counts: Mapping[str, int]) -> str:
    """A run's counts in words, zeros left out: "3 applied, 1 failed, 2 unchanged, 1 invalid".

    Counts stored by another version under a name this one does not know are said as is.
    """
    known = {key for key, _, _ in COUNT_LABELS} | UNSAID_COUNTS
    parts = [
        f"{counts[key]} {one if counts[key] == 1 else many}"
        for key, one, many in COUNT_LABELS
        if counts.get(key)
    ]
    parts += [f"{value} {key}" for key, value in counts.items() if value and key not in known]
    return ", ".join(parts)


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


def counts_of(
    store: StateStore, run: RunRecord, results: list[ResultRecord] | None = None
) -> dict[str, int]:
    """The counts the run stored when it ended; for one that has not ended (killed, or
    still running), its outcomes counted from the journal and its plan's counts.

    A resumed run that was killed again still holds its earlier attempt's counts: the
    journal, which covers every attempt, is the truth then.
    """
    if run.exit_code is not None:
        return dict(run.counts)
    return journal_counts(
        store.journal.results(run.id) if results is None else results, _stored_plan(store, run.id)
    )


def journal_counts(results: list[ResultRecord], plan: Plan | None) -> dict[str, int]:
    """Users by outcome as the journal holds them, plus the plan's counts when known.

    Each operation counts by its latest result (a resumed run may repeat one); each user by
    the worst of their operations, as apply reports a user. ``pending`` is every planned
    user with nothing journalled.
    """
    latest = {r.operation: r for r in results}
    by_user: dict[int | str, str] = {}
    for result in latest.values():
        status: str = result.status
        if status == "applied" and result.error in ALREADY_NOTES:
            status = "already"
        who: int | str = result.user_id if result.user_id is not None else result.operation
        previous = by_user.get(who)
        if previous is None or _severity(status) > _severity(previous):
            by_user[who] = status
    tally = Counter(by_user.values())
    counts = {s: tally.get(s, 0) for s in ("applied", "already", "failed", "conflict")}
    counts.update({s: n for s, n in tally.items() if s not in counts})
    if plan is not None:
        counts["pending"] = sum(1 for u in plan.to_update if u.user_id not in by_user)
        counts.update(plan_run_counts(plan))
    return counts


def _severity(status: str) -> int:
    return SEVERITY.get("applied" if status == "already" else status, 0)


def _stored_plan(store: StateStore, run_id: int) -> Plan | None:
    text = store.journal.load_plan(run_id)
    if text is None:
        return None
    try:
        return Plan.model_validate_json(text)
    except ValidationError:
        return None  # a plan of another version: the journal's counts alone


def operation_label(result: ResultRecord) -> str:
    """What a journalled operation changed: "profile" or "custom: T-shirt size"."""
    kind, _, rest = result.operation.partition(":")
    if kind == PROFILE_OPERATION:
        return "profile"
    if kind == CUSTOM_OPERATION:
        field = (result.before or {}).get("field")
        if isinstance(field, str) and field.startswith(CUSTOM_PREFIX):
            return f"custom: {custom_name(field)}"
        return f"custom field {rest.rpartition(':')[2]}"
    return result.operation


@app.command()
@handles_errors
def revert(
    run_id: int = RUN_ID_REVERT,
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
    report: Path | None = REPORT,
    redact: bool = opt.REDACT,
    concurrency: int = CONCURRENCY,
    base_url: str | None = opt.BASE_URL,
    api_key_file: Path | None = opt.API_KEY_FILE,
    api_version: str | None = opt.API_VERSION,
    sandbox: bool = opt.SANDBOX,
    sandbox_seed: Path | None = opt.SANDBOX_SEED,
    state: str | None = opt.STATE,
) -> None:
    """Restore the values a run overwrote, unless they were changed again since."""
    opt.refuse_overwriting_input((), {"report": report, "state": state, "sandbox": sandbox})
    api = ApiOptions(base_url, api_key_file, api_version, sandbox, sandbox_seed)
    with open_session(api, state=state, env=os.environ, throttle=Throttle()) as session:
        with open_state(session.state_path) as store:
            check_state_api(store, session.settings.base_url, bind=False)
            plan = build_revert_plan(
                run_id, store=store, client=session.client, base_url=session.settings.base_url
            )
        for message in plan.warnings:
            warn(message)
        if dry_run:
            show_plan(plan, report=report, redact=redact)
            raise typer.Exit(plan_exit_code(plan, detailed=False))
        with (
            acquire_lock(session.state_path, command=f"revert {run_id}"),
            open_state(session.state_path) as store,
        ):
            store.journal.mark_abandoned_runs()
            show_plan(plan, report=None, redact=redact)
            code = run_plan(
                plan,
                session,
                store,
                run_id=None,
                sha=None,
                verify=True,
                yes=yes,
                concurrency=concurrency,
                report=report,
                failed_out=None,
                redact=redact,
                resume_hint=f"communal-sync revert {run_id}",
                kind="revert",
            )
    raise typer.Exit(code)
