"""Build a plan that undoes a run: restore each field's value from before that run.

It is an ordinary plan, shown, dry-runnable and applied like any other. The same
three-way diff keeps it safe: the *source* is the before-image, the *base* is what the
run wrote, the *current* value is read live. A field someone changed again since the run
is a conflict and is left alone; a field whose earlier value was never known cannot be
restored and is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from communal_sync import __version__
from communal_sync.current import current_record
from communal_sync.diff import FieldDiff, build_put_body, diff_fields
from communal_sync.errors import NotFound, UsageError
from communal_sync.fields import PROFILE_FIELDS
from communal_sync.plan import InputInfo, Plan, PlanOptions, RowIssue, UserPlan
from communal_sync.planner import UserReader
from communal_sync.state import StateStore
from communal_sync.state.records import ResultRecord


def build_revert_plan(
    run_id: int,
    *,
    store: StateStore,
    client: UserReader,
    base_url: str,
    region: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Plan:
    """The plan that restores what run ``run_id`` changed, where that is still safe."""
    store.get_run(run_id)  # a UsageError naming `runs` when there is no such run
    applied = [r for r in store.results(run_id) if r.status == "applied" and r.user_id]
    if not applied:
        raise UsageError(f"Run {run_id} changed nothing, so there is nothing to revert.")
    users: list[UserPlan] = []
    issues: list[RowIssue] = []
    warnings: list[str] = []
    for result in _last_per_user(applied):
        assert result.user_id is not None
        before = result.before or {}
        restore: dict[str, str | None] = dict(before.get("fields", {}))
        if unknown := before.get("unknown", []):
            warnings.append(
                f"User {result.user_id}: {', '.join(unknown)} had no known value before run "
                f"{run_id} (GET does not return addresses), so cannot be restored."
            )
        restore = {k: v for k, v in restore.items() if k in PROFILE_FIELDS}
        if not restore:
            continue
        try:
            live = client.get_user(result.user_id)
        except NotFound:
            issues.append(
                RowIssue(
                    line=result.source_line or 0,
                    kind="unmatched",
                    field="id",
                    value=str(result.user_id),
                    message=f"Communal no longer has user {result.user_id}.",
                )
            )
            continue
        snapshot = store.get_snapshot(result.user_id)
        wanted = {**_trio(live.raw()), **restore}
        current = current_record(wanted, live, snapshot.user if snapshot else None)
        written = _as_text(result.after or {})
        base = {k: written.get(k) for k in restore}
        clears = [k for k, v in restore.items() if v in (None, "")]
        diff = diff_fields(
            restore, current, base, on_conflict="skip", allow_clear=clears, region=region
        )
        body = build_put_body(diff, current)
        if body is None and not diff.conflicts:
            continue
        users.append(
            UserPlan(
                user_id=result.user_id,
                line=result.source_line or 0,
                matched_by="id",
                name=f"{live.first_name or ''} {live.last_name or ''}".strip(),
                changes=diff.changes,
                conflicts=diff.conflicts,
                body=body,
                updated_at=live.updated_at,
                source_hash=None,
                pushed={k: v for k, v in restore.items() if not _held(k, diff)},
            )
        )
    return Plan(
        tool_version=__version__,
        created_at=now().isoformat(timespec="seconds"),
        base_url=base_url,
        input=InputInfo(
            name=f"revert of run {run_id}", sha256=None, format="run", rows=len(applied)
        ),
        options=PlanOptions(),
        users=tuple(users),
        issues=tuple(issues),
        warnings=tuple(warnings),
    )


def _last_per_user(results: list[ResultRecord]) -> list[ResultRecord]:
    """One result per user: a resumed run may have journalled a user more than once."""
    latest: dict[int, ResultRecord] = {}
    for result in results:
        assert result.user_id is not None
        latest[result.user_id] = result
    return [latest[k] for k in sorted(latest)]


def _trio(values: dict[str, Any]) -> dict[str, str | None]:
    return {k: values.get(k) for k in ("first_name", "last_name", "email")}


def _as_text(values: dict[str, Any]) -> dict[str, str | None]:
    return {k: (None if v is None else str(v)) for k, v in values.items()}


def _held(name: str, diff: FieldDiff) -> bool:
    return any(c.field == name and c.resolution != "source" for c in diff.conflicts)
