"""While a plan is applied (or members are read): a progress bar on a terminal, events in cron.

Nothing animated in cron. With ``--log-format json`` stderr carries events line by line,
so there is no bar; instead each user that failed or conflicted gets one ``outcome``
event saying who and why, the moment it is known.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from communal_sync.cli import events
from communal_sync.cli.app import stderr_console
from communal_sync.plan import Outcome
from communal_sync.reports.redaction import redact_value

if TYPE_CHECKING:
    from communal_sync.identity import from_communal

PROBLEM_STATUSES: Final = frozenset({"failed", "conflict"})
"""Outcomes worth an event of their own: the user was not (fully) updated."""


def outcome_event(outcome: Outcome, *, run_id: int, redact: bool) -> dict[str, Any]:
    """The fields of one ``outcome`` event: who (user id, source line), what, and why.

    The reason is the text the "Not updated" table shows, masked as a whole with
    ``--redact`` (an API message may quote a value); the names of the fields the API
    rejected are not personal and stay.
    """
    return {
        "run": run_id,
        "user_id": outcome.user_id,
        "line": outcome.line,
        "status": outcome.status,
        "http_status": outcome.http_status,
        "reason": redact_value(outcome.reason, redact),
        "fields": sorted(outcome.field_errors),
    }


def emit_outcome(outcome: Outcome, *, run_id: int, redact: bool) -> None:
    """Emit an ``outcome`` event for a failed or conflicting user (JSON log format only)."""
    if outcome.status in PROBLEM_STATUSES:
        events.emit("outcome", **outcome_event(outcome, run_id=run_id, redact=redact))


@contextlib.contextmanager
def progress_reporter(
    total: int, *, run_id: int, redact: bool
) -> Iterator[Callable[[Outcome], None]]:
    """Yield the callback apply calls after each user.

    It emits the user's ``outcome`` event if it failed or conflicted, and advances a bar
    when stderr is a terminal and not carrying JSON events.
    """

    def report(outcome: Outcome) -> None:
        emit_outcome(outcome, run_id=run_id, redact=redact)

    if total == 0 or not sys.stderr.isatty() or events.json_mode():
        yield report
        return
    columns = (
        TextColumn("Updating users"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr_console(), transient=True) as progress:
        task = progress.add_task("push", total=total, failed=0)
        failed = 0

        def advance(outcome: Outcome) -> None:
            nonlocal failed
            report(outcome)
            failed += outcome.status in PROBLEM_STATUSES
            progress.update(task, advance=1, failed=failed)

        yield advance


@contextlib.contextmanager
def member_progress(*, redact: bool) -> Iterator[Callable[[from_communal.Progress], None]]:
    """Yield the callback ``link --from-communal`` calls after each page and member.

    A bar of members read (its total grows as pages reveal members) when stderr is a
    terminal; otherwise ``membership_page`` events and a ``member_failed`` event for each
    member whose read failed (JSON log format only).
    """

    def emit(progress: from_communal.Progress) -> None:
        if progress.kind == "page":
            events.emit(
                "membership_page",
                page=progress.page,
                pages=progress.pages_to_read,
                members_to_read=progress.users_to_read,
            )
        elif progress.failure is not None:
            error = progress.failure.error
            events.emit(
                "member_failed",
                user_id=progress.failure.user_id,
                http_status=error.status,
                reason=redact_value(str(error), redact),
            )

    if not sys.stderr.isatty() or events.json_mode():
        yield emit
        return
    columns = (
        TextColumn("Reading members"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[pages]} · {task.fields[failed]} failed"),
    )
    with Progress(*columns, console=stderr_console(), transient=True) as bar:
        task = bar.add_task("link", total=None, pages="pages", failed=0)

        def advance(progress: from_communal.Progress) -> None:
            pages = f"{progress.pages_read} pages"
            if progress.pages_to_read is not None:
                pages = f"{progress.pages_read} of {progress.pages_to_read} pages"
            bar.update(
                task,
                completed=progress.users_read + progress.failed,
                total=progress.users_to_read or None,
                pages=pages,
                failed=progress.failed,
            )

        yield advance
