"""After a run: the summary, the failures, how to resume, the report and --failed-out."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Final

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.applying.apply import ApplyResult
from communal_sync.cli.app import fail, stdout_console, warn
from communal_sync.errors import CommunalSyncError
from communal_sync.files import private_writer
from communal_sync.plan import ISSUE_KINDS, IssueKind, Outcome, Plan
from communal_sync.reports import neutralize_data_cell, plan_counts, write_report
from communal_sync.reports.redaction import redact_value
from communal_sync.sources.source import STDIN_NAME, open_source

ERROR_COLUMN = "error"
CONFLICTS_LEFT_ALONE: Final = "conflicts_left_alone"
"""The stored count of conflicting fields the plan left alone (``--on-conflict skip``)."""


def conflicts_left_alone(plan: Plan) -> int:
    """Conflicting fields the plan leaves as Communal has them: a reason to exit 3."""
    return sum(1 for u in plan.users for c in u.conflicts if c.resolution == "skipped")


def plan_run_counts(plan: Plan) -> dict[str, int]:
    """The plan's counts a run stores beside its outcomes (see ``run_counts``)."""
    return {**plan_counts(plan), CONFLICTS_LEFT_ALONE: conflicts_left_alone(plan)}


def run_counts(plan: Plan, result: ApplyResult) -> dict[str, int]:
    """Everything a run's exit code follows from, as the journal stores it.

    The apply outcomes (applied, already, failed, conflict, pending) and the plan's own
    counts (unchanged, invalid, unmatched, ..., conflicts left alone, clears): a run that
    exits 3 for an invalid row or a skipped conflict says so in ``runs`` too.
    """
    return {**result.counts(), **plan_run_counts(plan)}


def run_summary(plan: Plan, result: ApplyResult, run_id: int) -> str:
    """One line: what the run did, then the rows it did not touch (every reason for exit 3)."""
    counts = result.counts()
    parts = [f"{counts['applied']} {_plural(counts['applied'], 'user')} updated"]
    if counts["already"]:
        parts.append(f"{counts['already']} already applied")
    parts.append(f"{len(plan.unchanged)} unchanged")
    for status in ("failed", "conflict", "pending"):
        if counts[status]:
            label = "not sent" if status == "pending" else status
            parts.append(f"{counts[status]} {label}")
    if left_alone := conflicts_left_alone(plan):
        parts.append(f"{left_alone} {_plural(left_alone, 'conflict')} left alone")
    kinds: tuple[IssueKind, ...] = tuple(k for k in ISSUE_KINDS if k != "duplicate")
    for kind in kinds:
        if n := plan.issue_count(kind):
            parts.append(f"{n} {kind}")
    return f"Run {run_id}: " + ", ".join(parts)


def failure_reason(outcome: Outcome) -> str:
    """The outcome's message, then any per-field error the message does not already say.

    A 422's message already lists the API's field errors, so they are not repeated.
    """
    reason = outcome.message or ""
    extra = [
        f"{name}: {message}"
        for name in sorted(outcome.field_errors)
        for message in outcome.field_errors[name]
        if message.rstrip(". ") not in reason
    ]
    return " ".join([reason, *extra]).strip()


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def finish_report(
    plan: Plan,
    result: ApplyResult,
    *,
    run_id: int,
    report: Path | None,
    failed_out: Path | None,
    redact: bool,
    resume_hint: str,
) -> None:
    """Print the outcome of a run and write the files asked for."""
    console = stdout_console()
    failures = result.failed
    if failures:
        table = Table(title="Not updated", title_justify="left")
        for column in ("user", "line", "result", "reason"):
            table.add_column(column, overflow="fold")
        for outcome in failures:
            table.add_row(
                str(outcome.user_id),
                str(outcome.line),
                outcome.status,
                Text(redact_value(failure_reason(outcome), redact) or ""),
            )
        console.print(table)
    console.print(escape(run_summary(plan, result, run_id)))
    if result.fatal is not None:
        fail(f"{result.fatal} The run stopped; nothing more was sent. Resume with: {resume_hint}")
    elif result.interrupted:
        fail(
            f"Interrupted: {result.pending} users were not sent; everything sent was recorded. "
            f"Resume with: {resume_hint}"
        )
    if report is not None:
        write_report(plan, report, redact=redact, outcomes=result.outcomes, run_id=run_id)
    if failed_out is not None:
        write_failed_rows(plan, result, failed_out)


def write_failed_rows(plan: Plan, result: ApplyResult, path: Path) -> None:
    """Write the source rows that were not pushed (failed, conflicting, invalid, unmatched)
    exactly as they came in, plus an ``error`` column, ready to fix and feed back."""
    reasons: dict[int, list[str]] = {}
    for outcome in result.failed:
        reasons.setdefault(outcome.line, []).append(outcome.message or outcome.status)
    for issue in plan.issues:
        if issue.kind != "duplicate":
            where = f"{issue.field}: " if issue.field else ""
            reasons.setdefault(issue.line, []).append(where + issue.message)
    if plan.input.name == STDIN_NAME:
        warn("--failed-out needs the input file again, and standard input cannot be re-read.")
        return
    try:
        source = open_source(plan.input.name)
    except CommunalSyncError as error:
        warn(f"--failed-out: {error}")
        return
    with source, private_writer(path, newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=[*source.headers, ERROR_COLUMN], extrasaction="ignore"
        )
        writer.writeheader()
        for row in source.rows():
            if row.line in reasons:
                cells = {**row.values, ERROR_COLUMN: "; ".join(reasons[row.line])}
                writer.writerow({k: neutralize_data_cell(v) for k, v in cells.items()})
