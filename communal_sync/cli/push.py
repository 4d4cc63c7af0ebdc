"""``push FILE``: plan, show, confirm, apply the same plan object, journal, report."""

from __future__ import annotations

import os

import typer

from communal_sync.api.throttle import Throttle
from communal_sync.cli import flow
from communal_sync.cli.app import app, handles_errors, warn
from communal_sync.cli.json_output import print_plan_json, start_json
from communal_sync.cli.options import (
    DEFAULT_CONCURRENCY,
    STDIN,
    ApiFlags,
    ConcurrencyOpt,
    DetailedExitcodeOpt,
    DryRunOpt,
    FailedOutOpt,
    FileArg,
    IntakeFlags,
    OutputFlags,
    PlanningFlags,
    ResumeOpt,
    StateOpt,
    YesOpt,
    flags,
)
from communal_sync.cli.outputs import check_outputs, refuse_raw_with_redact
from communal_sync.errors import UsageError


@app.command()
@handles_errors
@flags
def push(
    file: FileArg,
    output: OutputFlags,
    planning: PlanningFlags,
    intake: IntakeFlags,
    api: ApiFlags,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    resume: ResumeOpt = False,
    failed_out: FailedOutOpt = None,
    detailed_exitcode: DetailedExitcodeOpt = False,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    state: StateOpt = None,
) -> None:
    """Make Communal match the file: plan, show, confirm, then send only the real changes.

    --dry-run shows the plan and sends nothing. Not on a terminal, --yes is required.
    """
    from communal_sync.applying.run import RunRequest, left_to_send, resumable_push
    from communal_sync.session import open_session
    from communal_sync.state import acquire_lock, open_state

    check_outputs(
        {"--report": output.report, "--failed-out": failed_out},
        inputs=(file,),
        state=state,
        sandbox=api.sandbox,
    )
    start_json(output, answered=yes or dry_run, saved_plan=dry_run)
    options = planning.options()
    refuse_raw_with_redact("--failed-out", failed_out, output.redact)
    if resume and file == STDIN:
        raise UsageError(
            "--resume needs the same file again to know which run to finish; standard input "
            "cannot be recognized. Save the export to a file, or push it afresh."
        )
    export = flow.read_export(file, intake, planning)
    throttle = Throttle()
    with open_session(api.options(), state=state, env=os.environ, throttle=throttle) as s:
        if dry_run:
            with open_state(s.state_path) as store:
                plan = flow.make_plan(
                    file,
                    export,
                    s,
                    store,
                    options=options,
                    concurrency=concurrency,
                    quiet=output.quiet,
                )
            flow.show_plan(plan, output)
            if output.as_json:
                print_plan_json(plan)
            raise typer.Exit(flow.plan_exit_code(plan, detailed=detailed_exitcode))
        with (
            acquire_lock(s.state_path, command=f"push {file}"),
            open_state(s.state_path) as store,
        ):
            store.journal.mark_abandoned_runs()
            sha = flow.input_sha256(export.source)
            resumed = resumable_push(store, sha) if resume else None
            if resume and resumed is None:
                warn("There is no interrupted run of this file to resume; planning afresh.")
            shown = None
            if resumed is not None:
                run_id, plan, _started = resumed
                left = left_to_send(plan, store, run_id)
                flow.show_resumed(run_id, left, output)
                shown = left.plan
            else:
                run_id = None
                plan = flow.make_plan(
                    file,
                    export,
                    s,
                    store,
                    options=options,
                    concurrency=concurrency,
                    quiet=output.quiet,
                )
                flow.show_plan(plan, output, write=False, run_follows=True)
            code = flow.run(
                plan,
                s,
                store,
                request=RunRequest(
                    kind="push",
                    confirmed=yes,
                    run_id=run_id,
                    run_key=sha,
                    verify=resumed is not None,
                    concurrency=concurrency,
                ),
                output=output,
                failed_out=failed_out,
                resume_hint=f"communal-sync push {file} --resume",
                shown=shown,
            )
    raise typer.Exit(code)
