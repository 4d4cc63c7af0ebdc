"""The sandbox's seed file: an organization's users, keys, custom fields and signups as JSON.

A seed is validated with pydantic so a typo or a dangling reference is one clear
``InputError`` naming the file, never a half-loaded sandbox. ``GET /_sandbox/state``
writes the same format, so a sandbox's state can be saved and fed back as a seed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from communal_sync.errors import InputError
from communal_sync.sandbox.seed_activity import TransactionSeed, UserMembershipSeed
from communal_sync.sandbox.seed_time import (
    DEFAULT_TIMESTAMP,
    normalize_birth_date,
    normalize_timestamp,
)

DEMO_SEED: Final = Path(__file__).resolve().with_name("demo_organization.json")
"""The demo organization ``--sandbox`` starts with; shipped inside the package, so an
installed wheel has it too."""

DEFAULT_MANAGER_KEY: Final = "sandbox-manager-key"
"""The manager key a seed without ``api_keys`` gets."""

DEFAULT_TENANT_ID: Final = 1
OptionalText = str | None
Id = Annotated[int, Field(ge=1)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("created_at", "updated_at", mode="after", check_fields=False)
    @classmethod
    def _normalize_timestamps(cls, value: str | None) -> str | None:
        return None if value is None else normalize_timestamp(value)


class ApiKeySeed(_Record):
    """A bearer key: a manager key may act on anyone, a member key only on its user."""

    key: str = Field(min_length=1)
    user_id: Id | None = None
    manager: bool = False

    @model_validator(mode="after")
    def _member_needs_user(self) -> ApiKeySeed:
        if not self.manager and self.user_id is None:
            raise ValueError("a member key (manager: false) needs the user_id it belongs to")
        return self


class UserSeed(_Record):
    """A user with every field of the spec's ``User``; only id, first and last name needed.

    ``email`` may be null (a child in a family, say): GET then shows ``""``. Emails are
    unique within a tenant (case-insensitively), not across tenants: a parent
    organization can see two users with one email in two of its tenants.
    """

    id: Id
    tenant_id: int | None = DEFAULT_TENANT_ID
    name: OptionalText = None
    first_name: str
    last_name: str
    middle_name: OptionalText = None
    preferred_name: OptionalText = None
    date_of_birth: OptionalText = None
    email: OptionalText = None
    email_locked: bool = False
    requires_password_reset: bool = False
    photo_url: OptionalText = None
    uses_two_factor_auth: bool = False
    two_factor_enabled: str = "0"
    """New in 2026-08-25's ``User`` (typed as a string there); older versions omit it."""
    current_team_id: int | None = None
    stripe_id: OptionalText = None
    current_billing_plan: OptionalText = None
    billing_state: OptionalText = None
    vat_id: OptionalText = None
    trial_ends_at: OptionalText = None
    last_read_announcements_at: OptionalText = None
    created_at: OptionalText = DEFAULT_TIMESTAMP
    updated_at: OptionalText = DEFAULT_TIMESTAMP
    work_phone: OptionalText = None
    profile_address: OptionalText = None
    profile_address_line_2: OptionalText = None
    profile_city: OptionalText = None
    profile_state: OptionalText = None
    profile_zip: OptionalText = None
    profile_country: OptionalText = None
    family_id: int | None = None
    manager: bool = False
    places_id: OptionalText = None
    status: int = 1
    telephone: OptionalText = None
    timezone: OptionalText = None
    deleted_timestamp: OptionalText = None
    member_id: OptionalText = None
    card_id: OptionalText = None
    business_name: OptionalText = None
    account_id: int | None = None
    can_use_card: bool = False
    is_communal_admin: bool = False
    referrer: OptionalText = None
    anonymized_at: OptionalText = None
    active: str = "active"
    base_membership_plan: None = None
    membership_start_date: None = None
    readable_membership_start_date: None = None

    @field_validator("date_of_birth", mode="after")
    @classmethod
    def _normalize_birth_date(cls, value: str | None) -> str | None:
        return None if value is None else normalize_birth_date(value)

    @field_validator(
        "trial_ends_at", "deleted_timestamp", "anonymized_at", "last_read_announcements_at"
    )
    @classmethod
    def _normalize_optional_timestamps(cls, value: str | None) -> str | None:
        return None if value is None else normalize_timestamp(value)

    @model_validator(mode="after")
    def _derive_name(self) -> UserSeed:
        self.name = full_name(self.first_name, self.last_name)
        return self


