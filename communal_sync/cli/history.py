"""``runs``, ``runs show RUN``, ``revert RUN`` and ``apply PLAN``: history and saved plans."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from communal_sync.api.settings import is_loopback_host
from communal_sync.cli import options as opt
from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.plan import CONCURRENCY, REPORT, plan_exit_code, show_plan
from communal_sync.cli.push import DRY_RUN, FAILED_OUT, YES, run_plan
from communal_sync.errors import InputError, RefusedError
from communal_sync.hashing import canonical_hash, file_sha256
from communal_sync.plan import PLAN_FORMAT_VERSION, Plan
from communal_sync.revert import build_revert_plan
from communal_sync.session import ApiOptions, check_state_api, open_session
from communal_sync.state import StateStore, acquire_lock, open_state, resolve_state_path
from communal_sync.throttle import Throttle

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
        records = store.list_runs(limit)
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "started_at": r.started_at.isoformat(timespec="seconds"),
            "finished_at": r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
            "input": r.input_name,
            "exit_code": r.exit_code,
            "counts": r.counts,
        }
        for r in records
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="Runs", title_justify="left")
    for column in ("id", "kind", "status", "started", "input", "counts", "exit"):
        table.add_column(column, overflow="fold")
    for r in records:
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            Text(r.input_name or ""),
            counts,
            "" if r.exit_code is None else str(r.exit_code),
        )
    stdout_console().print(table)


def _settle_abandoned_runs(path: Path, store: StateStore) -> None:
    """Mark runs whose process died (kill -9) as interrupted, unless a run is live now."""
    try:
        with acquire_lock(path, command="runs"):
            store.mark_abandoned_runs()
    except RefusedError:
        pass  # a run is in progress: its 'running' is true


@runs_app.command("show")
@handles_errors
def runs_show(
    run_id: int = RUN_ID_SHOW,
    as_json: bool = opt.JSON_OUTPUT,
    state: str | None = opt.STATE,
) -> None:
    """Show one run's outcome per user."""
    with open_state(resolve_state_path(state, os.environ)) as store:
        run = store.get_run(run_id)
        results = store.results(run_id)
    if as_json:
        rows: list[dict[str, Any]] = [
            {
                "user_id": r.user_id,
                "line": r.source_line,
                "status": r.status,
                "http_status": r.http_status,
                "error": r.error,
                "finished_at": r.finished_at.isoformat(timespec="seconds"),
            }
            for r in results
        ]
        typer.echo(json.dumps({"run": run.id, "status": run.status, "results": rows}, indent=2))
        return
    console = stdout_console()
    console.print(
        Text(
            f"Run {run.id} ({run.kind}, {run.status}) of {run.input_name or '?'}, started "
            f"{run.started_at:%Y-%m-%d %H:%M:%S}, exit code {run.exit_code}"
        )
    )
    table = Table(title="Outcomes", title_justify="left")
    for column in ("user", "line", "result", "http", "message"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(
            str(r.user_id or ""),
            str(r.source_line or ""),
            r.status,
            str(r.http_status or ""),
            Text(r.error or ""),
        )
    console.print(table)


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
            store.mark_abandoned_runs()
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


PLAN_FILE: Path = typer.Argument(..., help="A plan saved by `plan --out plan.json`.")


@app.command("apply")
@handles_errors
def apply_command(
    plan_file: Path = PLAN_FILE,
    yes: bool = YES,
    report: Path | None = REPORT,
    failed_out: Path | None = FAILED_OUT,
    redact: bool = opt.REDACT,
    concurrency: int = CONCURRENCY,
    base_url: str | None = opt.BASE_URL,
    api_key_file: Path | None = opt.API_KEY_FILE,
    api_version: str | None = opt.API_VERSION,
    sandbox: bool = opt.SANDBOX,
    sandbox_seed: Path | None = opt.SANDBOX_SEED,
    state: str | None = opt.STATE,
) -> None:
    """Apply a saved plan exactly; users changed in Communal since planning are skipped.

    Run it again after an interruption: what was done is not sent again.
    """
    opt.refuse_raw_with_redact("--failed-out", failed_out, redact)
    plan = load_plan_file(plan_file)
    check_input_unchanged(plan)
    api = ApiOptions(base_url, api_key_file, api_version, sandbox, sandbox_seed)
    with open_session(api, state=state, env=os.environ, throttle=Throttle()) as session:
        check_same_api(plan, session.settings.base_url)
        plan_hash = canonical_hash(plan.model_dump(mode="json"))
        with (
            acquire_lock(session.state_path, command=f"apply {plan_file}"),
            open_state(session.state_path) as store,
        ):
            store.mark_abandoned_runs()
            unfinished = store.latest_unfinished_run(plan_hash, kind="apply")
            run_id = None
            if unfinished is not None:
                store.reopen_run(unfinished.id)
                run_id = unfinished.id
                stdout_console().print(f"Resuming run {run_id}.")
            show_plan(plan, report=None, redact=redact)
            code = run_plan(
                plan,
                session,
                store,
                run_id=run_id,
                sha=plan_hash,
                verify=True,
                yes=yes,
                concurrency=concurrency,
                report=report,
                failed_out=failed_out,
                redact=redact,
                resume_hint=f"communal-sync apply {plan_file}",
                kind="apply",
            )
    raise typer.Exit(code)


def load_plan_file(path: Path) -> Plan:
    """Read a saved plan; a file that is not one is an InputError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the plan ({error.strerror}).", file=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"is not valid JSON ({error.msg}).",
            file=str(path),
            line=error.lineno,
            hint="Save a plan with `communal-sync plan FILE --out plan.json`.",
        ) from None
    if not isinstance(data, dict) or data.get("format_version") != PLAN_FORMAT_VERSION:
        raise InputError(
            "is not a communal-sync plan of this version.",
            file=str(path),
            hint="Make a new one with `communal-sync plan FILE --out plan.json`.",
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"is not a valid plan ({where}: {first['msg']}).",
            file=str(path),
            hint="Was it edited by hand? Make a new one with `communal-sync plan`.",
        ) from None


def check_input_unchanged(plan: Plan) -> None:
    """Refuse a plan whose input file has changed since it was planned."""
    if plan.input.sha256 is None:
        return
    source = Path(plan.input.name)
    if not source.is_file():
        warn(f"The planned input {plan.input.name} is not here; its checksum was not checked.")
        return
    if file_sha256(source) != plan.input.sha256:
        raise RefusedError(
            f"{plan.input.name} has changed since this plan was made; nothing was sent. "
            "Plan again to see the current changes."
        )


def check_same_api(plan: Plan, base_url: str) -> None:
    """Refuse to send a plan to a different API than the one it was made against."""
    if plan.base_url == base_url:
        return
    planned_host = plan.base_url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if is_loopback_host(planned_host) and base_url.startswith(("http://127.", "http://localhost")):
        return  # both ends are local sandboxes, whose ports change from run to run
    raise RefusedError(
        f"This plan was made against {plan.base_url}, not {base_url}; nothing was sent."
    )
