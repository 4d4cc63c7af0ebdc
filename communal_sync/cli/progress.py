"""A progress bar while a plan is applied, on a terminal only (nothing animated in cron)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from communal_sync.cli.app import stderr_console
from communal_sync.plan import Outcome


@contextlib.contextmanager
def progress_reporter(total: int) -> Iterator[Callable[[Outcome], None]]:
    """Yield the callback apply calls after each user; it advances a bar on a terminal."""
    if total == 0 or not sys.stderr.isatty():
        yield lambda outcome: None
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
            failed += outcome.status in ("failed", "conflict")
            progress.update(task, advance=1, failed=failed)

        yield advance
