"""The API's resources as pydantic models, tolerant of fields the API adds later.

Every model keeps unknown fields (``extra="allow"``) and every field but ``id`` is
optional, because the two user shapes differ: ``GET /users/{id}`` returns a
``UserResource`` without the address fields, ``PUT`` returns the full ``User``. Which
fields the API actually sent is kept: ``provided_fields()`` tells "absent" from "null",
and ``raw()`` gives back the JSON object exactly as received (values stay text).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

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

    The profile fields come from ``fields.ProfileFields``; these are the API's own.
    """

    id: int
    tenant_id: int | None = None
    name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


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

    @field_validator("user", mode="before")
    @classmethod
    def _drop_non_object_user(cls, value: object) -> object:
        # The spec types ``user`` as a string; only an embedded object is useful to us.
        return value if isinstance(value, dict) else None
