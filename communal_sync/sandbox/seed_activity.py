"""Seed records of what members do: memberships held and transactions paid (2026-08-25).

Kept apart from the profile records in ``seed`` because only API version 2026-08-25 shows
them (``GET /user_memberships``, ``GET /transactions``). Field names and types follow the
version's ``UserMembershipResource`` and ``TransactionResource.owner``.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from communal_sync.sandbox.seed_time import DEFAULT_TIMESTAMP, normalize_timestamp

Id = Annotated[int, Field(ge=1)]
DEFAULT_MEMBERSHIP_TYPE: Final = {"id": 1, "title": "Membership"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MembershipTypeSeed(_Strict):
    """The membership type a membership is of: ``{id, title}``, always loaded."""

    id: Id
    title: str = Field(min_length=1)


class PricingPlanSeed(_Strict):
    """A membership's pricing plan; ``amount`` in the smallest currency unit."""

    id: Id
    nickname: str | None = None
    amount: int = 0
    interval: str = "year"


class UserMembershipSeed(_Strict):
    """One membership a user holds; a user may hold several, expired ones included.

    ``ends_at`` in the past makes it expired; ``status`` is free text as in the API
    (``active``, ``retrying``, ``expired``, ``cancelled``...).
    """

    id: Id
    user_id: Id
    status: str = "active"
    will_auto_renew: bool = False
    ends_at: str | None = None
    renewed_at: str | None = None
    created_at: str | None = DEFAULT_TIMESTAMP
    membership_type: MembershipTypeSeed = Field(
        default_factory=lambda: MembershipTypeSeed(**DEFAULT_MEMBERSHIP_TYPE)
    )
    plan: PricingPlanSeed | None = None

    @field_validator("ends_at", "renewed_at", "created_at")
    @classmethod
    def _normalize(cls, value: str | None) -> str | None:
        return None if value is None else normalize_timestamp(value)


class TransactionOwnerSeed(_Strict):
    """Who paid: a user (``user_id``; email and name default to the user's), or an
    account, guest or organization (its own ``id`` and contact email; ``user_id`` the
    user behind it, or null for a guest)."""

    id: Id | None = None
    user_id: Id | None = None
    email: str | None = None
    name: str | None = None


class TransactionSeed(_Strict):
    """A transaction; ``GET /transactions?filter[query]=`` searches its owner."""

    id: Id
    type: str = "membership"
    amount: int = 0
    created_at: str = DEFAULT_TIMESTAMP
    owner: TransactionOwnerSeed | None = None

    @field_validator("created_at")
    @classmethod
    def _normalize(cls, value: str) -> str:
        return normalize_timestamp(value)
