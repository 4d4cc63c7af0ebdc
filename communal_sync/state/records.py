"""What the state store hands back: identity sources, snapshots, runs and results."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

IdentitySource = Literal["link", "push", "discover"]
"""Where an identity mapping came from: ``link FILE``, a successful PUT, or ``--discover``."""

AUTHORITATIVE_SOURCES: Final[frozenset[str]] = frozenset({"link", "push"})
"""Sources that state a user's account email as Communal has it (emails are unique there)."""

RunKind = Literal["push", "apply", "revert"]
RunStatus = Literal["running", "finished", "interrupted", "failed"]
EndStatus = Literal["finished", "interrupted", "failed"]
ResultStatus = Literal["applied", "failed", "skipped", "conflict"]

JsonObject = dict[str, Any]

KEPT_PLAN_KEYS: Final = ("options",)
"""What a finished run keeps of its stored plan: ``revert`` reads its options (the phone
region); ``runs`` and ``runs show`` read the counts stored with the run. The whole plan,
every user's changes and unchanged row, is needed only to resume a run that did not
finish, so it is dropped when the run finishes (and from older files by schema 6)."""


def kept_plan(plan: Mapping[str, Any]) -> str:
    """The text a finished run keeps of ``plan`` (a plan as JSON data): ``KEPT_PLAN_KEYS``."""
    return json.dumps({k: plan[k] for k in KEPT_PLAN_KEYS if k in plan}, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One user as of our last successful PUT.

    ``user`` holds the profile fields of the ``User`` the PUT returned (the only source of
    the address fields, which GET does not return; since schema 8 nothing else of it);
    ``pushed`` maps each field we ever pushed (standard fields, and custom fields as
    ``custom:<id>``) to the last value we sent: the *base* of the three-way comparison.
    ``source_hash`` is the canonical hash of the source row, so an unchanged row can be
    skipped without an API call.
    """

    user_id: int
    user: JsonObject
    pushed: JsonObject
    source_hash: str | None
    external_id: str | None
    pushed_email: str | None
    pushed_at: datetime
    run_id: int | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One ``push``, ``apply`` or ``revert`` run; the plan itself is loaded with ``load_plan``.

    ``attempts`` counts how often the run was started: a resumed run keeps its id, so its
    results (and what must not be sent again) stay together.
    """

    id: int
    kind: RunKind
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    input_name: str | None
    input_sha256: str | None
    exit_code: int | None
    counts: dict[str, int]
    pid: int
    tool_version: str
    attempts: int


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of a run: the first, or a resume under the same run id.

    ``ended_at`` is None while it runs, and for an attempt whose process was killed before
    it journalled anything (one killed later ends at its last journalled result).
    """

    run_id: int
    attempt: int
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    exit_code: int | None


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """The outcome of one request (or a decision not to send one) in a run.

    ``operation`` names what was done to whom: ``user:<id>`` for a profile PUT,
    ``cpfv:<user id>:<field id>`` for a custom profile field value. ``before`` and
    ``after`` are the record as it was and as the API returned it, for ``revert``.
    """

    id: int
    run_id: int
    user_id: int | None
    operation: str
    source_line: int | None
    body_hash: str | None
    status: ResultStatus
    http_status: int | None
    error: str | None
    before: JsonObject | None
    after: JsonObject | None
    finished_at: datetime
