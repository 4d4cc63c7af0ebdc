"""What ``plan``, ``push``, ``apply`` and ``revert`` share: plan, show, ask, run, report.

The commands differ only in where their plan comes from (an export, a saved file, a past
run); once there is a plan, showing it, confirming it, running it through the core's run
lifecycle (``applying.run``) and reporting what happened are the same code.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from communal_sync.cli import events
from communal_sync.cli import prompt as terminal_prompt
from communal_sync.cli.app import fail, stdout_console, warn
from communal_sync.cli.options import IntakeFlags, OutputFlags, PlanningFlags
from communal_sync.cli.outputs import say_written
from communal_sync.cli.progress import emit_outcome, planning_progress, progress_reporter
from communal_sync.cli.render import question, render_failures, render_plan, run_summary
from communal_sync.errors import CommunalSyncError, ExitCode, RefusedError
from communal_sync.files import WriteFailed
from communal_sync.intake.pipeline import Intake, open_intake
from communal_sync.plan import Outcome, Plan, PlanOptions
from communal_sync.reports import render_report, write_report
from communal_sync.reports.error_rows import write_failed_rows
from communal_sync.sources.source import Source
from communal_sync.words import plural

if TYPE_CHECKING:
    from communal_sync.applying.run import LeftToSend, RunOutcome, RunRequest
    from communal_sync.session import Session
    from communal_sync.state import StateStore


@contextlib.contextmanager
def quiet_progress(*, run_id: int, redact: bool) -> Iterator[Callable[[Outcome], None]]:
    """``--quiet``: no bar, only the ``outcome`` events of users not updated (JSON logs)."""
    yield lambda outcome: emit_outcome(outcome, run_id=run_id, redact=redact)


def read_export(file: str, intake: IntakeFlags, planning: PlanningFlags) -> Intake:
    """Open and map the export, with every flag merged over the config file."""
    return open_intake(file, intake.intake_options(custom_fields=planning.custom_fields))


def input_sha256(source: Source) -> str | None:
    """The export's sha256, recorded in the plan (``None`` for standard input).

    Taken from the source's own bytes (a pipe's copy), never by opening the path again:
    a pipe read twice waits forever.
    """
    return source.sha256()


def make_plan(
    file: str,
    intake: Intake,
    session: Session,
    store: StateStore,
    *,
    options: PlanOptions,
    concurrency: int,
    quiet: bool = False,
) -> Plan:
    """Build the plan for ``intake`` over an open session (read-only everywhere), with
    progress while users are read (``progress.planning_progress``)."""
    from communal_sync.planning.planner import plan_export

    store.binding.check(session.settings.base_url, bind=False)
    with planning_progress(quiet=quiet) as progress:
        return plan_export(
            intake,
            state=store,
            client=session.client,
            options=options,
            base_url=session.settings.base_url,
            input_sha256=input_sha256(intake.source),
            concurrency=concurrency,
            warn=warn,
            roster_members=store.roster.member_count(),
            progress=progress,
        )


def show_plan(
    plan: Plan, output: OutputFlags, *, write: bool = True, run_follows: bool = False
) -> None:
    """Render ``plan`` on the terminal, emit its counts as an event, write ``--report``
    (unless ``write`` is False: a run writes it once it is over).

    With ``--quiet`` the plan's summary line is the one line printed, unless a run follows
    (``run_follows``) with a summary line of its own; a refused plan has none, so it
    keeps its refusal and summary.

    The ``plan`` event (``--log-format json``) carries the summary and every count, rows
    by issue kind included, so a log shipper sees mismatched or unmatched rows without
    parsing the table; counts hold no personal value, so it is the same with --redact.
    """
    if not (output.quiet and run_follows and not plan.refused):
        _render(plan, output)
    events.emit(
        "plan",
        summary=plan.summary(),
        refused=plan.refused is not None,
        first_time_writes=plan.first_time_writes,
        **plan.counts(),
    )
    if write and output.report is not None:
        write_report(plan, output.report, redact=output.redact)
        say_written("Report", output.report, quiet=output.quiet)


def _render(plan: Plan, output: OutputFlags) -> None:
    render_plan(
        plan,
        stdout_console(),
        redact=output.redact,
        show=output.show.value,
        quiet=output.quiet,
        report=output.report,
    )


def show_resumed(run_id: int, left: LeftToSend, output: OutputFlags) -> None:
    """Say how far the resumed run got, then show only what is left of its plan."""
    if not output.quiet:
        stdout_console().print(
            f"Resuming run {run_id}: {left.done} of {left.total} "
            f"{plural(left.total, 'user')} done, {left.left} left.",
            soft_wrap=True,
        )
    show_plan(left.plan, output, write=False, run_follows=True)


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


def confirm(plan: Plan) -> bool:
    """Ask on a terminal; without one there is no one to ask, so refuse (exit 4).

    The question says how many users ``plan`` sends to ("Apply these changes to 400
    users? [y/N]"), right under the summary and the rows not pushed.
    """
    if not sys.stdin.isatty():
        raise RefusedError(
            "Not on a terminal, so there is no one to confirm: add --yes to apply the plan."
        )
    if not plan.to_update:
        return True  # a resumed run with nothing left: finish it, there is nothing to ask
    try:
        return terminal_prompt.ask_yes_no(question(plan), default=False)
    except (typer.Abort, KeyboardInterrupt, EOFError):
        # Ctrl-C (or the end of input) at the question: nothing was sent, and the exit
        # code says "interrupted" (130), as for Ctrl-C anywhere else, not a fatal 1.
        stdout_console().print("\nInterrupted at the question: nothing was sent.")
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def run(
    plan: Plan,
    session: Session,
    store: StateStore,
    *,
    request: RunRequest,
    output: OutputFlags,
    failed_out: Path | None = None,
    resume_hint: str,
    shown: Plan | None = None,
) -> int:
    """Run ``plan`` through the core's run lifecycle, then say and write what happened.

    ``shown`` is the plan the person saw and is asked about, when it is not ``plan``
    itself: what is left of a resumed run.
    """
    from communal_sync.applying.run import RunHooks, run_plan

    redact = output.redact

    def progress(total: int, run_id: int) -> AbstractContextManager[Callable[[Outcome], None]]:
        if output.quiet:
            return quiet_progress(run_id=run_id, redact=redact)
        return progress_reporter(total, run_id=run_id, redact=redact)

    def ask(asked: Plan) -> bool:
        return confirm(shown if shown is not None else asked)

    outcome = run_plan(
        plan,
        client=session.client,
        store=store,
        base_url=session.settings.base_url,
        request=request,
        hooks=RunHooks(confirm=ask, progress=progress, event=events.emit),
    )
    if outcome.declined and not output.quiet:
        stdout_console().print("Nothing was sent.")
    if outcome.started:
        finish_report(plan, outcome, output=output, failed_out=failed_out, resume_hint=resume_hint)
    elif output.report is not None:
        # Refused by a limit or declined: nothing was sent, but the report is written all
        # the same, with the refusal and its reason in it. Cron reads it on exactly the
        # night a limit trips.
        write_report(plan, output.report, redact=redact)
        say_written("Report", output.report, quiet=output.quiet)
    if output.as_json:
        _print_run_json(plan, outcome, redact=redact)
    return outcome.exit_code


def _print_run_json(plan: Plan, outcome: RunOutcome, *, redact: bool) -> None:
    """``--json``: the run report (the plan's, when nothing was sent) on stdout, as
    ``--report run.json`` writes it."""
    if outcome.started:
        text = render_report(
            plan, "json", redact=redact, outcomes=outcome.result.outcomes, run_id=outcome.run_id
        )
    else:
        text = render_report(plan, "json", redact=redact)
    typer.echo(text.rstrip("\n"))


def finish_report(
    plan: Plan,
    outcome: RunOutcome,
    *,
    output: OutputFlags,
    failed_out: Path | None,
    resume_hint: str,
) -> None:
    """Print the outcome of a run and write the files asked for."""
    assert outcome.run_id is not None and outcome.tally is not None
    console = stdout_console()
    result = outcome.result
    if not output.quiet:
        render_failures(result.failed, console, redact=output.redact)
    console.print(escape(run_summary(plan, outcome.tally, outcome.run_id)), soft_wrap=True)
    if result.fatal is not None:
        fail(f"{result.fatal} The run stopped; nothing more was sent. Resume with: {resume_hint}")
    elif result.interrupted:
        fail(
            f"Interrupted: {result.pending} users were not sent; everything sent was recorded. "
            f"Resume with: {resume_hint}"
        )
    # The run is over and journalled: a file that cannot be written now (a full disk, its
    # folder removed since the check before the first request) is said in one line, and
    # must not turn a run that changed data into a "fatal" or "usage" exit for cron.
    if output.report is not None:
        try:
            write_report(
                plan,
                output.report,
                redact=output.redact,
                outcomes=result.outcomes,
                run_id=outcome.run_id,
            )
        except CommunalSyncError as error:
            warn_not_written("the report", output.report, error, outcome)
        else:
            say_written("Report", output.report, quiet=output.quiet)
    if failed_out is not None:
        try:
            written = write_failed_rows(plan, result.failed, failed_out, warn=warn)
        except CommunalSyncError as error:
            warn_not_written("the failed rows (--failed-out)", failed_out, error, outcome)
        else:
            if written:
                say_written("Failed rows", failed_out, quiet=output.quiet)


def warn_not_written(what: str, path: Path, error: CommunalSyncError, outcome: RunOutcome) -> None:
    """One warning line for a file a run could not write at its end; the run's own exit
    code stands (it is said in the line, with where every outcome can still be read)."""
    reason = error.reason if isinstance(error, WriteFailed) else str(error)
    ended = "finished" if outcome.status == "finished" else f"ended {outcome.status}"
    warn(
        f"{what} could not be written to {path}: {reason}; the run itself {ended} with exit "
        f"code {outcome.exit_code}: see `communal-sync runs show {outcome.run_id}` for every "
        "outcome."
    )
