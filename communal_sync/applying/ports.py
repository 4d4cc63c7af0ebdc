"""What applying needs of the API client and of the state store: narrow protocols.

Apply and revert are written against these, not against ``CommunalClient`` or
``StateStore``, so a test can hand them any object that keeps the same promises and the
reader sees at a glance which calls a run can make.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol, TypeVar

from communal_sync.api.models import CustomProfileFieldValue, User
from communal_sync.state.records import (
    EndStatus,
    IdentitySource,
    ResultStatus,
    RunKind,
    RunRecord,
    Snapshot,
)

T = TypeVar("T")


class CustomValueWriter(Protocol):
    """The part of the API client custom-field writes use."""

    def list_custom_profile_field_values(self, user_id: int) -> list[CustomProfileFieldValue]: ...

    def create_custom_profile_field_value(
        self, user_id: int, field_id: int, value: str | None
    ) -> CustomProfileFieldValue | None: ...

    def update_custom_profile_field_value(
        self, value_id: int, user_id: int, field_id: int, value: str | None
    ) -> CustomProfileFieldValue | None: ...


class UserWriter(CustomValueWriter, Protocol):
    """The part of the API client apply uses: read a user, PUT a user, custom values."""

    def get_user(self, user_id: int) -> User: ...

    def update_user(self, user_id: int, body: dict[str, str | None]) -> User: ...


class JournalWriter(Protocol):
    """The run journal as apply writes it: intents before writes, results after."""

    def record_result(
        self,
        run_id: int,
        *,
        operation: str,
        status: ResultStatus,
        user_id: int | None = None,
        source_line: int | None = None,
        body_hash: str | None = None,
        http_status: int | None = None,
        error: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        settled: bool = True,
    ) -> int: ...

    def record_intent(
        self,
        run_id: int,
        *,
        operation: str,
        body_hash: str,
        fields: Collection[str],
        user_id: int | None = None,
    ) -> None: ...

    def applied_operations(self, run_id: int) -> set[tuple[str, str]]: ...

    def unsettled_operations(self, run_id: int) -> set[tuple[str, str]]: ...

    def applied_after(self, run_id: int, operation: str) -> Mapping[str, Any] | None: ...


class SnapshotWriter(Protocol):
    """Snapshots as apply reads and writes them."""

    def get(self, user_id: int) -> Snapshot | None: ...

    def save(
        self,
        user_id: int,
        *,
        user: Mapping[str, Any],
        pushed: Mapping[str, Any],
        source_hash: str | None,
        external_id: str | None = None,
        pushed_email: str | None = None,
        run_id: int | None = None,
    ) -> Snapshot: ...


class IdentityWriter(Protocol):
    """The identity map as apply teaches it: each landed PUT names its user's email."""

    def link(
        self,
        user_id: int,
        *,
        email_key: str | None = None,
        external_id: str | None = None,
        source: IdentitySource,
    ) -> None: ...


class ApplyState(Protocol):
    """The parts of the state store a run writes (``StateStore`` is one)."""

    @property
    def journal(self) -> JournalWriter: ...

    @property
    def snapshots(self) -> SnapshotWriter: ...

    @property
    def identity(self) -> IdentityWriter: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def grouped(self, work: Callable[[], T]) -> T:
        """``work``'s writes committed with other threads' at once; on disk on return."""
        ...


class RunJournal(JournalWriter, Protocol):
    """The journal as a whole run uses it: start, resume, finish."""

    def start_run(
        self,
        kind: RunKind,
        *,
        input_name: str | None = None,
        input_sha256: str | None = None,
        plan_json: str | None = None,
    ) -> int: ...

    def finish_run(
        self,
        run_id: int,
        *,
        status: EndStatus,
        exit_code: int,
        counts: Mapping[str, int],
        kept_plan: str | None = None,
    ) -> None: ...

    def latest_unfinished_run(
        self, input_sha256: str | None = None, *, kind: RunKind | None = None
    ) -> RunRecord | None: ...

    def load_plan(self, run_id: int) -> str | None: ...

    def reopen_run(self, run_id: int) -> RunRecord: ...


class Binding(Protocol):
    """Which API the state file belongs to."""

    def check(self, base_url: str, *, bind: bool) -> None: ...


class RunState(ApplyState, Protocol):
    """The parts of the state store a whole run uses (``StateStore`` is one)."""

    @property
    def journal(self) -> RunJournal: ...

    @property
    def binding(self) -> Binding: ...
