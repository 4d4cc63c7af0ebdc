"""``apply PLAN``: apply a plan saved by ``plan --out``, exactly, after checking it still fits.

The plan is refused when its export changed since planning or it was made against another
API; users changed in Communal since are skipped (every user is re-read first), and a run
interrupted halfway is resumed by applying the same plan again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from communal_sync.api.throttle import Throttle
from communal_sync.applying.saved_plan import check_input_unchanged, check_same_api, load_plan_file
from communal_sync.cli import flow
from communal_sync.cli.app import app, handles_errors, warn
from communal_sync.cli.json_output import start_json
from communal_sync.cli.options import (
    DEFAULT_CONCURRENCY,
    ApiFlags,
    ConcurrencyOpt,
    FailedOutOpt,
    OutputFlags,
    StateOpt,
    YesOpt,
    flags,
)
from communal_sync.cli.outputs import check_outputs, refuse_raw_with_redact
from communal_sync.hashing import canonical_hash

PlanFileArg = Annotated[
    Path,
    typer.Argument(
        metavar="PLAN", help="A plan saved by `plan --out plan.json`.", show_default=False
    ),
]


@app.command("apply")
@handles_errors
@flags
def apply_command(
    plan_file: PlanFileArg,
    output: OutputFlags,
    api: ApiFlags,
    yes: YesOpt = False,
    failed_out: FailedOutOpt = None,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    state: StateOpt = None,
) -> None:
    """Apply a saved plan exactly; users changed in Communal since planning are skipped.

    Run it again after an interruption: what was done is not sent again.
    """
    from communal_sync.applying.run import RunRequest, left_to_send, resumable_run
    from communal_sync.session import open_session
    from communal_sync.state import acquire_lock, open_state

    start_json(output, answered=yes, saved_plan=False)
    refuse_raw_with_redact("--failed-out", failed_out, output.redact)
    plan = load_plan_file(plan_file)
    check_outputs(
        {"--report": output.report, "--failed-out": failed_out},
        inputs=(plan_file, plan.input.path or plan.input.name),
        state=state,
        sandbox=api.sandbox,
    )
    check_input_unchanged(plan, warn=warn)
    with open_session(api.options(), state=state, env=os.environ, throttle=Throttle()) as s:
        check_same_api(plan, s.settings.base_url)
        plan_hash = canonical_hash(plan.model_dump(mode="json"))
        with (
            acquire_lock(s.state_path, command=f"apply {plan_file}"),
            open_state(s.state_path) as store,
        ):
            store.journal.mark_abandoned_runs()
            run_id = resumable_run(store, plan_hash, kind="apply")
            shown = None
            if run_id is not None:
                left = left_to_send(plan, store, run_id)
                flow.show_resumed(run_id, left, output)
                shown = left.plan
            else:
                flow.show_plan(plan, output, write=False, run_follows=True)
            code = flow.run(
                plan,
                s,
                store,
                request=RunRequest(
                    kind="apply",
                    confirmed=yes,
                    run_id=run_id,
                    run_key=plan_hash,
                    verify=True,
                    concurrency=concurrency,
                ),
                output=output,
                failed_out=failed_out,
                resume_hint=f"communal-sync apply {plan_file}",
                shown=shown,
            )
    raise typer.Exit(code)
