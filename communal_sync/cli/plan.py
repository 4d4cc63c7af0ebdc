"""``plan FILE``: show exactly what a push would change, and why; change nothing."""

from __future__ import annotations

import os
import shlex

import typer

from communal_sync.cli import flow
from communal_sync.cli.app import app, handles_errors
from communal_sync.cli.json_output import print_plan_json, start_json
from communal_sync.cli.options import (
    DEFAULT_CONCURRENCY,
    ApiFlags,
    ConcurrencyOpt,
    DetailedExitcodeOpt,
    FileArg,
    IntakeFlags,
    OutputFlags,
    PlanningFlags,
    PlanOutOpt,
    StateOpt,
    flags,
)
from communal_sync.cli.outputs import check_outputs, say_next, say_written
from communal_sync.files import write_private_text


@app.command("plan")
@handles_errors
@flags
def plan_command(
    file: FileArg,
    output: OutputFlags,
    planning: PlanningFlags,
    intake: IntakeFlags,
    api: ApiFlags,
    out: PlanOutOpt = None,
    detailed_exitcode: DetailedExitcodeOpt = False,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    state: StateOpt = None,
) -> None:
    """Show exactly what a push would change, and why; change nothing."""
    from communal_sync.session import open_session
    from communal_sync.state import open_state

    check_outputs(
        {"--out": out, "--report": output.report}, inputs=(file,), state=state, sandbox=api.sandbox
    )
    start_json(output, answered=True, saved_plan=True)
    options = planning.options()
    export = flow.read_export(file, intake, planning)
    with (
        open_session(api.options(), state=state, env=os.environ) as session,
        open_state(session.state_path) as store,
    ):
        plan = flow.make_plan(
            file,
            export,
            session,
            store,
            options=options,
            concurrency=concurrency,
            quiet=output.quiet,
        )
    flow.show_plan(plan, output)
    if out is not None:
        write_private_text(out, plan.model_dump_json(indent=2) + "\n")
        say_written("Plan", out, quiet=output.quiet)
        say_next(f"Apply it with: communal-sync apply {shlex.quote(str(out))}", quiet=output.quiet)
    if output.as_json:
        print_plan_json(plan)
    raise typer.Exit(flow.plan_exit_code(plan, detailed=detailed_exitcode))
