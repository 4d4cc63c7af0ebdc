"""Laravel-style validation of write bodies: the sandbox's 422s, with Laravel's wording.

Input goes through what Laravel's default middleware does first (TrimStrings, then
ConvertEmptyStringsToNull), so ``"  "`` arrives as ``null``. Each field collects every
failing rule's message, except that a failed ``required`` stops that field, as in Laravel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import pycountry

from communal_sync.fields import NAME_MAX_LENGTH, OPTIONAL_FIELDS, REQUIRED_FIELDS
from communal_sync.sandbox.seed_time import normalize_birth_date
from communal_sync.sandbox.store import Record, Store

Errors = dict[str, list[str]]

EMAIL_PATTERN: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MAX_LENGTH_FIELDS: Final = ("first_name", "last_name", "middle_name", "preferred_name", "email")
COUNTRY_CODE_LENGTH: Final = 2


def prepare_input(body: Any) -> Record:
    """Trim strings and turn empty strings into null, as Laravel's middleware does.

    A body that is not a JSON object is treated as empty, as Laravel treats a malformed one.
    """
    if not isinstance(body, dict):
        return {}
    prepared: Record = {}
    for key, value in body.items():
        if isinstance(value, str):
            value = value.strip() or None
        prepared[str(key)] = value
    return prepared


def attribute(field: str) -> str:
    """Laravel's display name for a field: underscores become spaces."""
    return field.replace("_", " ")


def summarize(errors: Errors) -> str:
    """Laravel's top-level 422 message: the first error and how many more there are."""
    messages = [message for field_messages in errors.values() for message in field_messages]
    more = len(messages) - 1
    if more <= 0:
        return messages[0]
    noun = "error" if more == 1 else "errors"
    return f"{messages[0]} (and {more} more {noun})"


def validate_user_update(body: Record, user_id: int, store: Store) -> tuple[Record, Errors]:
    """Check a ``PUT /users/{id}`` body; return the profile changes to apply, or the errors.

    Only the profile fields are taken: ``name`` is derived and anything else is ignored.
    Omitted optional fields are left out of the changes; ``null`` clears.
    """
    errors: Errors = {}
    changes: Record = {}
    for field in REQUIRED_FIELDS:
        value = body.get(field)
        if value is None:
            _add(errors, field, f"The {attribute(field)} field is required.")
            continue
        if _check_text(errors, field, value):
            changes[field] = value
    email = changes.get("email")
    if isinstance(email, str) and "email" not in errors:
        if not EMAIL_PATTERN.match(email):
            _add(errors, "email", "The email field must be a valid email address.")
        elif store.email_taken(email, except_user=user_id):
            _add(errors, "email", "The email has already been taken.")
    for field in OPTIONAL_FIELDS:
        if field not in body:
            continue
        value = body[field]
        if value is None:
            changes[field] = None
        elif _check_text(errors, field, value):
            changes[field] = _convert(field, value, errors)
    return ({}, errors) if errors else (changes, {})


def _check_text(errors: Errors, field: str, value: Any) -> bool:
    if not isinstance(value, str):
        _add(errors, field, f"The {attribute(field)} field must be a string.")
        return False
    if field in MAX_LENGTH_FIELDS and len(value) > NAME_MAX_LENGTH:
        _add(
            errors,
            field,
            f"The {attribute(field)} field must not be greater than {NAME_MAX_LENGTH} characters.",
        )
        return False
    return True


def _convert(field: str, value: str, errors: Errors) -> str | None:
    converter = _CONVERTERS.get(field)
    if converter is None:
        return value
    converted, message = converter(value)
    if message is not None:
        _add(errors, field, message)
    return converted


def _convert_birth_date(value: str) -> tuple[str | None, str | None]:
    try:
        return normalize_birth_date(value), None
    except ValueError:
        return None, "The date of birth field must be a valid date."


def _convert_country(value: str) -> tuple[str | None, str | None]:
    if len(value) != COUNTRY_CODE_LENGTH:
        return None, f"The profile country field must be {COUNTRY_CODE_LENGTH} characters."
    if pycountry.countries.get(alpha_2=value.upper()) is None:
        return None, "The selected profile country is invalid."
    return value, None


_CONVERTERS: Final[dict[str, Callable[[str], tuple[str | None, str | None]]]] = {
    "date_of_birth": _convert_birth_date,
    "profile_country": _convert_country,
}


def validate_value_write(body: Record, store: Store) -> tuple[int, int, str | None, Errors]:
    """Check a custom profile field value body; return (user_id, field_id, value, errors).

    ``value`` is None when the write clears the field (empty or null value).
    """
    errors: Errors = {}
    user_id = _existing_id(body, "user_id", errors, lambda i: i in store.users)
    field_id = _existing_id(
        body, "custom_profile_field_id", errors, lambda i: store.live_field(i) is not None
    )
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        _add(errors, "value", "The value field must be a string.")
        value = None
    return user_id, field_id, value, errors


def _existing_id(body: Record, field: str, errors: Errors, exists: Callable[[int], bool]) -> int:
    value = body.get(field)
    name = attribute(field)
    if value is None:
        _add(errors, field, f"The {name} field is required.")
    elif not _is_integer(value):
        _add(errors, field, f"The {name} field must be an integer.")
    elif not exists(int(value)):
        _add(errors, field, f"The selected {name} is invalid.")
    else:
        return int(value)
    return 0


def _is_integer(value: Any) -> bool:
    """Laravel's ``integer`` rule: an int (not a bool) or a string of digits."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def as_e164(telephone: str, region: str) -> str:
    """``telephone`` as E.164 ("+14165550101"), reading a number without a country code in
    ``region``; a number that does not parse is kept as sent, as a lenient API would."""
    import phonenumbers

    try:
        number = phonenumbers.parse(telephone, region)
    except phonenumbers.NumberParseException:
        return telephone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
