"""The run lifecycle: from a plan to a finished, journalled run and its exit code.

``run_plan`` is what ``push``, ``apply PLAN``, ``revert RUN`` and ``bench/push.py`` all
call. It binds the state file to the API, asks for confirmation (through a callback),
starts (or continues) the journalled run, applies the plan, remembers the rows that were
verified unchanged, picks the exit code, finishes the run and emits ``run_finished``.
The CLI only supplies the callbacks (a prompt, a progress bar, JSON events) and renders
what comes back; nothing here prints.

    outcome = run_plan(plan, client=client, store=store, base_url=url,
                       request=RunRequest(kind="push", confirmed=True))
    sys.exit(outcome.exit_code)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from communal_sync.applying.apply import (
    ApplyResult,
    apply_plan,
    operation_key,
    remember_unchanged,
)
from communal_sync.applying.counts import Tally, run_counts, tally_outcomes
from communal_sync.applying.custom_writes import custom_body, custom_operation_key
from communal_sync.applying.ports import RunState, UserWriter
from communal_sync.errors import ExitCode
from communal_sync.hashing import canonical_hash
from communal_sync.plan import Outcome, Plan, UserPlan
from communal_sync.state.records import EndStatus, RunKind, kept_plan

OnOutcome = Callable[[Outcome], None]
Progress = Callable[[int, int], AbstractContextManager[OnOutcome]]
"""``progress(total, run_id)`` -> a context yielding the callback apply calls per user."""


@contextlib.contextmanager
def no_progress(total: int, run_id: int) -> Iterator[OnOutcome]:
    """Progress that shows nothing (cron, tests, the benchmark)."""
    yield lambda outcome: None


def no_event(name: str, **fields: Any) -> None:
    """Events that go nowhere."""


@dataclass(frozen=True)
class RunHooks:
    """How a run talks to whoever started it; every hook has a silent default.

    ``confirm(plan)`` is called only when the request is not already confirmed and the
    plan would send something; False means the person said no and nothing is sent.
    """

    confirm: Callable[[Plan], bool] = lambda plan: True
    progress: Progress = no_progress
    event: Callable[..., None] = no_event


@dataclass(frozen=True)
class RunRequest:
    """What kind of run this is, and how carefully to send."""

    kind: RunKind = "push"
    confirmed: bool = False
    """--yes: send without asking. Unconfirmed runs ask through ``RunHooks.confirm``."""
    run_id: int | None = None
    """Continue this (interrupted) run under its own id instead of starting a new one."""
    run_key: str | None = None
    """What later recognizes this run to resume it: the input's sha256, a plan's hash."""
    verify: bool = False
    """Re-read each user before writing, and skip anyone changed since planning."""
    concurrency: int = 4


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended: its exit code, and what it did if it got as far as sending."""

    exit_code: int
    run_id: int | None = None
    status: EndStatus | None = None
    """None when no run was started (refused by a limit, or the person said no)."""
    result: ApplyResult = field(default_factory=ApplyResult)
    tally: Tally | None = None
    declined: bool = False

    @property
    def started(self) -> bool:
        """Whether a journalled run exists for this outcome (so ``runs show`` has it)."""
        return self.run_id is not None


def run_plan(
    plan: Plan,
    *,
    client: UserWriter,
    store: RunState,
    base_url: str,
    request: RunRequest,
    hooks: RunHooks = RunHooks(),
) -> RunOutcome:
    """Apply ``plan`` under a journalled run; return how it ended.

    A plan refused by a safety limit starts no run and exits 4; a person who declines
    starts none either and exits 0. An unconfirmed run that was confirmed re-reads every
    user before writing: the plan sat on screen for as long as the person took to answer,
    and anyone changed in Communal meanwhile is left alone, not overwritten.
    """
    store.binding.check(base_url, bind=True)
    if plan.refused:
        _not_started(plan, hooks, status="refused", exit_code=ExitCode.REFUSED)
        return RunOutcome(exit_code=ExitCode.REFUSED)
    verify = request.verify
    if plan.to_update and not request.confirmed:
        if not hooks.confirm(plan):
            _not_started(plan, hooks, status="declined", exit_code=ExitCode.OK)
            return RunOutcome(exit_code=ExitCode.OK, declined=True)
        verify = True
    run_id = request.run_id
    if run_id is None:
        run_id = store.journal.start_run(
            request.kind,
            input_name=plan.input.name,
            input_sha256=request.run_key,
            plan_json=plan.model_dump_json(),
        )
    with hooks.progress(len(plan.to_update), run_id) as on_outcome:
        result = apply_plan(
            plan,
            client=client,
            store=store,
            run_id=run_id,
            concurrency=request.concurrency,
            verify=verify,
            on_outcome=on_outcome,
            region=plan.options.default_region,
        )
    if result.fatal is None and not result.interrupted:
        remember_unchanged(plan, store, run_id)
    code = run_exit_code(plan, result)
    status: EndStatus = "finished"
    if result.fatal is not None:
        status = "failed"
    elif result.interrupted:
        status = "interrupted"
    tally = tally_outcomes(plan, result.outcomes)
    counts = run_counts(plan, tally)
    kept = kept_plan({"options": plan.options.model_dump(mode="json")})
    store.journal.finish_run(
        run_id,
        status=status,
        exit_code=code,
        counts=counts,
        kept_plan=kept if status == "finished" else None,  # only an unfinished run resumes
    )
    hooks.event("run_finished", run=run_id, status=status, exit_code=code, **counts)
    return RunOutcome(exit_code=code, run_id=run_id, status=status, result=result, tally=tally)


