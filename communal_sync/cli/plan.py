"""``plan FILE`` and ``push FILE``: build the plan, show it, and (push) apply it."""

from __future__ import annotations

import enum
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from communal_sync.cli import events
from communal_sync.cli import options as opt
from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.render import render_plan
from communal_sync.errors import ExitCode, UsageError
from communal_sync.files import write_private_text
from communal_sync.hashing import file_sha256
from communal_sync.intake.pipeline import Intake, IntakeOptions, open_intake
from communal_sync.plan import Plan, PlanOptions
from communal_sync.planning.custom_fields import (
    CustomFieldMode,
    prepare_custom_fields,
    resolve_allow_clear,
)
from communal_sync.planning.diff import check_allow_clear
from communal_sync.planning.limits import parse_max_changes
from communal_sync.planning.planner import build_plan
from communal_sync.reports import plan_counts, write_report
from communal_sync.session import ApiOptions, Session, check_state_api, open_session
from communal_sync.state import StateStore, open_state

DEFAULT_CONCURRENCY = 4


class OnConflict(enum.StrEnum):
    skip = "skip"
    source = "source"
    communal = "communal"


ON_CONFLICT: OnConflict = typer.Option(
    OnConflict.skip,
    "--on-conflict",
    help="A field edited in Communal since our last push and different in the file: skip it "
    "and report (default), take the file's value (source), or keep Communal's (communal).",
)
ALLOW_CLEAR: list[str] = typer.Option(
    [],
    "--allow-clear",
    help="Let a blank cell clear this field (repeatable): a standard field such as telephone, "
    "custom:<name> (any case), or 'all'. An unknown name is refused. Required fields are "
    "never cleared.",
)
FULL_REFRESH: bool = typer.Option(
    False, "--full-refresh", help="Re-read everyone, even rows unchanged since the last push."
)
DISCOVER: bool = typer.Option(
    False,
    "--discover",
    help="Find unknown people by searching program signups for their email (one exact match).",
)
TRUST_IDS: bool = typer.Option(
    False,
    "--trust-ids",
    help="Push rows matched by id (or through the identity map) even when Communal's record "
    "shares no name or email with the row. Without it such a row is reported as mismatched "
    "and not pushed, so a shifted or wrong id column cannot overwrite someone else; pass it "
    "only when the file is meant to rename those people.",
)
MAX_CHANGES: str | None = typer.Option(
    None, "--max-changes", help="Refuse if more users than this would change: N or P%."
)
MAX_CLEARS: int | None = typer.Option(
    None, "--max-clears", help="Refuse if more fields than this would be cleared."
)
CONCURRENCY: int = typer.Option(
    DEFAULT_CONCURRENCY, "--concurrency", min=1, max=32, help="Requests in flight at once."
)
CUSTOM_FIELD_MODES: dict[bool | None, CustomFieldMode] = {
    None: "mapped",
    True: "headers",
    False: "off",
}
"""--custom-fields / neither / --no-custom-fields (or the config's custom_fields)."""
CUSTOM_FIELDS: bool | None = typer.Option(
    None,
    "--custom-fields/--no-custom-fields",
    help="--custom-fields also maps columns named like a Communal custom profile field; "
    "--no-custom-fields ignores custom fields entirely. Default: only columns mapped as "
    "custom:<name>.",
)
REPORT: Path | None = typer.Option(
    None, "--report", help="Also write the report to this file: .json, .csv, .md or .html."
)
PLAN_OUT: Path | None = typer.Option(
    None, "--out", help="Save the plan as JSON, to review and `apply` later."
)
DETAILED_EXITCODE: bool = typer.Option(
    False,
    "--detailed-exitcode",
    help="Exit 0 when nothing would change, 5 when changes are pending (3 and 4 as usual).",
)


@dataclass(frozen=True)
class PlanRequest:
    """Everything ``plan`` and ``push`` share, gathered from the command line."""

    file: str
    intake: IntakeOptions
    api: ApiOptions
    state: str | None
    options: PlanOptions
    concurrency: int
    custom_fields: bool | None = None


def _plan_options(
    on_conflict: OnConflict,
    allow_clear: list[str],
    full_refresh: bool,
    discover: bool,
    trust_ids: bool,
    max_changes: str | None,
    max_clears: int | None,
) -> PlanOptions:
    if max_changes is not None:
        parse_max_changes(max_changes)
    if max_clears is not None and max_clears < 0:
        raise UsageError("--max-clears must be 0 or more.")
    return PlanOptions(
        on_conflict=on_conflict.value,
        allow_clear=check_allow_clear(allow_clear),
        full_refresh=full_refresh,
        discover=discover,
        trust_ids=trust_ids,
        max_changes=max_changes,
        max_clears=max_clears,
    )