class CustomProfileFieldSeed(_Record):
    """A custom profile field definition; ``locked`` fields refuse every write."""

    id: Id
    tenant_id: int | None = DEFAULT_TENANT_ID
    name: str = Field(min_length=1)
    display_on_membership_card: bool = False
    user_editable: bool = True
    locked: bool = False
    parent_profile_field_id: int | None = None
    created_at: OptionalText = DEFAULT_TIMESTAMP
    updated_at: OptionalText = DEFAULT_TIMESTAMP
    deleted_at: OptionalText = None


class CustomProfileFieldValueSeed(_Record):
    """One user's value of one custom profile field (never empty: empty means no record)."""

    id: Id
    tenant_id: int | None = DEFAULT_TENANT_ID
    value: str = Field(min_length=1)
    user_id: Id
    custom_profile_field_id: Id
    created_at: OptionalText = DEFAULT_TIMESTAMP
    updated_at: OptionalText = DEFAULT_TIMESTAMP
    deleted_at: OptionalText = None


class ProgramSignupSeed(_Record):
    """A program signup; ``associated_email``/``associated_name`` default to its user's."""

    id: Id
    program_id: int = 1
    user_id: int | None = None
    guest_id: int | None = None
    additional_member_id: int | None = None
    transaction_id: int | None = None
    subscription_schedule_id: int | None = None
    ticket_uuid: OptionalText = None
    product_id: OptionalText = None
    payment_method: OptionalText = None
    paid: int = 1
    amount_paid: int = 0
    amount_refunded: int = 0
    number_of_guests: int = 0
    quantity: int = 1
    associated_email: OptionalText = None
    associated_name: OptionalText = None
    associated_address: OptionalText = None
    associated_telephone: OptionalText = None
    participant_name: OptionalText = None
    participant_dob: OptionalText = None
    additional_member_name: OptionalText = None
    additional_member_dob: OptionalText = None
    additional_member_gender_identity: OptionalText = None
    additional_member_medical: OptionalText = None
    additional_member_emergency_contact: OptionalText = None
    created_at: str = DEFAULT_TIMESTAMP
    updated_at: str = DEFAULT_TIMESTAMP
    deleted_timestamp: OptionalText = None
    list_of_activities: OptionalText = None
    cancelled_at: OptionalText = None
    """Set when the signup was cancelled: 2026-08-25 hides it unless asked for."""
    cancellation_actor: OptionalText = None
    """Who cancelled (``member`` or ``admin``); ``filter[signup_status]=cancelled:member``."""

    @field_validator("cancelled_at")
    @classmethod
    def _normalize_cancelled_at(cls, value: str | None) -> str | None:
        return None if value is None else normalize_timestamp(value)


class SandboxSeed(_Record):
    """A whole organization: what the sandbox starts from and what ``/_sandbox/state`` shows."""

    tenant_id: int = DEFAULT_TENANT_ID
    api_keys: list[ApiKeySeed] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)
    custom_profile_fields: list[CustomProfileFieldSeed] = Field(default_factory=list)
    custom_profile_field_values: list[CustomProfileFieldValueSeed] = Field(default_factory=list)
    program_signups: list[ProgramSignupSeed] = Field(default_factory=list)
    user_memberships: list[UserMembershipSeed] = Field(default_factory=list)
    transactions: list[TransactionSeed] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_references(self) -> SandboxSeed:
        _check_consistency(self)
        return self


def full_name(first_name: str | None, last_name: str | None) -> str:
    """The ``name`` Communal derives from first and last name."""
    return " ".join(part for part in (first_name, last_name) if part)


