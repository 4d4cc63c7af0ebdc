"""How the sandbox renders records: the spec's resource shapes and Laravel's pagination.

Every shape follows the OpenAPI document of the version asked for, so contract tests can
validate each response: 2026-03-25 (and the older 2026-02-01), or 2026-08-25, whose
``UserResource`` sends absent dates as ``null``, whose ``User`` adds ``two_factor_enabled``
and whose signups say when and by whom they were cancelled. Two places where the
documents are narrower than a working API are decided here:

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
VERSION_2026_08_25: Final = "2026-08-25"
"""The version that added memberships, transactions and the fields below."""
NULLABLE_DATES: Final = frozenset({"date_of_birth", "created_at", "updated_at"})
"""``UserResource`` dates that 2026-08-25 sends as ``null`` when absent (not ``""``)."""
NEW_USER_FIELDS: Final = frozenset({"two_factor_enabled"})
"""``User`` fields 2026-08-25 added; older versions do not send them."""
NEW_SIGNUP_FIELDS: Final = frozenset({"cancelled_at", "cancellation_actor"})
"""``ProgramSignupResource`` fields 2026-08-25 added (both required there)."""

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


def is_2026_08_25(version: str) -> bool:
    """Whether ``version`` has the 2026-08-25 shapes (versions are dates: they sort)."""
    return version >= VERSION_2026_08_25


def render_user(user: Record, version: str = VERSION_2026_08_25) -> Record:
    """The full ``User`` that ``PUT /users/{id}`` returns, address fields included."""
    if is_2026_08_25(version):
        return dict(user)
    return {k: v for k, v in user.items() if k not in NEW_USER_FIELDS}


def render_user_resource(user: Record, version: str = VERSION_2026_08_25) -> Record:
    """The ``UserResource`` that ``GET /users/{id}`` returns: strings only, no address.

    From 2026-08-25 an absent date of birth, ``created_at`` or ``updated_at`` is ``null``.
    """
    nullable = NULLABLE_DATES if is_2026_08_25(version) else frozenset()
    rendered: Record = {"id": str(user["id"])}
    for field in USER_RESOURCE_FIELDS:
        value = user.get(field)
        if value is None:
            rendered[field] = None if field in nullable else ""
        else:
            rendered[field] = str(value)
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


def render_signup(
    signup: Record, user: Record | None = None, version: str = VERSION_2026_08_25
) -> Record:
    """A ``ProgramSignupResource``; the user (as a ``UserResource``) only when included."""
    new = is_2026_08_25(version)
    rendered = {k: v for k, v in signup.items() if new or k not in NEW_SIGNUP_FIELDS}
    if user is not None:
        rendered["user"] = render_user_resource(user, version)
    return rendered


def render_membership(membership: Record) -> Record:
    """A ``UserMembershipResource``: its type and pricing plan are always loaded."""
    return dict(membership)


def render_transaction(transaction: Record) -> Record:
    """A ``TransactionResource`` as the sandbox knows it: id, type, amount, owner."""
    return dict(transaction)


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
