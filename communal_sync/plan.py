"""The plan: exactly what a push would change, and every row it would not touch and why.

A plan is data (frozen pydantic models), built by ``planner.build_plan`` and consumed by the
dry-run report, ``plan --out`` and apply. The preview and the run share this one object, so
what was shown is what is sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field

from communal_sync.words import plural

PLAN_FORMAT_VERSION = 1

Provenance = Literal["live", "snapshot", "unknown"]
"""Where a field's current value came from: ``GET /users/{id}``, our last PUT's response, or
nowhere (addresses of a user we never pushed)."""


@dataclass(frozen=True)
class CurrentValue:
    """A field's value in Communal now, and how we know it."""

    value: str | None
    provenance: Provenance
    as_of: str | None = None
    """For a snapshot value: the date (UTC, YYYY-MM-DD) of the push that left it."""


UNKNOWN: Final = CurrentValue(None, "unknown")
"""A field whose current value nothing tells us (an address we never pushed)."""

MatchMethod = Literal["id", "external_id", "email", "discover"]
ConflictPolicy = Literal["skip", "source", "communal"]
Resolution = Literal["skipped", "source", "communal"]
LOCKED_REASON: Final = (
    "locked in Communal: not writable with the API. Change it in Communal itself, or stop "
    "mapping the column."
)
"""Why a locked custom field's differing value is reported and not sent."""
IssueKind = Literal[
    "invalid", "unmatched", "ambiguous", "mismatched", "duplicate", "unreachable", "email_cycle"
]
ISSUE_KINDS: Final[tuple[IssueKind, ...]] = get_args(IssueKind)
"""Every issue kind, in the order the summary line and the counts list them."""
ISSUE_WORDS: Final[dict[IssueKind, str]] = {"email_cycle": "in an email cycle"}
"""How the summary line says a kind whose name is not a word ("2 in an email cycle")."""


def issue_words(kind: IssueKind) -> str:
    """The words for ``kind`` in a summary line: its name, unless it has words of its own."""
    return ISSUE_WORDS.get(kind, kind)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Slotted:
    """Base of the records a plan holds several of per user (``FieldChange``, ``Conflict``):
    frozen, slotted dataclasses instead of pydantic models (~90 bytes each, not ~650, and
    no validation when the planner builds them). Pydantic still validates and serializes
    them inside a ``Plan`` (the plan file's JSON is the same, unknown keys refused);
    ``model_copy`` is kept so they are copied like the models around them."""

    __slots__ = ()
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        return dataclasses.replace(self, **(update or {}))  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class FieldChange(_Slotted):
    """One field that would change: ``after`` of ``None`` is an explicit clear."""

    field: str
    before: str | None
    after: str | None
    provenance: Provenance
    note: str | None = None

    @property
    def is_clear(self) -> bool:
        return self.after is None

    @property
    def is_first_time(self) -> bool:
        """A write over a value Communal never shows (an address we never pushed): not a
        change anyone could see. A clear of such a value is a clear, not a first write."""
        return self.provenance == "unknown" and self.after is not None


@dataclass(frozen=True, slots=True)
class Conflict(_Slotted):
    """A field edited in Communal since our last push and also different in the file."""

    field: str
    base: str | None
    current: str | None
    source: str | None
    resolution: Resolution


class SkippedField(_Frozen):
    """A field whose file value differs from Communal's but that cannot be written (a
    custom field locked in Communal): reported per user, never sent."""

    field: str
    source: str | None = Field(description="The file's value.")
    current: str | None = Field(description="Communal's value.")
    reason: str


class EmailChange(_Frozen):
    """A known person whose email in the file differs from the one we last pushed."""

    old: str
    new: str


class CustomWrite(_Frozen):
    """One custom profile field value to write: create, update, or (value None) clear."""

    field: str = Field(description="The plan's key for it: custom:<name as mapped>.")
    field_id: int
    name: str
    value_id: int | None = Field(default=None, description="The existing value record, if any.")
    value: str | None

    @property
    def operation(self) -> Literal["create", "update", "clear"]:
        if self.value is None:
            return "clear"
        return "create" if self.value_id is None else "update"


