"""``push FILE``: plan, show, confirm, apply the same plan object, journal, report."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from communal_sync.api.throttle import Throttle
from communal_sync.applying.apply import ApplyResult, apply_plan, remember_unchanged
from communal_sync.cli import events
from communal_sync.cli import options as opt
from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.plan import (
    ALLOW_CLEAR,
    CONCURRENCY,
    CUSTOM_FIELDS,
    DETAILED_EXITCODE,
    DISCOVER,
    FULL_REFRESH,
    MAX_CHANGES,
    MAX_CLEARS,
    ON_CONFLICT,
    REPORT,
    TRUST_IDS,
    OnConflict,
    input_sha256,
    make_plan,
    plan_exit_code,
    request_from,
    show_plan,
)
from communal_sync.cli.progress import progress_reporter
from communal_sync.cli.results import finish_report, run_counts
from communal_sync.errors import ExitCode, RefusedError, UsageError
from communal_sync.intake.pipeline import open_intake
from communal_sync.plan import Plan
from communal_sync.session import Session, check_state_api, open_session
from communal_sync.state import StateStore, acquire_lock, open_state
from communal_sync.state.records import EndStatus, RunKind

DRY_RUN: bool = typer.Option(False, "--dry-run", help="Show the plan; send nothing.")
YES: bool = typer.Option(False, "--yes", "-y", help="Apply without asking (for cron).")
RESUME: bool = typer.Option(
    False, "--resume", help="Finish the interrupted run of this same file; nothing is sent twice."
)
FAILED_OUT: Path | None = typer.Option(
    None, "--failed-out", help="Write the source rows that failed, with the reason, to this CSV."
)


@app.command()
@handles_errors
def push(
    file: str = opt.FILE,
    dry_run: bool = DRY_RUN,
    yes: bool = YES,
    resume: bool = RESUME,
    report: Path | None = REPORT,
    failed_out: Path | None = FAILED_OUT,
    redact: bool = opt.REDACT,
    detailed_exitcode: bool = DETAILED_EXITCODE,
    on_conflict: OnConflict = ON_CONFLICT,
    allow_clear: list[str] = ALLOW_CLEAR,
    full_refresh: bool = FULL_REFRESH,
    discover: bool = DISCOVER,
    trust_ids: bool = TRUST_IDS,
    max_changes: str | None = MAX_CHANGES,
    max_clears: int | None = MAX_CLEARS,
    concurrency: int = CONCURRENCY,
    custom_fields: bool | None = CUSTOM_FIELDS,
    map_items: list[str] = opt.MAP,
    config: Path | None = opt.CONFIG,
    encoding: str | None = opt.ENCODING,
    input_format: opt.InputFormat | None = opt.INPUT_FORMAT,
    on_duplicate: opt.OnDuplicate | None = opt.ON_DUPLICATE,
    default_region: str | None = opt.DEFAULT_REGION,
    base_url: str | None = opt.BASE_URL,
    api_key_file: Path | None = opt.API_KEY_FILE,
    api_version: str | None = opt.API_VERSION,
    sandbox: bool = opt.SANDBOX,
    sandbox_seed: Path | None = opt.SANDBOX_SEED,
    state: str | None = opt.STATE,
) -> None:
    """Make Communal match the file: plan, show, confirm, then send only the real changes.

    --dry-run shows the plan and sends nothing. Not on a terminal, --yes is required.
    """
    request = request_from(locals())
    opt.refuse_raw_with_redact("--failed-out", failed_out, redact)
    if resume and file == "-":
        raise UsageError(
            "--resume needs the same file again to know which run to finish; standard input "
            "cannot be recognized. Save the export to a file, or push it afresh."
        )
    intake = open_intake(request.file, request.intake)
    throttle = Throttle()
    with open_session(request.api, state=request.state, env=os.environ, throttle=throttle) as s:
        if dry_run:
            with open_state(s.state_path) as store:
                plan = make_plan(request, s, intake, store)
            show_plan(plan, report=report, redact=redact)
            raise typer.Exit(plan_exit_code(plan, detailed=detailed_exitcode))
        with (
            acquire_lock(s.state_path, command=f"push {request.file}"),
            open_state(s.state_path) as store,
        ):
            store.journal.mark_abandoned_runs()
            sha = input_sha256(request.file)
            run_id, resumed = _resumable(store, sha) if resume else (None, None)
            plan = resumed or make_plan(request, s, intake, store)
            show_plan(plan, report=None, redact=redact)
            code = run_plan(
                plan,
                s,
                store,
                run_id=run_id,
                sha=sha,
                verify=resumed is not None,
                yes=yes,
                concurrency=request.concurrency,
                report=report,
                failed_out=failed_out,
                redact=redact,
                resume_hint=f"communal-sync push {request.file} --resume",
            )
    raise typer.Exit(code)


def _resumable(store: StateStore, sha: str | None) -> tuple[int | None, Plan | None]:
    """The interrupted run of this same input and its plan, or nothing to resume."""
    run = store.journal.latest_unfinished_run(sha, kind="push")
    plan_json = store.journal.load_plan(run.id) if run is not None else None
    if run is None or plan_json is None:
        warn("There is no interrupted run of this file to resume; planning afresh.")
        return None, None
    store.journal.reopen_run(run.id)
    stdout_console().print(f"Resuming run {run.id} (started {run.started_at:%Y-%m-%d %H:%M}).")
    return run.id, Plan.model_validate_json(plan_json)


def confirm_or_refuse(plan: Plan, *, yes: bool) -> bool:
    """Ask on a terminal; without one, refuse unless --yes. False means the user said no."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise RefusedError(
            "Not on a terminal, so there is no one to confirm: add --yes to apply the plan."
        )
    count = len(plan.to_update)
    users = "user" if count == 1 else "users"
    return typer.confirm(f"Apply these changes to {count} {users}?", default=False)


