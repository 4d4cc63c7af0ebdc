"""Build the plan: match every valid row, learn the current record, diff, check the limits.

The only module that puts the pieces together; each piece (``match``, ``current``,
``diff``, ``limits``) is a pure function tested alone. API calls happen here and only
for rows that can change: a row whose hash equals the one recorded at the last successful
push of its user costs nothing (unless ``full_refresh``).

A read user is checked against the row before anything is diffed: one that shares no
name or email with it (``match.identity_mismatch``) is someone else, and the row is
reported as ``mismatched`` instead of planned, unless ``trust_ids``. A row skipped by its
hash is not read, so not checked: it sends nothing and records nothing new.

Email changes are ordered last (``email_order``): a user taking another's address waits
for them, and a cycle of them (a swap) is reported, or broken with ``--break-email-cycles``.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

from communal_sync import __version__
from communal_sync.api.models import CustomProfileFieldValue, ProgramSignup, Transaction, User
from communal_sync.display import MESSAGE_CHARS, cut
from communal_sync.errors import (
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    UnexpectedResponse,
)
from communal_sync.fields import PROFILE_FIELDS
from communal_sync.hashing import canonical_hash
from communal_sync.identity.discovery import discover_accounts
from communal_sync.identity.match import (
    UNMATCHED_HINT,
    Discover,
    IdentityLookup,
    match_row,
    unmatched_hint,
)
from communal_sync.intake.pipeline import Intake
from communal_sync.intake.validate import ProfileRow, RowResult
from communal_sync.plan import (
    InputInfo,
    MatchMethod,
    Plan,
    PlanOptions,
    RowIssue,
    Unchanged,
    UserPlan,
)
from communal_sync.planning.custom_fields import (
    NO_CUSTOM_FIELDS,
    CustomFieldMode,
    CustomFields,
    DefinitionReader,
    custom_source,
    locked_source,
    prepare_custom_fields,
    resolve_allow_clear,
)
from communal_sync.planning.diff import clear_allowed
from communal_sync.planning.email_order import order_email_changes
from communal_sync.planning.limits import check_limits
from communal_sync.planning.user_plan import Candidate, Judging, plan_user
from communal_sync.state.records import Snapshot

UNREACHABLE_STREAK_LIMIT = 8
"""Rows in a row whose reads failed after retries: then the API is down, and planning stops."""

SNAPSHOT_BATCH = 256
"""Matched rows whose snapshots are read in one query: one SQLite call per batch, not per
row, so the thread that plans does not wait to win the GIL back from busy GET workers
after every read; small enough that the batch's snapshots cost little memory."""

GET_LOOKAHEAD = 2
"""GETs queued per worker ahead of the row being planned: keeps every worker busy while
bounding memory, and what is still sent after a fatal error (a revoked key, an unsupported
version) to about twice ``concurrency``."""


@dataclass(frozen=True)
class PlanProgress:
    """How far a plan has got, for a progress display (``build_plan``'s ``progress``)."""

    planned: int
    """Rows planned so far: read and diffed, skipped by their hash, or reported."""
    rows: int | None
    """Rows in the file, once validation's first pass has counted them."""
    read: int
    """Users read from Communal so far."""


OnPlanProgress = Callable[[PlanProgress], None]


class _Tracker:
    """Counts planned rows and tells ``progress`` after each, in the planning thread."""

    def __init__(self, progress: OnPlanProgress | None) -> None:
        self._progress = progress
        self.rows: int | None = None
        self.planned = 0
        self.read = 0

    def counted(self, rows: int) -> None:
        self.rows = rows
        self._tell()

    def planned_one(self, *, read: bool) -> None:
        self.planned += 1
        self.read += read
        self._tell()

    def _tell(self) -> None:
        if self._progress is not None:
            self._progress(PlanProgress(planned=self.planned, rows=self.rows, read=self.read))


class SnapshotReader(Protocol):
    """The snapshots planning reads: each user as our last push left them.

    A reader that also has ``get_many(user_ids) -> {user_id: Snapshot}`` (the state
    store's does) is asked once per ``SNAPSHOT_BATCH`` rows; see ``snapshots_of``.
    """

    def get(self, user_id: int) -> Snapshot | None: ...


def snapshots_of(reader: SnapshotReader, user_ids: Sequence[int]) -> Mapping[int, Snapshot]:
    """The snapshots of ``user_ids`` that exist, in one query when the reader can batch."""
    get_many: Callable[[Sequence[int]], Mapping[int, Snapshot]] | None = getattr(
        reader, "get_many", None
    )
    if get_many is not None:
        return get_many(user_ids)
    found = ((user_id, reader.get(user_id)) for user_id in user_ids)
    return {user_id: snapshot for user_id, snapshot in found if snapshot is not None}


