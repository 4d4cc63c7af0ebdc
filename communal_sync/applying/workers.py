"""The run's workers: at most ``concurrency`` PUTs in flight, each when its address is free.

``run_scheduled`` takes steps from an ``email_steps.Schedule`` (so a PUT taking another
user's address waits until that user has moved), hands each finished step back to it,
and reports every user's outcome, including those it holds, once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from queue import SimpleQueue

from communal_sync.applying.email_steps import LANDED, Schedule, Step
from communal_sync.plan import Outcome


@dataclass(frozen=True)
class Report:
    """Where finished steps go: the result, the caller's callback, the journal (held ones)."""

    outcomes: list[Outcome]
    on_outcome: Callable[[Outcome], None]
    journal_held: Callable[[Outcome], None]

    def outcome(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.on_outcome(outcome)

    def held(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            self.journal_held(outcome)
            self.outcome(outcome)


def run_scheduled(
    pool: ThreadPoolExecutor,
    work: Callable[[Step], Outcome | None],
    schedule: Schedule,
    concurrency: int,
    stop: threading.Event,
    report: Report,
) -> None:
    """Keep at most ``concurrency`` steps in flight, each sent only once the address it
    takes is free (``email_steps.Schedule``); on Ctrl-C stop taking new ones and let those
    in flight finish (and be journalled) before returning."""
    pending: dict[Future[Outcome | None], Step] = {}
    done: SimpleQueue[Future[Outcome | None]] = SimpleQueue()
    try:
        while True:
            while not stop.is_set() and len(pending) < concurrency:
                step = schedule.take()
                if step is None:
                    break
                future = pool.submit(work, step)
                pending[future] = step
                future.add_done_callback(done.put)
            if not pending:
                if stop.is_set() or not schedule.waiting:
                    return
                report.held(schedule.stalled())
                continue
            _collect(_finished(done), pending, schedule, report)
    except KeyboardInterrupt:
        stop.set()
        finished, _ = wait(pending)
        _collect(finished, pending, schedule, report)


def _finished(done: SimpleQueue[Future[Outcome | None]]) -> list[Future[Outcome | None]]:
    """The steps that finished: at least one (waited for), and any others already done.

    Each future reports itself once, when done, so the wait costs the same however many
    are in flight (``concurrent.futures.wait`` would watch every one of them each time).
    """
    finished = [done.get()]
    while not done.empty():
        finished.append(done.get())
    return finished


def _collect(
    finished: Iterable[Future[Outcome | None]],
    pending: dict[Future[Outcome | None], Step],
    schedule: Schedule,
    report: Report,
) -> None:
    for future in finished:
        step = pending.pop(future)
        outcome = future.result()
        if outcome is None:
            continue
        if step.kind != "temporary" or outcome.status not in LANDED:
            report.outcome(outcome)  # a landed first step is not the user's outcome yet
        report.held(schedule.finished(step, outcome))
