"""The Communal profile fields communal-sync knows, in the order reports show them.

One place for the names, so the reader, mapper, validator, planner and sandbox agree.
"""

from __future__ import annotations

from typing import Final

REQUIRED_FIELDS: Final = ("first_name", "last_name", "email")
"""Must be in every row and every PUT body; never cleared."""

OPTIONAL_FIELDS: Final = (
    "middle_name",
    "preferred_name",
    "telephone",
    "date_of_birth",
    "profile_address",
    "profile_address_line_2",
    "profile_city",
    "profile_state",
    "profile_zip",
    "profile_country",
)
"""Nullable in ``PUT /users/{id}``: omitted means unchanged, ``null`` clears."""

PROFILE_FIELDS: Final = REQUIRED_FIELDS + OPTIONAL_FIELDS
"""Every standard field a PUT can carry."""

ADDRESS_FIELDS: Final = (
    "profile_address",
    "profile_address_line_2",
    "profile_city",
    "profile_state",
    "profile_zip",
    "profile_country",
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