def _not_started(plan: Plan, hooks: RunHooks, *, status: str, exit_code: int) -> None:
    """The ``run_finished`` event of a run that sent nothing: refused by a limit (with the
    reason) or declined at the question. A log shipper waiting for the event of every run
    gets it on exactly the night a limit trips; no run is journalled (``run`` is null)."""
    counts = run_counts(plan, tally_outcomes(plan, []))
    hooks.event(
        "run_finished",
        run=None,
        status=status,
        exit_code=int(exit_code),
        reason=plan.refused,
        **counts,
    )


def run_exit_code(plan: Plan, result: ApplyResult) -> int:
    """1 fatal, 130 interrupted, 3 any row failed or was invalid/unmatched, else 0."""
    if result.fatal is not None:
        return ExitCode.FATAL
    if result.interrupted:
        return ExitCode.INTERRUPTED
    if result.failed or plan.has_row_problems:
        return ExitCode.ROW_FAILURES
    return ExitCode.OK


def resumable_run(store: RunState, run_key: str | None, *, kind: RunKind) -> int | None:
    """The interrupted run of this input (or saved plan) to continue, reopened; or None."""
    run = store.journal.latest_unfinished_run(run_key, kind=kind)
    if run is None:
        return None
    store.journal.reopen_run(run.id)
    return run.id


def resumable_push(store: RunState, run_key: str | None) -> tuple[int, Plan, str] | None:
    """The interrupted push of this same input, reopened, with its stored plan and start
    time (``%Y-%m-%d %H:%M``); None when there is none to resume."""
    run = store.journal.latest_unfinished_run(run_key, kind="push")
    plan_json = store.journal.load_plan(run.id) if run is not None else None
    if run is None or plan_json is None:
        return None
    store.journal.reopen_run(run.id)
    return run.id, Plan.model_validate_json(plan_json), f"{run.started_at:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class LeftToSend:
    """What a resumed run still has to do: the plan cut to the users not yet done.

    ``plan`` keeps every row the original plan reported (unchanged, invalid, unmatched)
    and only the users with an operation not journalled as applied; the run itself still
    applies the whole stored plan (the done users count as "already applied").
    """

    plan: Plan
    done: int
    """Users of the original plan whose every operation was journalled as applied."""
    total: int
    """Users the original plan meant to send."""

    @property
    def left(self) -> int:
        return self.total - self.done


def left_to_send(plan: Plan, store: RunState, run_id: int) -> LeftToSend:
    """Cut ``plan`` to what run ``run_id`` has not done yet, as its journal holds it.

    A user is done when its profile PUT and every custom write, with the very bodies of
    this plan, were journalled as applied; one whose PUT was sent but never answered is
    left (the run checks whether it landed). Users with nothing to send stay, so their
    conflicts are still said.
    """
    applied = store.journal.applied_operations(run_id)

    def done(user: UserPlan) -> bool:
        if user.body is not None and (
            (operation_key(user.user_id), canonical_hash(user.body)) not in applied
        ):
            return False
        return all(
            (
                custom_operation_key(user.user_id, write.field_id),
                canonical_hash(custom_body(user.user_id, write)),
            )
            in applied
            for write in user.custom_writes
        )

    sending = {user.user_id for user in plan.to_update}
    finished = {user.user_id for user in plan.users if user.user_id in sending and done(user)}
    left = plan.model_copy(
        update={"users": tuple(u for u in plan.users if u.user_id not in finished)}
    )
    return LeftToSend(plan=left, done=len(finished), total=len(sending))