def run_plan(
    plan: Plan,
    session: Session,
    store: StateStore,
    *,
    run_id: int | None,
    sha: str | None,
    verify: bool,
    yes: bool,
    concurrency: int,
    report: Path | None,
    failed_out: Path | None,
    redact: bool,
    resume_hint: str,
    kind: RunKind = "push",
) -> int:
    """Apply ``plan`` under a journalled run and return the exit code."""
    check_state_api(store, session.settings.base_url, bind=True)
    if plan.refused:
        return ExitCode.REFUSED
    if plan.to_update and not confirm_or_refuse(plan, yes=yes):
        stdout_console().print("Nothing was sent.")
        return ExitCode.OK
    # The plan sat on screen for as long as the person took to answer: anyone changed in
    # Communal meanwhile is re-read first and left alone, not overwritten.
    verify = verify or (bool(plan.to_update) and not yes)
    if run_id is None:
        run_id = store.journal.start_run(
            kind,
            input_name=plan.input.name,
            input_sha256=sha,
            plan_json=plan.model_dump_json(),
        )
    with progress_reporter(len(plan.to_update), run_id=run_id, redact=redact) as on_outcome:
        result = apply_plan(
            plan,
            client=session.client,
            store=store,
            run_id=run_id,
            concurrency=concurrency,
            verify=verify,
            on_outcome=on_outcome,
        )
    if result.fatal is None and not result.interrupted:
        remember_unchanged(plan, store, run_id)
    code = run_exit_code(plan, result)
    status: EndStatus = "finished"
    if result.fatal is not None:
        status = "failed"
    elif result.interrupted:
        status = "interrupted"
    counts = run_counts(plan, result)
    store.journal.finish_run(run_id, status=status, exit_code=code, counts=counts)
    events.emit("run_finished", run=run_id, status=status, exit_code=code, **counts)
    finish_report(
        plan,
        result,
        run_id=run_id,
        report=report,
        failed_out=failed_out,
        redact=redact,
        resume_hint=resume_hint,
    )
    return code


def run_exit_code(plan: Plan, result: ApplyResult) -> int:
    """1 fatal, 130 interrupted, 3 any row failed or was invalid/unmatched, else 0."""
    if result.fatal is not None:
        return ExitCode.FATAL
    if result.interrupted:
        return ExitCode.INTERRUPTED
    if result.failed or plan.has_row_problems:
        return ExitCode.ROW_FAILURES
    return ExitCode.OK