class PlanState(Protocol):
    """The parts of the state store planning reads (``StateStore`` is one)."""

    @property
    def identity(self) -> IdentityLookup: ...

    @property
    def snapshots(self) -> SnapshotReader: ...


class UserReader(Protocol):
    """The part of the API client planning uses."""

    def get_user(self, user_id: int) -> User: ...

    def list_custom_profile_field_values(self, user_id: int) -> list[CustomProfileFieldValue]: ...

    def search_program_signups(
        self, query: str, *, user_id: int | None = None, signup_status: str | None = None
    ) -> list[ProgramSignup]: ...

    def search_transactions(self, query: str) -> list[Transaction]: ...


@dataclass(frozen=True)
class _Context:
    """What every row of one plan is planned with."""

    state: PlanState
    client: UserReader
    options: PlanOptions
    mapped: set[str]
    discover: Discover | None
    judging: Judging
    hint: str = UNMATCHED_HINT
    """What the message of a row no one matched ends with (``match.unmatched_hint``)."""

    @property
    def custom(self) -> CustomFields:
        return self.judging.custom

    @property
    def allow_clear(self) -> set[str]:
        return self.judging.allow_clear


@dataclass
class _Collector:
    users: list[UserPlan] = field(default_factory=list)
    unchanged: list[Unchanged] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    rows: int = 0
    valid: int = 0
    lines_by_user: dict[int, list[int]] = field(default_factory=dict)
    unreachable_streak: int = 0


class ExportReader(UserReader, DefinitionReader, Protocol):
    """The part of the API client a whole plan uses: users, signups, field definitions."""


CUSTOM_FIELD_MODES: Final[Mapping[bool | None, CustomFieldMode]] = {
    None: "mapped",
    True: "headers",
    False: "off",
}
"""--custom-fields / neither / --no-custom-fields (or the config's custom_fields)."""


def plan_export(
    intake: Intake,
    *,
    state: PlanState,
    client: ExportReader,
    options: PlanOptions,
    base_url: str,
    input_sha256: str | None,
    concurrency: int = 4,
    warn: Callable[[str], None] = lambda message: None,
    roster_members: int = 0,
    progress: OnPlanProgress | None = None,
) -> Plan:
    """Plan an export end to end: settle its custom fields, then ``build_plan``.

    The plan's options record what decided it: the custom-field mode, the ``--allow-clear``
    names as the definitions spell them, and the phone region (so apply and revert
    compare telephones the way planning did). ``warn`` hears the intake's and the custom
    fields' warnings as they are known.
    """
    for message in intake.warnings:
        warn(message)
    mode = CUSTOM_FIELD_MODES[intake.settings.custom_fields]
    intake.mapping, custom = prepare_custom_fields(intake.mapping, client, mode)
    allow_clear = resolve_allow_clear(options.allow_clear, custom, client, mode)
    for message in custom.warnings():
        warn(message)
    decided = options.model_copy(
        update={
            "custom_fields": mode,
            "allow_clear": allow_clear,
            "default_region": intake.options.default_region,
        }
    )
    return build_plan(
        intake,
        state=state,
        client=client,
        options=decided,
        base_url=base_url,
        input_sha256=input_sha256,
        concurrency=concurrency,
        custom=custom,
        roster_members=roster_members,
        progress=progress,
    )


