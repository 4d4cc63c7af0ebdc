"""How the sandbox renders records: the spec's resource shapes and Laravel's pagination.

Every shape follows the OpenAPI document (2026-03-25) so contract tests can validate each
response. Two places where the document is narrower than a working API are decided here:

- ``UserResource`` types every field as a non-nullable string (``id`` included), so the
  sandbox sends ``id`` as a string and an absent value as ``""``: clients must accept both
  ``"12"`` and ``12``, and treat ``""`` like ``null``.
- Relations embedded with ``include=`` (``user`` on a signup, ``custom_profile_field`` on a
  value) are typed ``string`` by the document but are objects, as Laravel embeds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from communal_sync.sandbox.store import Record

DEFAULT_PER_PAGE: Final = 15
MAX_PER_PAGE: Final = 100

USER_RESOURCE_FIELDS: Final = (
    "name",
    "email",
    "telephone",
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "created_at",
    "updated_at",
)
"""``UserResource`` besides ``id``: no address fields (``ADDRESS_FIELDS``), unlike ``User``."""


def render_user(user: Record) -> Record:
    """The full ``User`` that ``PUT /users/{id}`` returns, address fields included."""
    return dict(user)


def render_user_resource(user: Record) -> Record:
    """The ``UserResource`` that ``GET /users/{id}`` returns: strings only, no address."""
    rendered: Record = {"id": str(user["id"])}
    for field in USER_RESOURCE_FIELDS:
        value = user.get(field)
        rendered[field] = "" if value is None else str(value)
    return rendered


def render_field(field: Record, values: Sequence[Record] | None = None) -> Record:
    """A ``CustomProfileFieldResource``; ``values`` embedded only when included."""
    rendered = dict(field)
    if values is not None:
        rendered["values"] = [render_value(v) for v in values]
    return rendered


def render_value(value: Record, field: Record | None = None) -> Record:
    """A ``CustomProfileFieldValueResource``; its field embedded only when included."""
    rendered = dict(value)
    if field is not None:
        rendered["custom_profile_field"] = render_field(field)
    return rendered


def render_signup(signup: Record, user: Record | None = None) -> Record:
    """A ``ProgramSignupResource``; the user (as a ``UserResource``) only when included."""
    rendered = dict(signup)
    if user is not None:
        rendered["user"] = render_user_resource(user)
    return rendered


def _positive_int(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    number = int(text)
    return number if number >= 1 else None


def paginate(items: Sequence[Any], query: Mapping[str, str]) -> Record:
    """Laravel's length-aware page: ``?page=N`` (bad or missing: 1), ``?per_page`` up to 100.

    A page past the end is empty, with ``from`` and ``to`` null, as Laravel does.
    """
    page = _positive_int(query.get("page")) or 1
    per_page = min(_positive_int(query.get("per_page")) or DEFAULT_PER_PAGE, MAX_PER_PAGE)
    total = len(items)
    start = (page - 1) * per_page
    chunk = list(items[start : start + per_page])
    return {
        "data": chunk,
        "current_page": page,
        "from": start + 1 if chunk else None,
        "last_page": max(1, -(-total // per_page)),
        "per_page": per_page,
        "to": start + len(chunk) if chunk else None,
        "total": total,
    }
