"""Turning HTTP responses into JSON values or into the documented exceptions.

Pure functions of an ``httpx.Response``: no I/O, no retries. Messages quote at most a
short excerpt of a body and never a header, and every piece of server text passes
through ``redact`` so a key echoed back by a proxy is masked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

from communal_sync.api.models import MembershipPage, UserMembership, parse_model
from communal_sync.api.settings import KNOWN_API_VERSIONS
from communal_sync.errors import (
    ApiError,
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    Unauthenticated,
    UnexpectedResponse,
    UnsupportedVersion,
)

Redactor = Callable[[str], str]

EXCERPT_LENGTH: Final = 200
UNAUTHENTICATED_MESSAGE: Final = (
    "The API key was not accepted (401). Check COMMUNAL_API_KEY or --api-key-file."
)
VERSION_WARNING_HEADER: Final = "X-Api-Version-Warning"
SUNSET_HEADER: Final = "Sunset"
SERVED_VERSION_HEADER: Final = "X-Api-Version"
VERSION_SOURCE_HEADER: Final = "X-Api-Version-Source"
CURRENT_VERSION_FIX: Final = "Pass --api-version with a current version."


@dataclass(frozen=True)
class Page:
    """One page of a Laravel-paginated list.

    ``first`` is the 1-based position of its first item in the whole list (Laravel's
    ``from``), ``total`` the length of the whole list: None when the page did not say.
    """

    items: list[Any]
    current_page: int
    last_page: int
    per_page: int | None = None
    total: int | None = None
    first: int | None = None


MAX_LISTED_MEMBERSHIPS: Final = 10_000_000
"""More memberships than any organization holds: a page claiming more is not believed."""


def excerpt(text: str, redact: Redactor) -> str:
    """The start of ``text`` on one line, short enough for an error message."""
    flat = " ".join(redact(text).split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[:EXCERPT_LENGTH] + "…"


def decode_json(response: httpx.Response, subject: str, redact: Redactor) -> Any:
    """The response body as JSON; HTML, truncated or empty bodies are UnexpectedResponse."""
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = response.content.decode("utf-8", errors="replace")
        shown = excerpt(body, redact) or "an empty body"
        raise UnexpectedResponse(
            f"The API answered {subject} with {response.status_code} and a body that is not "
            f"JSON: {shown!r}. Check the base URL (COMMUNAL_BASE_URL).",
            status=response.status_code,
        ) from None


def check_status(
    response: httpx.Response, subject: str, redact: Redactor, now: Callable[[], float] = time.time
) -> None:
    """Raise the documented exception for a non-2xx ``response``; return for a 2xx.

    ``subject`` names what was asked for ("user 42"), so a 404 says which record is missing.
    """
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now())
        wait = f" Retry after {retry_after:g}s." if retry_after is not None else ""
        raise RateLimited(
            f"The API is throttling requests (429) for {subject}.{wait} "
            "Lower --concurrency or try again later.",
            retry_after=retry_after,
        )
    if status >= 500:
        raise ServerError(
            f"The API failed on its side ({status}) for {subject}. Try again later.",
            status=status,
        )
    body = _error_body(response)
    server_text = excerpt(_message_of(body), redact)
    said = f" The API said: {server_text!r}." if server_text else ""
    if status == 401:
        raise Unauthenticated(UNAUTHENTICATED_MESSAGE, status=401)
    if status == 403:
        raise Forbidden(
            f"The API key may not access {subject} (403).{said} "
            "A member key can only read and update its own user: use a manager key, or a "
            "file that holds only the key's own row.",
            status=403,
        )
    if status == 404:
        raise NotFound(
            f"The API found no {subject} (404). Check the id, and that the key belongs "
            "to the right organization.",
            status=404,
        )
    if status == 422:
        raise _rejected(body, subject, redact)
    if status == 400 and isinstance(body, Mapping) and "supported_versions" in body:
        raise _unsupported_version(body, redact)
    raise UnexpectedResponse(
        f"The API answered {subject} with an undocumented status {status}.{said} "
        "Check the base URL (COMMUNAL_BASE_URL) and --api-version.",
        status=status,
    )


def unwrap_resource(body: Any, subject: str) -> dict[str, Any]:
    """A single resource, given bare or wrapped in ``{"data": {...}}``."""
    if isinstance(body, Mapping):
        inner = body.get("data")
        if isinstance(inner, Mapping) and "id" not in body:
            return dict(inner)
        return dict(body)
    raise UnexpectedResponse(
        f"The API answered {subject} with JSON that is not an object ({type(body).__name__})."
    )


def parse_page(body: Any, subject: str, page: int) -> Page:
    """Read a Laravel page ``{data, current_page, last_page, ...}`` (or a bare list)."""
    if isinstance(body, list):
        return Page(items=body, current_page=page, last_page=page)
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise UnexpectedResponse(
            f"The API answered {subject} without a 'data' list; it does not look like a page."
        )
    current = body.get("current_page", page)
    last = body.get("last_page", current)
    if not _is_int(current) or not _is_int(last):
        raise UnexpectedResponse(
            f"The API answered {subject} with page numbers that are not integers."
        )
    return Page(
        items=list(body["data"]),
        current_page=current,
        last_page=last,
        per_page=_int_or_none(body.get("per_page")),
        total=_int_or_none(body.get("total")),
        first=_int_or_none(body.get("from")),
    )


def parse_membership_page(body: Any, subject: str, page: int, size: int) -> MembershipPage:
    """One page of ``GET /user_memberships``, each row placed in the whole list.

    A page that does not say where it starts (``from``) is placed by its number and size.
    """
    parsed = parse_page(body, subject, page)
    per_page = parsed.per_page or size
    first = (parsed.first - 1) if parsed.first else (parsed.current_page - 1) * per_page
    _check_list_size(parsed, per_page, first, subject)
    return MembershipPage(
        memberships=[parse_model(UserMembership, item, subject) for item in parsed.items],
        number=parsed.current_page,
        last_page=parsed.last_page,
        per_page=per_page,
        total=parsed.total,
        first_position=first,
    )


def _check_list_size(parsed: Page, per_page: int, first: int, subject: str) -> None:
    """Refuse page numbers no real list has: below 1, negative, or more memberships than
    ``MAX_LISTED_MEMBERSHIPS``, which a run would otherwise try to page through."""
    claimed = max(parsed.last_page * per_page, parsed.total or 0, first + len(parsed.items))
    impossible = (
        min(parsed.current_page, parsed.last_page, per_page) < 1
        or first < 0
        or (parsed.total or 0) < 0
    )
    if impossible or claimed > MAX_LISTED_MEMBERSHIPS:
        raise UnexpectedResponse(
            f"The API answered {subject} with page numbers no list has (page "
            f"{parsed.current_page} of {parsed.last_page}, {per_page} a page, total "
            f"{parsed.total}); communal-sync reads at most {MAX_LISTED_MEMBERSHIPS:,} "
            "memberships. Check --base-url."
        )


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    A date in the past means 0; anything unparseable means "not given" (None).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def deprecation_warning(response: httpx.Response, api_version: str) -> str | None:
    """One warning from the ``X-Api-Version-Warning`` and ``Sunset`` headers, or None.

    A deprecated version usually sends both: one sentence carries the API's words and the
    date it stops working, so the same fact is not warned about twice.
    """
    warning = " ".join(response.headers.get(VERSION_WARNING_HEADER, "").split())
    sunset = " ".join(response.headers.get(SUNSET_HEADER, "").split())
    if not warning and not sunset:
        return None
    if warning:
        text = f"The Communal API warns about version {api_version}: {_sentence(warning)}"
        if sunset:
            text += f" It will stop working after {sunset}."
    else:
        text = f"The Communal API version {api_version} will stop working after {sunset}."
    return f"{text} {CURRENT_VERSION_FIX}"


def version_warnings(response: httpx.Response, asked: str) -> list[str]:
    """Every warning one response carries about the API version it was answered in."""
    messages = [deprecation_warning(response, asked), version_mismatch_warning(response, asked)]
    if asked not in KNOWN_API_VERSIONS and response.is_success:
        messages.append(
            f"communal-sync is written against Communal API versions "
            f"{' and '.join(KNOWN_API_VERSIONS)}; {asked} is sent as asked, and its "
            "answers may not be read correctly."
        )
    return [message for message in messages if message is not None]


def version_mismatch_warning(response: httpx.Response, asked: str) -> str | None:
    """A warning when the API did not answer in the version asked for, or None.

    ``X-Api-Version-Source: default`` means the request's ``X-Api-Version`` never reached
    the API (a proxy dropped it) and the server's default answered; a served
    ``X-Api-Version`` other than ``asked`` means the API chose another version. Either way
    the answer may have shapes this client does not expect.
    """
    served = " ".join(response.headers.get(SERVED_VERSION_HEADER, "").split())
    source = response.headers.get(VERSION_SOURCE_HEADER, "").strip().lower()
    if source == "default":
        which = f" ({served})" if served else ""
        return (
            f"The Communal API answered with its default version{which}, not the "
            f"{asked} communal-sync asked for: the X-Api-Version header did not reach it. "
            "Check any proxy between here and the API; answers may not be read correctly."
        )
    if served and served != asked:
        return (
            f"The Communal API answered in version {served}, not the {asked} communal-sync "
            "asked for; answers may not be read correctly."
        )
    return None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _error_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.content.decode("utf-8", errors="replace")


def _message_of(body: Any) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        return message if isinstance(message, str) else ""
    return body if isinstance(body, str) else ""


def _rejected(body: Any, subject: str, redact: Redactor) -> ApiError:
    errors: dict[str, list[str]] = {}
    raw_errors = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(raw_errors, Mapping):
        for name, messages in raw_errors.items():
            is_list = isinstance(messages, Sequence) and not isinstance(messages, str)
            items = list(messages) if is_list else [messages]
            errors[redact(str(name))] = [redact(str(m)) for m in items]
    details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items())
    reason = (details or excerpt(_message_of(body), redact) or "no reason given").rstrip(". ")
    return Rejected(
        f"The API rejected the values for {subject} (422): {reason}. Fix them in the input.",
        errors=errors,
    )


def _unsupported_version(body: Mapping[str, Any], redact: Redactor) -> ApiError:
    raw = body.get("supported_versions")
    supported = [redact(str(v)) for v in raw] if isinstance(raw, list) else []
    listed = ", ".join(supported) or "none listed"
    return UnsupportedVersion(
        f"The API does not serve the requested version (supported: {listed}). "
        "Pass --api-version with one of them.",
        supported=supported,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
