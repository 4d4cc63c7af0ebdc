"""``revert RUN``: restore the values a run overwrote, unless they were changed again since."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from communal_sync.api.throttle import Throttle
from communal_sync.cli import flow
from communal_sync.cli.app import app, handles_errors, warn
from communal_sync.cli.json_output import print_plan_json, start_json
from communal_sync.cli.options import (
    DEFAULT_CONCURRENCY,
    ApiFlags,
    ConcurrencyOpt,
    DryRunOpt,
    OutputFlags,
    StateOpt,
    YesOpt,
    flags,
)
from communal_sync.cli.outputs import check_outputs
from communal_sync.fields import MAX_USER_ID
from communal_sync.words import fold_repeated

RevertRunArg = Annotated[
    int,
    typer.Argument(
        metavar="RUN",
        help="The run to undo, from `communal-sync runs`.",
        show_default=False,
        min=1,
        max=MAX_USER_ID,  # what the state file can hold: a larger id is no run
    ),
]

RestoreUnverifiedOpt = Annotated[
    bool,
    typer.Option(
        "--restore-unverified",
        help=(
            "Also put back fields whose value before the run is known only from our own last "
            "push (addresses: Communal never shows them), although Communal may have held "
            "something else. Without it they are left alone and reported per user."
        ),
    ),
]


@app.command()
@handles_errors
@flags
def revert(
    run_id: RevertRunArg,
    output: OutputFlags,
    api: ApiFlags,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    state: StateOpt = None,
    restore_unverified: RestoreUnverifiedOpt = False,
) -> None:
    """Restore the values a run overwrote, unless they were changed again since."""
    from communal_sync.applying.run import RunRequest
    from communal_sync.planning.revert import build_revert_plan
    from communal_sync.session import open_session
    from communal_sync.state import acquire_lock, open_state

    check_outputs({"--report": output.report}, state=state, sandbox=api.sandbox)
    start_json(output, answered=yes or dry_run, saved_plan=dry_run)
    with open_session(api.options(), state=state, env=os.environ, throttle=Throttle()) as s:
        with open_state(s.state_path) as store:
            store.binding.check(s.settings.base_url, bind=False)
            plan = build_revert_plan(
                run_id,
                store=store,
                client=s.client,
                base_url=s.settings.base_url,
                restore_unverified=restore_unverified,
            )
        for message in fold_repeated(plan.warnings):
            warn(message)
        if dry_run:
            flow.show_plan(plan, output)
            if output.as_json:
                print_plan_json(plan)
            raise typer.Exit(flow.plan_exit_code(plan, detailed=False))
        with (
            acquire_lock(s.state_path, command=f"revert {run_id}"),
            open_state(s.state_path) as store,
        ):
            store.journal.mark_abandoned_runs()
            flow.show_plan(plan, output, write=False, run_follows=True)
            code = flow.run(
                plan,
                s,
                store,
                request=RunRequest(
                    kind="revert", confirmed=yes, verify=True, concurrency=concurrency
                ),
                output=output,
                resume_hint=f"communal-sync revert {run_id}",
            )
    raise typer.Exit(code)
