"""After a run: the summary, the failures, how to resume, the report and --failed-out."""

from __future__ import annotations

import csv
from pathlib import Path

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.apply import ApplyResult
from communal_sync.cli.app import fail, stdout_console, warn
from communal_sync.errors import CommunalSyncError
from communal_sync.files import private_writer
from communal_sync.plan import ISSUE_KINDS, IssueKind, Plan
from communal_sync.redact import redact_value
from communal_sync.reports import neutralize_data_cell, write_report
from communal_sync.sources import STDIN_NAME, open_source

ERROR_COLUMN = "error"


def run_summary(plan: Plan, result: ApplyResult, run_id: int) -> str:
    """One line: what the run did, then the rows it did not touch."""
    counts = result.counts()
    parts = [f"{counts['applied']} {'user' if counts['applied'] == 1 else 'users'} updated"]
    if counts["already"]:
        parts.append(f"{counts['already']} already applied")
    parts.append(f"{len(plan.unchanged)} unchanged")
    for status in ("failed", "conflict", "pending"):
        if counts[status]:
            label = "not sent" if status == "pending" else status
            parts.append(f"{counts[status]} {label}")
    kinds: tuple[IssueKind, ...] = tuple(k for k in ISSUE_KINDS if k != "duplicate")
    for kind in kinds:
        if n := plan.issue_count(kind):
            parts.append(f"{n} {kind}")
    return f"Run {run_id}: " + ", ".join(parts)


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
            reason = outcome.message or ""
            for name, messages in outcome.field_errors.items():
                reason += f" {name}: {'; '.join(messages)}"
            table.add_row(
                str(outcome.user_id),
                str(outcome.line),
                outcome.status,
                Text(redact_value(reason, redact) or ""),
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
