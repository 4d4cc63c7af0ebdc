"""Reading a request's query string as Laravel would: filters, includes, pages, their 422s.

Shared by every list endpoint of the sandbox. Messages use Laravel's wording and its
dotted attribute names (``filter[user_id]`` is ``filter.user_id``, ``page[size]`` is
``page.size``), so a client sees the errors the real API gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from communal_sync.sandbox.reply import Reply
from communal_sync.sandbox.rules import Errors, summarize
from communal_sync.sandbox.seed_time import parse_timestamp
from communal_sync.sandbox.store import Caller, Record

UNAUTHORIZED: Final = "This action is unauthorized."
DEFAULT_PAGE_SIZE: Final = 15
"""Laravel's default page size, used when a ``page[size]`` list is asked without one."""
TRUE_VALUES: Final = frozenset({"1", "true"})
FALSE_VALUES: Final = frozenset({"0", "false"})


def includes(query: Mapping[str, str]) -> set[str]:
    """The relations named by ``include=a,b``."""
    return {part.strip() for part in query.get("include", "").split(",") if part.strip()}


def id_filters(
    query: Mapping[str, str], names: tuple[str, ...], *, lists: bool = True
) -> tuple[dict[str, set[int]], Errors]:
    """``filter[name]=1,2`` as sets of ids; a non-integer is a 422 naming the filter.

    With ``lists`` False a comma list is refused too (the filter takes one integer).
    """
    filters: dict[str, set[int]] = {}
    errors: Errors = {}
    for name in names:
        raw = query.get(f"filter[{name}]")
        if raw is None or not raw.strip():
            continue
        parts = [part.strip() for part in raw.split(",")] if lists else [raw.strip()]
        if not all(part.isdigit() for part in parts):
            errors[f"filter.{name}"] = [f"The filter.{name} field must be an integer."]
            continue
        filters[name] = {int(part) for part in parts}
    return filters, errors


def boolean_filter(query: Mapping[str, str], name: str, errors: Errors) -> bool | None:
    """``filter[name]`` as a boolean (1/0/true/false), None when absent; else a 422."""
    raw = query.get(f"filter[{name}]")
    if raw is None or not raw.strip():
        return None
    text = raw.strip().lower()
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    errors[f"filter.{name}"] = [f"The filter.{name} field must be true or false."]
    return None


def date_filter(query: Mapping[str, str], name: str, errors: Errors) -> datetime | None:
    """``filter[name]`` as a date-time, None when absent; else a 422."""
    raw = query.get(f"filter[{name}]")
    if raw is None or not raw.strip():
        return None
    try:
        return parse_timestamp(raw.strip())
    except ValueError:
        errors[f"filter.{name}"] = [f"The filter.{name} field must be a valid date."]
        return None


def json_api_page(
    items: Sequence[Any], query: Mapping[str, str], *, max_size: int | None = None
) -> Reply:
    """A Laravel length-aware page chosen by ``page[number]`` and ``page[size]``.

    Both must be integers of at least 1, and ``page[size]`` at most ``max_size`` when
    there is one: otherwise Laravel's 422, naming each parameter at fault.
    """
    errors: Errors = {}
    number = _page_parameter(query, "number", errors, None)
    size = _page_parameter(query, "size", errors, max_size)
    if errors:
        return invalid(errors)
    return Reply.json(200, laravel_page(items, number or 1, size or DEFAULT_PAGE_SIZE))


def laravel_page(items: Sequence[Any], page: int, per_page: int) -> Record:
    """The envelope: ``data`` and every count at the top level, ``from``/``to`` null when
    the page is past the end, as Laravel does."""
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


def _page_parameter(
    query: Mapping[str, str], name: str, errors: Errors, maximum: int | None
) -> int | None:
    raw = query.get(f"page[{name}]")
    if raw is None or not raw.strip():
        return None
    attribute = f"page.{name}"
    text = raw.strip()
    if not text.lstrip("-").isdigit():
        errors[attribute] = [f"The {attribute} field must be an integer."]
        return None
    value = int(text)
    if value < 1:
        errors[attribute] = [f"The {attribute} field must be at least 1."]
    elif maximum is not None and value > maximum:
        errors[attribute] = [f"The {attribute} field must not be greater than {maximum}."]
    else:
        return value
    return None


def invalid(errors: Errors) -> Reply:
    """Laravel's 422: the first message (and how many more), and every field's messages."""
    return Reply.json(422, {"message": summarize(errors), "errors": errors})


def visible_users(caller: Caller, users: set[int] | None) -> set[int] | Reply | None:
    """The users a list may show: a member key sees only itself (403 for asking others)."""
    if caller.manager:
        return users
    if users is not None and users != {caller.user_id}:
        return Reply.message(403, UNAUTHORIZED)
    return {caller.user_id} if caller.user_id is not None else set()
