"""What Communal holds now for one user, field by field, and how we know it.

``GET /users/{id}`` returns names, email, telephone and date of birth, but no address: for
those the only source is the full ``User`` our last successful PUT returned (the snapshot).
A field neither provides is *unknown*, and the plan says so instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from communal_sync.api.models import User
from communal_sync.plan import UNKNOWN, CurrentValue


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def current_record(
    fields: Iterable[str],
    live: User | None,
    snapshot_user: Mapping[str, Any] | None,
    snapshot_at: str | None = None,
) -> dict[str, CurrentValue]:
    """Each of ``fields`` with its current value and provenance: live, snapshot or unknown.

    A field the live response carries (even as null) is live. Otherwise the snapshot's
    value is used, marked as such (with ``snapshot_at``, the date of that push), because
    Communal may have changed it since.
    """
    provided = live.model_fields_set if live is not None else frozenset()
    extra = (live.model_extra if live is not None else None) or {}
    record: dict[str, CurrentValue] = {}
    for name in fields:
        if name in provided:
            # what ``live.raw()`` holds for it, without dumping the whole record per call
            value = extra[name] if name in extra else getattr(live, name, None)
            record[name] = CurrentValue(_text(value), "live")
        elif snapshot_user is not None and name in snapshot_user:
            record[name] = CurrentValue(_text(snapshot_user[name]), "snapshot", as_of=snapshot_at)
        else:
            record[name] = UNKNOWN
    return record