def build_request(
    *,
    file: str,
    on_conflict: OnConflict,
    allow_clear: list[str],
    full_refresh: bool,
    discover: bool,
    trust_ids: bool,
    max_changes: str | None,
    max_clears: int | None,
    concurrency: int,
    custom_fields: bool | None,
    map_items: list[str],
    config: Path | None,
    encoding: str | None,
    input_format: opt.InputFormat | None,
    on_duplicate: opt.OnDuplicate | None,
    default_region: str | None,
    base_url: str | None,
    api_key_file: Path | None,
    api_version: str | None,
    sandbox: bool,
    sandbox_seed: Path | None,
    state: str | None,
) -> PlanRequest:
    """Gather the options ``plan`` and ``push`` share into one request."""
    return PlanRequest(
        file=file,
        intake=IntakeOptions(
            encoding=encoding,
            input_format=input_format.value if input_format else None,
            map_items=map_items,
            config_path=config,
            on_duplicate=on_duplicate.value if on_duplicate else None,
            default_region=default_region,
        ),
        api=ApiOptions(base_url, api_key_file, api_version, sandbox, sandbox_seed),
        state=state,
        options=_plan_options(
            on_conflict, allow_clear, full_refresh, discover, trust_ids, max_changes, max_clears
        ),
        concurrency=concurrency,
        custom_fields=custom_fields,
    )


def request_from(arguments: dict[str, Any]) -> PlanRequest:
    """``build_request`` from a command's ``locals()``: the shared options, by name.

    ``plan`` and ``push`` declare the same options (typer needs them in each signature);
    this keeps the gathering in one place, and the check that no output option
    (``--out``, ``--report``, ``--failed-out``) names the input file.
    """
    opt.refuse_overwriting_input((arguments.get("file"),), arguments)
    names = inspect.signature(build_request).parameters
    return build_request(**{k: v for k, v in arguments.items() if k in names})


def input_sha256(file: str) -> str | None:
    """The export's sha256, recorded in the plan (``None`` for standard input)."""
    return None if file == "-" else file_sha256(Path(file))


def make_plan(request: PlanRequest, session: Session, intake: Intake, state: StateStore) -> Plan:
    """Build the plan for ``request`` over an open session (read-only everywhere)."""
    check_state_api(state, session.settings.base_url, bind=False)
    for message in intake.warnings:
        warn(message)
    flag = request.custom_fields
    if flag is None:
        flag = intake.config.defaults.custom_fields
    mode = CUSTOM_FIELD_MODES[flag]
    intake.mapping, custom = prepare_custom_fields(intake.mapping, session.client, mode)
    allow_clear = resolve_allow_clear(request.options.allow_clear, custom, session.client, mode)
    for message in custom.warnings():
        warn(message)
    return build_plan(
        intake,
        state=state,
        client=session.client,
        options=request.options.model_copy(
            update={"custom_fields": mode, "allow_clear": allow_clear}
        ),
        base_url=session.settings.base_url,
        input_sha256=input_sha256(request.file),
        concurrency=request.concurrency,
        custom=custom,
    )


def plan_exit_code(plan: Plan, *, detailed: bool) -> int:
    """4 refused, 3 rows invalid/unmatched/ambiguous/mismatched, 5 (detailed) changes
    pending, else 0."""
    if plan.refused:
        return ExitCode.REFUSED
    if plan.has_row_problems:
        return ExitCode.ROW_FAILURES
    if detailed and plan.to_update:
        return ExitCode.CHANGES_PENDING
    return ExitCode.OK


def show_plan(plan: Plan, *, report: Path | None, redact: bool) -> None:
    """Render ``plan`` on the terminal, emit its counts as an event, write ``--report``.

    The ``plan`` event (``--log-format json``) carries the summary and every count, rows
    by issue kind included, so a log shipper sees mismatched or unmatched rows without
    parsing the table; counts hold no personal value, so it is the same with --redact.
    """
    render_plan(plan, stdout_console(), redact=redact)
    events.emit(
        "plan", summary=plan.summary(), refused=plan.refused is not None, **plan_counts(plan)
    )
    if report is not None:
        write_report(plan, report, redact=redact)


@app.command("plan")
@handles_errors
def plan_command(
    file: str = opt.FILE,
    out: Path | None = PLAN_OUT,
    report: Path | None = REPORT,
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
    """Show exactly what a push would change, and why; change nothing."""
    request = request_from(locals())
    intake = open_intake(request.file, request.intake)
    with (
        open_session(request.api, state=request.state, env=os.environ) as session,
        open_state(session.state_path) as store,
    ):
        plan = make_plan(request, session, intake, store)
    show_plan(plan, report=report, redact=redact)
    if out is not None:
        write_private_text(out, plan.model_dump_json(indent=2) + "\n")
    raise typer.Exit(plan_exit_code(plan, detailed=detailed_exitcode))
