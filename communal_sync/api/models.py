"""The API's resources as pydantic models, tolerant of fields the API adds later.

Every model keeps unknown fields (``extra="allow"``) and every field but ``id`` is
optional, because the two user shapes differ: ``GET /users/{id}`` returns a
``UserResource`` without the address fields, ``PUT`` returns the full ``User``. Which
fields the API actually sent is kept: ``provided_fields()`` tells "absent" from "null",
and ``raw()`` gives back the JSON object exactly as received (values stay text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from communal_sync.errors import UnexpectedResponse
from communal_sync.fields import ProfileFields


class ApiModel(BaseModel):
    """Base of the API resources: unknown fields kept, numbers accepted where text is due."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    def provided_fields(self) -> frozenset[str]:
        """The names the API sent in this object, nulls included, absent fields excluded."""
        return frozenset(self.model_fields_set)

    def raw(self) -> dict[str, Any]:
        """The object as the API sent it: only the fields present, nulls kept."""
        return self.model_dump(mode="json", exclude_unset=True)


class User(ApiModel, ProfileFields):
    """A Communal user: ``UserResource`` from GET, or the full ``User`` from PUT.

    The profile fields come from ``fields.ProfileFields``; these are the API's own. From
    2026-08-25 ``UserResource`` may send ``date_of_birth``, ``created_at`` and
    ``updated_at`` as null (2026-03-25 sends ``""``): both mean "no value".
    """

    id: int
    tenant_id: int | None = None
    name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    """Nullable from 2026-08-25: a record without one cannot say whether it changed."""
    # Fields this tool never reads, such as ``two_factor_enabled`` (new in 2026-08-25's
    # ``User``), are kept as extra fields: in ``raw()``, the snapshot and the journal.


class CustomProfileField(ApiModel):
    """The definition of a custom profile field (``CustomProfileFieldResource``)."""

    id: int
    name: str | None = None
    tenant_id: int | None = None
    user_editable: bool | None = None
    locked: bool | None = None
    parent_profile_field_id: int | None = None
    deleted_at: str | None = None


class CustomProfileFieldValue(ApiModel):
    """One user's value of one custom field (``CustomProfileFieldValueResource``)."""

    id: int
    value: str | None = None
    user_id: int | None = None
    custom_profile_field_id: int | None = None
    tenant_id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    deleted_at: str | None = None


class ProgramSignup(ApiModel):
    """A signup to a program: the only documented link from an email to a user id."""

    id: int
    user_id: int | None = None
    program_id: int | None = None
    associated_email: str | None = None
    associated_name: str | None = None
    user: User | None = None
    """The signup's user, embedded by ``include=user``."""

    cancelled_at: str | None = None
    """From 2026-08-25: set when the signup was cancelled on purpose."""
    cancellation_actor: str | None = None

    @field_validator("user", mode="before")
    @classmethod
    def _drop_non_object_user(cls, value: object) -> object:
        # The spec types ``user`` as a string; only an embedded object is useful to us.
        return value if isinstance(value, dict) else None


class UserMembership(ApiModel):
    """One membership a member holds (``UserMembershipResource``, from 2026-08-25).

    It names the member only by ``user_id``: no name or email, so joining it to a person
    takes a ``GET /users/{id}``.
    """

    id: int
    user_id: int
    status: str | None = None
    will_auto_renew: bool | None = None
    ends_at: str | None = None
    renewed_at: str | None = None
    created_at: str | None = None


class TransactionOwner(ApiModel):
    """Who a transaction belongs to: a user, or an account, guest or organization.

    ``id`` is the owner's own id, never a user id; ``user_id`` is the user behind it, if
    any, and ``email`` is the owner's (an account's contact address is not its user's).
    """

    id: int | None = None
    user_id: int | None = None
    email: str | None = None
    name: str | None = None


class Transaction(ApiModel):
    """A payment record (``TransactionResource``, from 2026-08-25), as far as we read it."""

    id: int
    owner: TransactionOwner | None = None


@dataclass(frozen=True)
class MembershipPage:
    """One page of ``GET /user_memberships``, with where it sits in the whole list.

    ``first_position`` is the 0-based position of its first membership in the list (from
    Laravel's ``from``, else from the page number and size), so a later run can tell
    whether the list still starts the way it did.
    """

    memberships: list[UserMembership]
    number: int
    last_page: int
    per_page: int
    total: int | None
    first_position: int


M = TypeVar("M", bound=ApiModel)


def parse_model(model: type[M], data: object, subject: str) -> M:
    """``data`` as a ``model``; an ``UnexpectedResponse`` naming ``subject`` and the fields
    that do not fit when the API sent something else."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise UnexpectedResponse(
            f"The API answered {subject} with a {model.__name__} we cannot read ({problems})."
        ) from None