def build_plan(
    intake: Intake,
    *,
    state: PlanState,
    client: UserReader,
    options: PlanOptions,
    base_url: str,
    input_sha256: str | None,
    concurrency: int = 4,
    custom: CustomFields = NO_CUSTOM_FIELDS,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    roster_members: int = 0,
    progress: OnPlanProgress | None = None,
) -> Plan:
    """Plan what pushing ``intake`` would change; read-only for Communal and the state.

    ``custom`` are the resolved custom profile fields (``custom_fields.prepare``); with
    none, no custom-field request is made. ``roster_members`` is how many members
    ``link --from-communal`` read: a row no one matched is told what is left to try.
    ``progress`` hears, in this thread, the file's row count and then each planned row
    (the CLI draws "Reading 312/400 users…" from it); its last call has the real counts.
    """
    ctx = _Context(
        state=state,
        client=client,
        options=options,
        mapped={f for f in intake.mapping.columns.values() if f in PROFILE_FIELDS},
        discover=functools.partial(discover_accounts, client) if options.discover else None,
        judging=Judging(
            options=options,
            allow_clear=set(options.allow_clear),
            region=intake.options.default_region,
            custom=custom,
        ),
        hint=unmatched_hint(members=roster_members, discover=options.discover),
    )
    out = _Collector()
    tracker = _Tracker(progress)

    def candidates() -> Iterator[Candidate]:
        batch: list[_Matched] = []
        for result in intake.results(on_row_count=tracker.counted):
            out.rows += 1
            matched = _triage(result, out, ctx)
            if matched is not None:
                batch.append(matched)
                if len(batch) >= SNAPSHOT_BATCH:
                    yield from _unless_unchanged(batch, out, ctx, skipped=tracker.planned_one)
                    batch = []
            else:
                tracker.planned_one(read=False)
        yield from _unless_unchanged(batch, out, ctx, skipped=tracker.planned_one)

    def plan_next(candidate: Candidate) -> None:
        _plan_candidate(candidate, out, ctx)
        tracker.planned_one(read=True)

    workers = max(1, concurrency)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[Candidate]] = deque()
        try:
            for candidate in candidates():
                pending.append(pool.submit(_fetch, candidate, ctx))
                if len(pending) >= GET_LOOKAHEAD * workers:
                    plan_next(pending.popleft().result())
            while pending:
                plan_next(pending.popleft().result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    users, unchanged = _drop_shared_users(out)
    users, cycles = order_email_changes(users, break_cycles=options.break_email_cycles)
    out.issues += cycles
    plan = Plan(
        tool_version=__version__,
        created_at=now().isoformat(timespec="seconds"),
        base_url=base_url,
        input=InputInfo(
            name=intake.source.name,
            sha256=input_sha256,
            format=intake.source.format,
            rows=out.rows,
            path=None
            if input_sha256 is None or not intake.source.rereadable
            else str(Path(intake.source.name).resolve()),
        ),
        options=options,
        users=tuple(users),
        unchanged=tuple(unchanged),
        issues=tuple(sorted(out.issues, key=lambda i: i.line)),
        unmapped_columns=tuple(intake.mapping.unmapped),
        warnings=tuple(intake.warnings) + custom.warnings(),
    )
    refusal = check_limits(plan, valid_rows=out.valid)
    return plan.model_copy(update={"refused": refusal}) if refusal else plan


def asserted_values(row: ProfileRow, mapped: Iterable[str]) -> dict[str, str | None]:
    """The standard fields this row speaks for: those with a column in the file."""
    values = row.model_dump(include=set(mapped))
    return {name: values.get(name) for name in PROFILE_FIELDS if name in values}


def source_hash(
    values: Mapping[str, str | None], clears: Sequence[str], options: PlanOptions | None = None
) -> str:
    """The fingerprint of what a row asks for, including which blanks would clear and
    every option that decides what its plan is (``decisive_options``): the same row
    under ``--on-conflict source`` after a run under ``communal`` is not "unchanged"."""
    decisive = decisive_options(options) if options is not None else {}
    return canonical_hash({"values": dict(values), "clears": sorted(clears), **decisive})


def decisive_options(options: PlanOptions) -> dict[str, object]:
    """The options that change a row's plan given the same values, as the fingerprint
    holds them. Defaults are left out, so a hash remembered before an option existed (or
    under its default) still matches the same row under the default."""
    chosen: dict[str, object] = {
        "on_conflict": options.on_conflict,
        "custom_fields": options.custom_fields,
        "trust_ids": options.trust_ids,
        "default_region": options.default_region,
        "phone_format": options.phone_format,
    }
    defaults = PlanOptions()
    return {k: v for k, v in chosen.items() if v != getattr(defaults, k)}


@dataclass(frozen=True)
class _Matched:
    """A valid row matched to a user, with what it asserts, before its snapshot is read."""

    row: ProfileRow
    user_id: int
    method: MatchMethod
    values: dict[str, str | None]
    digest: str


def _triage(result: RowResult, out: _Collector, ctx: _Context) -> _Matched | None:
    if result.status != "valid" or result.row is None:
        kind = "duplicate" if result.status == "duplicate" else "invalid"
        for error in result.errors:
            out.issues.append(
                RowIssue(
                    line=error.line,
                    kind=kind,
                    field=cut(error.field),
                    # Never sent: the plan (and so the journal) keeps it cut, like a report.
                    value=cut(error.value),
                    message=cut(error.message, MESSAGE_CHARS),
                )
            )
        return None
    out.valid += 1
    row = result.row
    match = match_row(row, ctx.state.identity, discover=ctx.discover, hint=ctx.hint)
    if match.user_id is None or match.method is None:
        out.issues.append(
            RowIssue(
                line=row.line,
                kind=match.problem or "unmatched",
                field="email",
                value=row.email,
                message=match.message or "No match.",
            )
        )
        return None
    out.lines_by_user.setdefault(match.user_id, []).append(row.line)
    values = asserted_values(row, ctx.mapped)
    values.update(custom_source(row.custom, ctx.custom))
    clears = [f for f, v in values.items() if v is None and clear_allowed(f, ctx.allow_clear)]
    locked = locked_source(row.custom, ctx.custom)
    digest = source_hash({**values, **locked}, clears, ctx.options)
    return _Matched(row, match.user_id, match.method, values, digest)


def _unless_unchanged(
    batch: Sequence[_Matched],
    out: _Collector,
    ctx: _Context,
    *,
    skipped: Callable[..., None] | None = None,
) -> Iterator[Candidate]:
    """The batch's rows to read, with their snapshots (one query for the batch); a row
    whose hash equals the one its user's last push recorded is unchanged, and not read
    (``skipped(read=False)`` is told of each, for progress)."""
    if not batch:
        return
    snapshots = snapshots_of(ctx.state.snapshots, [m.user_id for m in batch])
    for m in batch:
        snapshot = snapshots.get(m.user_id)
        if (
            not ctx.options.full_refresh
            and snapshot is not None
            and snapshot.source_hash == m.digest
        ):
            out.unchanged.append(
                Unchanged(user_id=m.user_id, line=m.row.line, verified=False, source_hash=m.digest)
            )
            if skipped is not None:
                skipped(read=False)
            continue
        yield Candidate(m.row, m.user_id, m.method, m.values, m.digest, snapshot)


def _fetch(candidate: Candidate, ctx: _Context) -> Candidate:
    """Read the user (and custom values); a row whose reads keep failing is reported alone.

    Retries are spent inside the client; errors that no later request could escape (a
    401, an unsupported version) propagate and stop the plan.
    """
    try:
        candidate.live = ctx.client.get_user(candidate.user_id)
        if ctx.custom.reads_values:
            candidate.custom_values = ctx.client.list_custom_profile_field_values(candidate.user_id)
    except NotFound:
        candidate.missing = True
    except (ServerError, TransportError, RateLimited, UnexpectedResponse) as error:
        candidate.unreachable = error
    return candidate


def _plan_candidate(candidate: Candidate, out: _Collector, ctx: _Context) -> None:
    row = candidate.row
    if candidate.unreachable is None:
        out.unreachable_streak = 0
    else:
        out.unreachable_streak += 1
        if out.unreachable_streak >= UNREACHABLE_STREAK_LIMIT:
            raise candidate.unreachable  # the API is down, not this one user
        out.issues.append(
            RowIssue(
                line=row.line,
                kind="unreachable",
                field="id",
                value=str(candidate.user_id),
                message=f"Could not read user {candidate.user_id} from Communal: "
                f"{candidate.unreachable} The row was not planned; run again.",
            )
        )
        return
    if candidate.missing:
        out.issues.append(
            RowIssue(
                line=row.line,
                kind="unmatched",
                field="id",
                value=str(candidate.user_id),
                message=f"Communal has no user {candidate.user_id} (matched by "
                f"{candidate.method}). Check the id, or re-link this person.",
            )
        )
        return
    planned = plan_user(candidate, ctx.judging)
    if isinstance(planned, RowIssue):
        out.issues.append(planned)
        out.lines_by_user[candidate.user_id].remove(row.line)  # a mismatch claims no one
    elif isinstance(planned, Unchanged):
        out.unchanged.append(planned)
    else:
        out.users.append(planned)


def _drop_shared_users(out: _Collector) -> tuple[list[UserPlan], list[Unchanged]]:
    """Rows that resolve to one user (say, by id and by email) are all reported, none sent."""
    shared = {uid: lines for uid, lines in out.lines_by_user.items() if len(lines) > 1}
    if not shared:
        return out.users, out.unchanged
    for uid, lines in shared.items():
        for line in lines:
            others = ", ".join(str(n) for n in lines if n != line)
            out.issues.append(
                RowIssue(
                    line=line,
                    kind="ambiguous",
                    field=None,
                    value=None,
                    message=f"Matches the same Communal user {uid} as line(s) {others}; "
                    "none of these rows is pushed. Keep one row per person.",
                )
            )
    return (
        [u for u in out.users if u.user_id not in shared],
        [u for u in out.unchanged if u.user_id not in shared],
    )
