"""Timestamps as the Communal API writes them (Laravel's JSON format), for seeds and records."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Final

DEFAULT_TIMESTAMP: Final = "2026-01-01T00:00:00.000000Z"
"""``created_at``/``updated_at`` for seed records that do not give one: deterministic."""

TIMESTAMP_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Laravel's JSON date format: UTC with microseconds, e.g. ``2025-05-20T14:30:00.000000Z``."""


def format_timestamp(moment: datetime) -> str:
    """Render ``moment`` as the API does: UTC, microseconds, a ``Z`` suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time; a naive or date-only value is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(text), time())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def normalize_timestamp(text: str) -> str:
    """Rewrite an ISO 8601 date or date-time in the API's format; ValueError if unparseable."""
    return format_timestamp(parse_timestamp(text))


def normalize_birth_date(text: str) -> str:
    """Store a date of birth as the API returns it: midnight UTC of the date as written.

    The ``User`` schema types ``date_of_birth`` as a date-time, so ``1990-05-01`` becomes
    ``1990-05-01T00:00:00.000000Z``; a time of day, if given, is dropped.
    """
    try:
        day = datetime.fromisoformat(text).date()
    except ValueError:
        day = date.fromisoformat(text)
    return format_timestamp(datetime.combine(day, time(), tzinfo=UTC))
