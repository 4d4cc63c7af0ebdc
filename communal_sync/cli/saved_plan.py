"""``apply PLAN``: apply a plan saved by ``plan --out``, exactly, after checking it still fits.

The plan is refused when its export changed since planning or it was made against another
API; users changed in Communal since are skipped (every user is re-read first), and a run
interrupted halfway is resumed by applying the same plan again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from pydantic import ValidationError

from communal_sync.api.settings import is_loopback_host
from communal_sync.api.throttle import Throttle
from communal_sync.cli import options as opt
from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.plan import CONCURRENCY, REPORT, show_plan
from communal_sync.cli.push import FAILED_OUT, YES, run_plan
from communal_sync.errors import InputError, RefusedError
from communal_sync.hashing import canonical_hash, file_sha256
from communal_sync.plan import PLAN_FORMAT_VERSION, Plan
from communal_sync.session import ApiOptions, open_session
from communal_sync.state import acquire_lock, open_state

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
    outputs = {"report": report, "failed_out": failed_out, "state": state, "sandbox": sandbox}
    plan = load_plan_file(plan_file)
    opt.refuse_overwriting_input((plan_file, plan.input.path or plan.input.name), outputs)
    check_input_unchanged(plan)
    api = ApiOptions(base_url, api_key_file, api_version, sandbox, sandbox_seed)
    with open_session(api, state=state, env=os.environ, throttle=Throttle()) as session:
        check_same_api(plan, session.settings.base_url)
        plan_hash = canonical_hash(plan.model_dump(mode="json"))
        with (
            acquire_lock(session.state_path, command=f"apply {plan_file}"),
            open_state(session.state_path) as store,
        ):
            store.journal.mark_abandoned_runs()
            unfinished = store.journal.latest_unfinished_run(plan_hash, kind="apply")
            run_id = None
            if unfinished is not None:
                store.journal.reopen_run(unfinished.id)
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
    source = Path(plan.input.path or plan.input.name)
    if not source.is_file():
        warn(f"The planned input {source} is not there; its checksum was not checked.")
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
