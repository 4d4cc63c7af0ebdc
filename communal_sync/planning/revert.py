"""Build a plan that undoes a run: restore each field's value from before that run.

It is an ordinary plan, shown, dry-runnable and applied like any other. The same
three-way diff keeps it safe: the *source* is the before-image, the *base* is what the
run wrote, the *current* value is read live. A field someone changed again since the run
is a conflict and is left alone; a field whose earlier value was never known cannot be
restored and is reported. A field whose earlier value came from our snapshot (an address:
GET does not show it) is *unverified*: Communal may have held something else when the run
overwrote it, so it is left alone and reported unless ``restore_unverified``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from communal_sync import __version__
from communal_sync.api.models import User
from communal_sync.errors import NotFound, UsageError
from communal_sync.fields import PROFILE_FIELDS, custom_name
from communal_sync.plan import (
    CurrentValue,
    CustomWrite,
    InputInfo,
    Plan,
    PlanOptions,
    RowIssue,
    UserPlan,
)
from communal_sync.planning.current import current_record
from communal_sync.planning.diff import FieldDiff, build_put_body, diff_fields
from communal_sync.planning.planner import SnapshotReader, UserReader
from communal_sync.state.records import ResultRecord, RunRecord, Snapshot


class RunHistory(Protocol):
    """The journal as revert reads it: a run, and what it applied."""

    def get_run(self, run_id: int) -> RunRecord: ...

    def results(self, run_id: int) -> list[ResultRecord]: ...

    def load_plan(self, run_id: int) -> str | None: ...


class RevertState(Protocol):
    """The parts of the state store revert reads (``StateStore`` is one)."""

    @property
    def journal(self) -> RunHistory: ...

    @property
    def snapshots(self) -> SnapshotReader: ...


def build_revert_plan(
    run_id: int,
    *,
    store: RevertState,
    client: UserReader,
    base_url: str,
    restore_unverified: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Plan:
    """The plan that restores what run ``run_id`` changed, where that is still safe.

    Telephones are compared in the phone region the reverted run was planned with (its
    stored plan's ``default_region``), and the revert plan records it for apply. Fields
    whose before-image is unverified are left alone, with a warning per user, unless
    ``restore_unverified`` (then the last value we knew is put back).
    """
    store.journal.get_run(run_id)  # a UsageError naming `runs` when there is no such run
    region = _planned_region(store.journal, run_id)
    applied = [r for r in store.journal.results(run_id) if r.status == "applied" and r.user_id]
    if not applied:
        raise UsageError(f"Run {run_id} changed nothing, so there is nothing to revert.")
    users: list[UserPlan] = []
    issues: list[RowIssue] = []
    warnings: list[str] = []
    for user_id, results in _latest_by_user(applied).items():
        restoring = _Restore.of(user_id, results)
        if restoring.unknown:
            warnings.append(
                f"User {user_id}: {', '.join(restoring.unknown)} had no known value before run "
                f"{run_id} (GET does not return addresses), so cannot be restored."
            )
        if restoring.unverified:
            names = ", ".join(restoring.unverified)
            if restore_unverified:
                warnings.append(
                    f"User {user_id}: restoring {names} to the value last pushed by us before "
                    f"run {run_id} (--restore-unverified); Communal may have held another."
                )
            else:
                warnings.append(
                    f"User {user_id}: {names} before run {run_id} is unknown (the value we "
                    "had was our own last push; Communal does not show it), so it is left "
                    "alone. Use --restore-unverified to put back the last-known value."
                )
                restoring = restoring.without(restoring.unverified)
        if not restoring.values:
            continue
        try:
            live = client.get_user(user_id)
        except NotFound:
            issues.append(
                RowIssue(
                    line=restoring.line,
                    kind="unmatched",
                    field="id",
                    value=str(user_id),
                    message=f"Communal no longer has user {user_id}.",
                )
            )
            continue
        planned = _revert_user(restoring, live, store.snapshots.get(user_id), client, region)
        if planned is not None:
            users.append(planned)
    return Plan(
        tool_version=__version__,
        created_at=now().isoformat(timespec="seconds"),
        base_url=base_url,
        input=InputInfo(
            name=f"revert of run {run_id}", sha256=None, format="run", rows=len(applied)
        ),
        options=PlanOptions(default_region=region),
        users=tuple(users),
        issues=tuple(issues),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class _Restore:
    """What reverting one user means, from the run's journal: the values to put back, the
    values the run wrote (the base: a field changed since is someone else's edit), and the
    custom fields involved."""

    user_id: int
    line: int
    values: dict[str, str | None]
    base: dict[str, str | None]
    definitions: dict[str, tuple[int, str]]
    unknown: tuple[str, ...]
    unverified: tuple[str, ...] = ()

    def without(self, names: tuple[str, ...]) -> _Restore:
        """This restore minus ``names`` (fields left alone)."""
        return _Restore(
            user_id=self.user_id,
            line=self.line,
            values={k: v for k, v in self.values.items() if k not in names},
            base={k: v for k, v in self.base.items() if k not in names},
            definitions=self.definitions,
            unknown=self.unknown,
            unverified=self.unverified,
        )

    @classmethod
    def of(cls, user_id: int, results: list[ResultRecord]) -> _Restore:
        profile = next((r for r in results if r.operation.startswith("user:")), None)
        customs = [r for r in results if r.operation.startswith("cpfv:")]
        before = (profile.before if profile else None) or {}
        written = _as_text((profile.after if profile else None) or {})
        values = {k: v for k, v in before.get("fields", {}).items() if k in PROFILE_FIELDS}
        base = {k: written.get(k) for k in values}
        definitions: dict[str, tuple[int, str]] = {}
        for result in customs:
            was, wrote = result.before or {}, result.after or {}
            key = str(was.get("field"))
            values[key], base[key] = was.get("value"), wrote.get("value")
            definitions[key] = (int(was["field_id"]), custom_name(key))
        return cls(
            user_id=user_id,
            line=(profile or results[0]).source_line or 0,
            values=values,
            base=base,
            definitions=definitions,
            unknown=tuple(before.get("unknown", [])),
            unverified=tuple(k for k in before.get("unverified", []) if k in values),
        )


def _revert_user(
    restoring: _Restore,
    live: User,
    snapshot: Snapshot | None,
    client: UserReader,
    region: str | None,
) -> UserPlan | None:
    """The plan that puts one user's values back, or None when nothing needs sending."""
    restore, definitions = restoring.values, restoring.definitions
    current = current_record(
        {**_trio(live.raw()), **restore}, live, snapshot.user if snapshot else None
    )
    value_ids: dict[str, int] = {}
    if definitions:
        by_field = {fid: key for key, (fid, _) in definitions.items()}
        for key in definitions:
            current[key] = CurrentValue(None, "live")
        for value in client.list_custom_profile_field_values(restoring.user_id):
            owner = by_field.get(value.custom_profile_field_id or -1)
            if owner is not None:
                current[owner] = CurrentValue(value.value or None, "live")
                value_ids[owner] = value.id
    clears = [k for k, v in restore.items() if v in (None, "")]
    diff = diff_fields(
        restore, current, restoring.base, on_conflict="skip", allow_clear=clears, region=region
    )
    body = build_put_body(diff, current)
    writes = tuple(
        CustomWrite(
            field=c.field,
            field_id=definitions[c.field][0],
            name=definitions[c.field][1],
            value_id=value_ids.get(c.field),
            value=c.after,
        )
        for c in diff.changes
        if c.field in definitions and (c.after is not None or c.field in value_ids)
    )
    if body is None and not writes and not diff.conflicts:
        return None
    return UserPlan(
        user_id=restoring.user_id,
        line=restoring.line,
        matched_by="id",
        name=f"{live.first_name or ''} {live.last_name or ''}".strip(),
        changes=diff.changes,
        conflicts=diff.conflicts,
        body=body,
        custom_writes=writes,
        updated_at=live.updated_at,
        source_hash=None,
        pushed={k: v for k, v in restore.items() if not _held(k, diff)},
    )


def _latest_by_user(results: list[ResultRecord]) -> dict[int, list[ResultRecord]]:
    """Per user, the last applied result of each operation (a resumed run may repeat one)."""
    latest: dict[str, ResultRecord] = {}
    for result in results:
        latest[result.operation] = result
    grouped: dict[int, list[ResultRecord]] = {}
    for result in latest.values():
        assert result.user_id is not None
        grouped.setdefault(result.user_id, []).append(result)
    return dict(sorted(grouped.items()))


def _trio(values: dict[str, Any]) -> dict[str, str | None]:
    return {k: values.get(k) for k in ("first_name", "last_name", "email")}


def _as_text(values: dict[str, Any]) -> dict[str, str | None]:
    return {k: (None if v is None else str(v)) for k, v in values.items()}


def _held(name: str, diff: FieldDiff) -> bool:
    return any(c.field == name and c.resolution != "source" for c in diff.conflicts)


def _planned_region(journal: RunHistory, run_id: int) -> str | None:
    """The phone region the run was planned with, from its stored plan (None if unknown)."""
    text = journal.load_plan(run_id)
    if text is None:
        return None
    try:  # the whole plan of an unfinished run, or what a finished one kept of it
        return PlanOptions.model_validate(json.loads(text)["options"]).default_region
    except (ValidationError, ValueError, KeyError, TypeError):
        return None  # a plan of another version: compare telephones without a region
