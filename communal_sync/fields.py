"""The Communal profile fields communal-sync knows, in the order reports show them.

One definition, ``ProfileFields``: the API's ``User`` model and the validated
``ProfileRow`` both inherit it, and every list of names below is derived from it, so the
reader, mapper, validator, planner and sandbox agree.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel


class ProfileFields(BaseModel):
    """Every standard field a ``PUT /users/{id}`` can carry, in report order, as text.

    ``None`` is "no value". The first three are required in every PUT body; the rest are
    nullable (omitted means unchanged, ``null`` clears).
    """

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    middle_name: str | None = None
    preferred_name: str | None = None
    telephone: str | None = None
    date_of_birth: str | None = None
    profile_address: str | None = None
    profile_address_line_2: str | None = None
    profile_city: str | None = None
    profile_state: str | None = None
    profile_zip: str | None = None
    profile_country: str | None = None


PROFILE_FIELDS: Final[tuple[str, ...]] = tuple(ProfileFields.model_fields)
"""Every standard field a PUT can carry."""

REQUIRED_FIELDS: Final[tuple[str, ...]] = PROFILE_FIELDS[:3]
"""Must be in every row and every PUT body; never cleared."""

OPTIONAL_FIELDS: Final[tuple[str, ...]] = PROFILE_FIELDS[3:]
"""Nullable in ``PUT /users/{id}``: omitted means unchanged, ``null`` clears."""

ADDRESS_FIELDS: Final[tuple[str, ...]] = tuple(
    name for name in PROFILE_FIELDS if name.startswith("profile_")
)
"""Returned by PUT (``User``) but not by GET (``UserResource``): known only from a snapshot."""

KEY_FIELDS: Final = ("id", "external_id")
"""Identify a row's Communal user; never sent as profile values."""

MAPPABLE_FIELDS: Final = PROFILE_FIELDS + KEY_FIELDS
"""Every field a column can map to, besides ``custom:<name>``."""

CUSTOM_PREFIX: Final = "custom:"
"""A column mapped to ``custom:<name>`` carries a custom profile field's value."""

NAME_MAX_LENGTH: Final = 255


def is_custom(field: str) -> bool:
    """Whether ``field`` names a custom profile field (``custom:<name>``)."""
    return field.startswith(CUSTOM_PREFIX)


def custom_name(field: str) -> str:
    """The custom profile field's name in ``custom:<name>``."""
    return field[len(CUSTOM_PREFIX) :]


MAX_USER_ID: Final = 2**63 - 1
"""The largest user id the state file can hold (a SQLite INTEGER); Communal's are far below."""


def user_id_of(text: str) -> int | None:
    """The Communal user id a cell holds, or None when it holds none.

    An id is ASCII digits (spaces around them aside) for a number from 1 to
    ``MAX_USER_ID``. Anything else is no id: a zero-width space or a byte-order mark inside
    (``\\ufeff101`` would be 101 to the eye, and another row's 101 to nobody), full-width
    digits, or a number no SQLite integer holds (never converted: 5,000 digits would be).
    """
    digits = text.strip(" \t\r\n")
    if not (digits.isascii() and digits.isdigit()):
        return None
    significant = digits.lstrip("0")
    if not significant or len(significant) > len(str(MAX_USER_ID)):
        return None
    value = int(significant)
    return value if value <= MAX_USER_ID else None