class UserPlan(_Frozen):
    """Everything planned for one Communal user, from one source row."""

    user_id: int
    line: int
    matched_by: MatchMethod
    name: str
    external_id: str | None = None
    email_change: EmailChange | None = None
    changes: tuple[FieldChange, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    skipped: tuple[SkippedField, ...] = Field(
        default=(), description="Differences not sent because they cannot be (locked fields)."
    )
    body: dict[str, str | None] | None = Field(
        default=None, description="The PUT /users/{id} body: the required trio + changed fields."
    )
    custom_writes: tuple[CustomWrite, ...] = ()
    email_after: int | None = Field(
        default=None,
        description="The user whose current email this user's new one is: this PUT waits "
        "until that user has moved off it (``planning.email_order``).",
    )
    temporary_email: str | None = Field(
        default=None,
        description="With --break-email-cycles, the address this user moves to first, so "
        "the next person in the cycle can take theirs; the final PUT comes last.",
    )
    updated_at: str | None = Field(
        default=None, description="The user's updated_at when planned (apply skips on change)."
    )
    source_hash: str | None = Field(
        description="The source row's hash, recorded after a push (None: check again next time)."
    )
    pushed: dict[str, str | None] = Field(
        default_factory=dict,
        description="Every field value this row asserts, recorded as the base after a push.",
    )

    @property
    def clears(self) -> int:
        return sum(1 for c in self.changes if c.is_clear)

    @property
    def holds_a_conflict(self) -> bool:
        """Whether a conflict of this user kept a value other than the file's (``skip`` or
        ``communal``): the file and Communal still disagree, so the row's hash must not be
        remembered, and the next run reads the user and reports it again, whether or not
        something else of this user was sent."""
        return any(c.resolution != "source" for c in self.conflicts)


class RowIssue(_Frozen):
    """A row that will not be pushed: invalid, unmatched, ambiguous, mismatched (its id is
    someone else's), unreachable, in an email cycle (a swap no PUT can start), or a
    skipped duplicate."""

    line: int
    kind: IssueKind
    field: str | None = None
    value: str | None = None
    message: str
    quoted: tuple[str, ...] = Field(
        default=(),
        description="Personal values the message quotes besides ``value`` (names, emails), "
        "masked in it when redacting.",
    )


class Unchanged(_Frozen):
    """A matched row with nothing to change; ``verified`` if compared against Communal now.

    A verified row carries what it asserts (``pushed``), so a push can remember it as the
    base and skip the row for free next time.
    """

    user_id: int
    line: int
    verified: bool
    source_hash: str
    email: str | None = None
    external_id: str | None = None
    pushed: dict[str, str | None] | None = None


OutcomeStatus = Literal["applied", "failed", "conflict", "already"]


class Outcome(_Frozen):
    """What happened to one planned user when the plan was applied."""

    user_id: int
    line: int
    status: OutcomeStatus
    message: str | None = None
    http_status: int | None = None
    field_errors: dict[str, list[str]] = Field(default_factory=dict)

    def field_error_lines(self) -> list[str]:
        """The API's per-field errors as "field: message", one per message, fields sorted."""
        return [
            f"{name}: {message}"
            for name in sorted(self.field_errors)
            for message in self.field_errors[name]
        ]

    @property
    def reason(self) -> str:
        """The message and its field errors on one line: what every report and table says.

        A 422's message already lists the API's field errors: those are not repeated.
        """
        message = self.message or ""
        parts = [message] if message else []
        parts += [
            line
            for line in self.field_error_lines()
            if line.partition(": ")[2].rstrip(". ") not in message
        ]
        return "; ".join(parts)


class InputInfo(_Frozen):
    name: str
    sha256: str | None
    format: str
    rows: int
    path: str | None = None
    """The input's absolute path when it is a file, so ``apply`` finds it from any
    directory to check its checksum (plans saved before it have only ``name``)."""


class PlanOptions(_Frozen):
    on_conflict: ConflictPolicy = "skip"
    custom_fields: Literal["mapped", "headers", "off"] = "mapped"
    allow_clear: tuple[str, ...] = ()
    full_refresh: bool = False
    discover: bool = False
    trust_ids: bool = False
    break_email_cycles: bool = False
    """Break a cycle of email changes (a swap) through a temporary address: opt-in."""
    max_changes: str | None = None
    max_clears: int | None = None
    default_region: str | None = None
    """The region telephones without a country code were read in (``--default-region``):
    apply and revert compare with it too, so a landed PUT is recognized on resume."""
    phone_format: Literal["as-is", "e164"] = "as-is"
    """What a changed telephone is sent as: the file's text (``as-is``) or E.164
    (``--phone-format e164``), when it reads as a possible number in its region."""


@dataclass(frozen=True)
class FieldCount:
    """How many users a plan changes one field for, and how (``Plan.field_counts``)."""

    field: str
    users: int
    """Users whose value of this field changes (clears and first-time writes included)."""
    first_time: int
    """Of those, writes over a value Communal never shows (an address we never pushed)."""
    clears: int
    unverified: int
    """Of those, changes over a value from our own last push (a snapshot), not read now."""
    conflicts: int
    """Users with a conflict on this field (not counted in ``users``)."""

    @property
    def real_changes(self) -> int:
        """Changes that are not first-time writes (clears included): what a person reads."""
        return self.users - self.first_time


class Plan(_Frozen):
    """A complete, self-describing plan; ``plan --out`` writes it, ``apply`` reads it back."""

    format_version: int = PLAN_FORMAT_VERSION
    tool_version: str
    created_at: str
    base_url: str
    input: InputInfo
    options: PlanOptions
    users: tuple[UserPlan, ...] = ()
    unchanged: tuple[Unchanged, ...] = ()
    issues: tuple[RowIssue, ...] = ()
    unmapped_columns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    refused: str | None = None

    @property
    def to_update(self) -> tuple[UserPlan, ...]:
        """Users with at least one change to send (a profile PUT or a custom field write)."""
        return tuple(u for u in self.users if u.body is not None or u.custom_writes)

    @property
    def conflicts(self) -> int:
        return sum(len(u.conflicts) for u in self.users)

    @property
    def clears(self) -> int:
        return sum(u.clears for u in self.users)

    @property
    def unverified_changes(self) -> int:
        """Changes over a value Communal cannot show (an address from our snapshot): the tool
        cannot see an edit made in Communal since, so it cannot report it as a conflict."""
        return sum(1 for u in self.users for c in u.changes if c.provenance == "snapshot")

    @property
    def first_time_writes(self) -> int:
        """Field writes over a value Communal never shows (``FieldChange.is_first_time``): a
        first address push, not a change anyone could see in Communal."""
        return sum(1 for u in self.users for c in u.changes if c.is_first_time)

    def field_counts(self) -> tuple[FieldCount, ...]:
        """One ``FieldCount`` per field the plan touches, in the order fields first appear
        (profile fields in the users' change order, custom fields after)."""
        users: dict[str, int] = {}
        first: dict[str, int] = {}
        clears: dict[str, int] = {}
        unverified: dict[str, int] = {}
        conflicts: dict[str, int] = {}
        for user in self.users:
            for change in user.changes:
                name = change.field
                users[name] = users.get(name, 0) + 1
                first[name] = first.get(name, 0) + change.is_first_time
                clears[name] = clears.get(name, 0) + change.is_clear
                unverified[name] = unverified.get(name, 0) + (change.provenance == "snapshot")
            for conflict in user.conflicts:
                conflicts[conflict.field] = conflicts.get(conflict.field, 0) + 1
        names = list(users) + [name for name in conflicts if name not in users]
        return tuple(
            FieldCount(
                field=name,
                users=users.get(name, 0),
                first_time=first.get(name, 0),
                clears=clears.get(name, 0),
                unverified=unverified.get(name, 0),
                conflicts=conflicts.get(name, 0),
            )
            for name in names
        )

    @property
    def locked_skips(self) -> int:
        """Field values not sent because Communal locks the field (reported, exit 0)."""
        return sum(len(u.skipped) for u in self.users)

    def issue_count(self, kind: IssueKind) -> int:
        """How many rows have an issue of this kind (a row with three errors counts once)."""
        return len({i.line for i in self.issues if i.kind == kind})

    @property
    def conflicts_left_alone(self) -> int:
        """Conflicting fields the plan leaves as Communal has them: a reason to exit 3."""
        return sum(1 for u in self.users for c in u.conflicts if c.resolution == "skipped")

    def counts(self) -> dict[str, int]:
        """The numbers behind the summary line; issue counts are rows, not error messages."""
        return {
            "to_update": len(self.to_update),
            "unchanged": len(self.unchanged),
            "invalid": self.issue_count("invalid"),
            "unmatched": self.issue_count("unmatched"),
            "unreachable": self.issue_count("unreachable"),
            "ambiguous": self.issue_count("ambiguous"),
            "mismatched": self.issue_count("mismatched"),
            "duplicate": self.issue_count("duplicate"),
            "email_cycle": self.issue_count("email_cycle"),
            "conflicts": self.conflicts,
            "clears": self.clears,
            "locked_fields": self.locked_skips,
            "unverified_changes": self.unverified_changes,
        }

    @property
    def has_row_problems(self) -> bool:
        """Rows that need attention: invalid, unmatched, ambiguous, mismatched, unreachable,
        or a conflict left alone (exit 3, so a cron job sees it).

        A locked field's differing value is not one: it is reported with the user and
        counted, but no run could ever send it, so it would hold every run at exit 3.
        """
        return bool(self.conflicts_left_alone) or any(i.kind != "duplicate" for i in self.issues)

    def summary(self) -> str:
        """The one-line summary: "12 users to update, 3 unchanged, 2 invalid, 1 conflict"."""
        parts = [f"{len(self.to_update)} {plural(len(self.to_update), 'user')} to update"]
        parts.append(f"{len(self.unchanged)} unchanged")
        for kind in ISSUE_KINDS:
            count = self.issue_count(kind)
            if count:
                parts.append(f"{count} {issue_words(kind)}")
        if self.conflicts:
            parts.append(f"{self.conflicts} {plural(self.conflicts, 'conflict')}")
        if self.clears:
            parts.append(f"{self.clears} {plural(self.clears, 'field')} cleared")
        if self.locked_skips:
            fields = plural(self.locked_skips, "field")
            parts.append(f"{self.locked_skips} locked {fields} not written")
        if self.unverified_changes:
            count = self.unverified_changes
            parts.append(f"{count} address {plural(count, 'change')} over values we cannot read")
        return ", ".join(parts)