def _unique(kind: str, values: list[Any], where: str = "") -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{kind} {value!r} appears more than once{where}")
        seen.add(value)


def _check_consistency(seed: SandboxSeed) -> None:
    _unique("api key", [k.key for k in seed.api_keys])
    _unique("user id", [u.id for u in seed.users])
    for tenant in sorted({u.tenant_id or 0 for u in seed.users}):
        emails = [
            u.email.casefold() for u in seed.users if u.email and (u.tenant_id or 0) == tenant
        ]
        _unique("email (case-insensitive)", emails, f" in tenant {tenant}" if tenant else "")
    _unique("custom profile field id", [f.id for f in seed.custom_profile_fields])
    _unique("custom profile field value id", [v.id for v in seed.custom_profile_field_values])
    _unique(
        "custom profile field value for (user_id, custom_profile_field_id)",
        [(v.user_id, v.custom_profile_field_id) for v in seed.custom_profile_field_values],
    )
    _unique("program signup id", [s.id for s in seed.program_signups])
    _unique("user membership id", [m.id for m in seed.user_memberships])
    _unique("transaction id", [t.id for t in seed.transactions])
    users = {u.id: u for u in seed.users}
    fields = {f.id for f in seed.custom_profile_fields}
    for key in seed.api_keys:
        if key.user_id is not None and key.user_id not in users:
            raise ValueError(f"api key for user_id {key.user_id}: no such user in 'users'")
    for value in seed.custom_profile_field_values:
        if value.user_id not in users:
            raise ValueError(f"custom profile field value {value.id}: no user {value.user_id}")
        if value.custom_profile_field_id not in fields:
            raise ValueError(
                f"custom profile field value {value.id}: "
                f"no custom profile field {value.custom_profile_field_id}"
            )
    for signup in seed.program_signups:
        if signup.user_id is None:
            continue
        user = users.get(signup.user_id)
        if user is None:
            raise ValueError(f"program signup {signup.id}: no user {signup.user_id}")
        if "associated_email" not in signup.model_fields_set:
            signup.associated_email = user.email
        if "associated_name" not in signup.model_fields_set:
            signup.associated_name = user.name
    for membership in seed.user_memberships:
        if membership.user_id not in users:
            raise ValueError(f"user membership {membership.id}: no user {membership.user_id}")
    for transaction in seed.transactions:
        owner = transaction.owner
        if owner is not None and owner.user_id is None and (owner.id is None or not owner.name):
            raise ValueError(
                f"transaction {transaction.id}: an owner that is no user (an account, guest or "
                "organization) needs its own id and name"
            )
        if owner is None or owner.user_id is None:
            continue
        user = users.get(owner.user_id)
        if user is None:
            raise ValueError(f"transaction {transaction.id}: no user {owner.user_id}")
        # A user's own transaction: the owner is the user, as Communal names it.
        if "id" not in owner.model_fields_set:
            owner.id = user.id
        if "email" not in owner.model_fields_set:
            owner.email = user.email
        if "name" not in owner.model_fields_set:
            owner.name = user.name


def parse_seed(data: Any, *, source: str = "seed") -> SandboxSeed:
    """Validate seed data (already parsed JSON); InputError naming ``source`` and the problem."""
    if isinstance(data, SandboxSeed):
        return data
    try:
        return SandboxSeed.model_validate(data)
    except ValidationError as error:
        raise InputError(
            f"not a valid sandbox seed: {_describe(error)}",
            file=source,
            hint="Fix the seed file; `GET /_sandbox/state` shows the expected format.",
        ) from None


def load_seed(path: Path) -> SandboxSeed:
    """Read and validate a seed file; InputError (file, what is wrong) if it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(f"cannot read the seed file: {error.strerror}.", file=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"the seed is not valid JSON: {error.msg} at line {error.lineno}.",
            file=str(path),
            hint="Fix the JSON syntax.",
        ) from None
    return parse_seed(data, source=str(path))


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    more = error.error_count() - len(problems)
    text = "; ".join(problems)
    return text + (f" (and {more} more)" if more > 0 else "") + "."
