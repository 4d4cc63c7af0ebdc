"""Progress wherever there is waiting: reading users while planning, updating them, reading
members. How it is shown depends on where stderr goes (``progress_mode``):

- a terminal: a live bar, redrawn in place;
- a terminal that cannot redraw (``TERM=dumb``): a plain line every few seconds
  ("Reading users: 100/400") and, if one was printed, a last one with the real count;
- not a terminal (cron) or ``--log-format json``: nothing drawn. In JSON mode each user
  that failed or conflicted gets one ``outcome`` event saying who and why, the moment it
  is known.

The core only calls back (``planner.OnPlanProgress``, ``RunHooks.progress``); every
drawing decision is here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from time import monotonic
from typing import TYPE_CHECKING, Any, Final, Literal

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from communal_sync.cli import events
from communal_sync.cli.app import stderr_console
from communal_sync.plan import Outcome
from communal_sync.reports.redaction import redact_value

if TYPE_CHECKING:
    from communal_sync.identity import from_communal
    from communal_sync.planning.planner import PlanProgress

ProgressMode = Literal["off", "lines", "live"]
READING_THE_FILE: Final = "Reading the file…"
"""What the reading bar says before validation's first pass has counted the rows."""
PLAIN_EVERY_SECONDS: Final = 5.0
"""How often a terminal that cannot redraw gets a plain progress line, at most."""


def progress_mode() -> ProgressMode:
    """``live`` on a terminal, ``lines`` on one that cannot redraw (``TERM=dumb``), ``off``
    when stderr is not a terminal (cron) or carries JSON events."""
    if events.json_mode() or not sys.stderr.isatty():
        return "off"
    if stderr_console().is_dumb_terminal:
        return "lines"
    return "live"


class PlainLines:
    """Occasional progress lines for a terminal that cannot redraw them in place.

    ``tick`` prints its line when ``every`` seconds have passed since the start or the
    last line; ``finish`` prints the final line, only if an earlier one was printed (a
    wait too short for a line needs no closing one either) and said something else.
    """

    def __init__(self, *, every: float = PLAIN_EVERY_SECONDS) -> None:
        self._every = every
        self._last = monotonic()
        self._said: str | None = None

    def tick(self, line: Callable[[], str]) -> None:
        now = monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._said = line()
            _say(self._said)

    def finish(self, line: str) -> None:
        if self._said is not None and line != self._said:
            _say(line)


def _say(line: str) -> None:
    stderr_console().print(escape(line))


def reading_text(progress: PlanProgress) -> str:
    """The live bar's words while planning reads: "Reading 312/400 users…"."""
    if progress.rows is None:
        return READING_THE_FILE
    return f"Reading {progress.planned}/{progress.rows} users…"


def reading_line(progress: PlanProgress) -> str:
    """A plain progress line while planning reads: "Reading users: 100/400"."""
    return (
        f"Reading users: {progress.planned}/{progress.rows if progress.rows is not None else '?'}"
    )


@contextlib.contextmanager
def planning_progress(*, quiet: bool = False) -> Iterator[Callable[[PlanProgress], None]]:
    """Yield the callback planning calls after each row (``planner.OnPlanProgress``).

    On a terminal a spinner and bar, "Reading 312/400 users…", gone when the plan is
    shown (the plan's summary has the counts); plain lines on a dumb terminal; nothing
    otherwise, and nothing with ``--quiet``.
    """
    mode = "off" if quiet else progress_mode()
    if mode == "off":
        yield _ignore
        return
    if mode == "lines":
        lines = PlainLines()
        latest: list[PlanProgress] = []

        def tell(progress: PlanProgress) -> None:
            latest[:] = [progress]
            lines.tick(lambda: reading_line(progress))

        yield tell
        if latest:
            lines.finish(reading_line(latest[0]))
        return
    with contextlib.ExitStack() as stack:
        # Started at the first call, once the file is counted: the warnings planning says
        # before it (an unmapped column, a custom field) are printed above the bar, not
        # into it.
        drawn: list[tuple[Progress, TaskID]] = []

        def update(progress: PlanProgress) -> None:
            if not drawn:
                bar = stack.enter_context(
                    Progress(
                        SpinnerColumn(),
                        TextColumn("{task.description}"),
                        BarColumn(),
                        TimeElapsedColumn(),
                        console=stderr_console(),
                        transient=True,
                    )
                )
                drawn.append((bar, bar.add_task(READING_THE_FILE, total=None)))
            bar, task = drawn[0]
            bar.update(
                task,
                description=reading_text(progress),
                completed=progress.planned,
                total=progress.rows,
            )

        yield update


def _ignore(*args: Any) -> None:
    """Progress that shows nothing."""


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

    It emits the user's ``outcome`` event if it failed or conflicted, and shows progress
    as ``progress_mode`` says. The bar stays on screen when the run ends, set to the real
    count of users that got an outcome: whatever it shows last agrees with the run's
    summary line, Ctrl-C or not (the users in flight finish and are counted).
    """
    seen = failed = 0

    def report(outcome: Outcome) -> None:
        nonlocal seen, failed
        seen += 1
        failed += outcome.status in PROBLEM_STATUSES
        emit_outcome(outcome, run_id=run_id, redact=redact)

    mode = "off" if total == 0 else progress_mode()
    if mode == "off":
        yield report
        return
    if mode == "lines":
        lines = PlainLines()

        def tick(outcome: Outcome) -> None:
            report(outcome)
            lines.tick(lambda: updating_line(seen, total, failed))

        yield tick
        lines.finish(updating_line(seen, total, failed))
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr_console(), transient=False) as progress:
        task = progress.add_task("Updating users", total=total, failed=0)

        def advance(outcome: Outcome) -> None:
            report(outcome)
            progress.update(task, completed=seen, failed=failed)

        try:
            yield advance
        finally:
            progress.update(task, description="Updated users", completed=seen, failed=failed)
            progress.refresh()


def updating_line(done: int, total: int, failed: int) -> str:
    """A plain progress line while a plan is applied: "Updating users: 100/400, 2 failed"."""
    return f"Updating users: {done}/{total}, {failed} failed"


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

    mode = progress_mode()
    if mode == "off":
        yield emit
        return
    if mode == "lines":
        lines = PlainLines()
        latest: list[from_communal.Progress] = []

        def tick(progress: from_communal.Progress) -> None:
            emit(progress)
            latest[:] = [progress]
            lines.tick(lambda: members_line(progress))

        yield tick
        if latest:
            lines.finish(members_line(latest[0]))
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


def members_line(progress: from_communal.Progress) -> str:
    """A plain progress line while members are read: "Reading members: 300 read, 3 pages"."""
    pages = f"{progress.pages_read} pages"
    if progress.pages_to_read is not None:
        pages = f"{progress.pages_read} of {progress.pages_to_read} pages"
    return f"Reading members: {progress.users_read + progress.failed} read, {pages}"
