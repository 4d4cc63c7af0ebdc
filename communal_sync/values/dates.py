"""Dates as people write them in exports, read to ISO ``YYYY-MM-DD``.

Unambiguous forms are always read (ISO, ``YYYY/MM/DD``, ``DD.MM.YYYY``, ``1 March 2001``,
``March 1, 2001``); ``03/04/2001`` is read only when a part is over 12 or the caller says
which order the file uses, because guessing would silently swap day and month.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, Literal

DateOrder = Literal["dmy", "mdy"]

EARLIEST_YEAR: Final = 1900
"""Dates before this are typing mistakes in a membership export, not birth dates."""

ISO_EXAMPLE: Final = "2001-04-03"

MONTHS: Final[dict[str, int]] = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}


class DateError(ValueError):
    """A value is not a date we can read; ``str()`` says why and how to fix it."""


_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ISO: Final = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:Z|[+-](\d{2}):?(\d{2}))?)?",
    re.ASCII,
)
"""An ISO date, perhaps with a time and an offset (the time is checked, then dropped)."""
_TIME_LIMITS: Final = (23, 59, 59, 23, 59)
"""Hour, minute, second, offset hours, offset minutes: the largest each can be."""
_YMD: Final = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_COMPACT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DOTTED: Final = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_SLASHED: Final = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{2}|\d{4})")
_DAY_MONTH_NAME: Final = re.compile(
    r"(\d{1,2})(?:st|nd|rd|th)?[\s-]+([a-z]+)\.?,?[\s-]+(\d{2}|\d{4})"
)
_MONTH_NAME_DAY: Final = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{2}|\d{4})")


def parse_date(s: str, *, order: DateOrder | None = None, today: dt.date | None = None) -> str:
    """Read a date to ISO ``YYYY-MM-DD``, or raise DateError saying why it cannot be.

    ``order`` settles ``D/M/YYYY`` against ``M/D/YYYY``; without it such a date is read
    only when a part is over 12 or both parts are equal. Impossible dates (2001-02-30),
    two-digit years, years before 1900 and dates after ``today`` (default: the real today;
    pass it when parsing many dates, as asking the clock costs more than the parse) are
    refused.
    """
    text = s.strip()
    last = today or dt.date.today()
    if _ISO_DATE.fullmatch(text):
        return _checked(text, int(text[:4]), int(text[5:7]), int(text[8:10]), last)
    lowered = text.lower()
    if m := _ISO.fullmatch(text):
        _check_time(m)
        return _checked(text, int(m[1]), int(m[2]), int(m[3]), last)
    if m := _YMD.fullmatch(text) or _COMPACT.fullmatch(text):
        return _checked(text, int(m[1]), int(m[2]), int(m[3]), last)
    if m := _DOTTED.fullmatch(text):
        return _checked(text, int(m[3]), int(m[2]), int(m[1]), last)
    if m := _SLASHED.fullmatch(text):
        first, second, year = int(m[1]), int(m[3]), m[4]
        _require_full_year(text, year)
        if first > 12 or (first == second) or (order == "dmy" and second <= 12):
            return _checked(text, int(year), second, first, last)
        if second > 12 or order == "mdy":
            return _checked(text, int(year), first, second, last)
        raise DateError(
            "The date is ambiguous (day/month or month/day): set "
            'date_order = "dmy" or "mdy" in communal-sync.toml, or write it as YYYY-MM-DD.'
        )
    if m := _DAY_MONTH_NAME.fullmatch(lowered):
        return _named(text, m[3], m[2], m[1], last)
    if m := _MONTH_NAME_DAY.fullmatch(lowered):
        return _named(text, m[3], m[1], m[2], last)
    raise DateError(
        "This is not a date communal-sync can read: write it as YYYY-MM-DD "
        f"(for example {ISO_EXAMPLE})."
    )


def normalize_date(
    s: str, *, order: DateOrder | None = None, today: dt.date | None = None
) -> str | None:
    """The ISO ``YYYY-MM-DD`` form of a date, or None when ``parse_date`` refuses it."""
    try:
        return parse_date(s, order=order, today=today)
    except DateError:
        return None


def _check_time(match: re.Match[str]) -> None:
    """Refuse a timestamp whose time cannot exist (25:00, 10:61): its date is suspect too."""
    parts = match.groups()[3:]
    if any(p is not None and int(p) > top for p, top in zip(parts, _TIME_LIMITS, strict=True)):
        raise DateError(
            "The time in this timestamp cannot exist (hours go to 23, minutes and seconds to "
            f"59), so its date is not trusted either: write the date as YYYY-MM-DD (for "
            f"example {ISO_EXAMPLE})."
        )


def _require_full_year(text: str, year: str) -> None:
    if len(year) != 4:
        raise DateError(
            "The date has a two-digit year: write the full year, as YYYY-MM-DD "
            f"(for example {ISO_EXAMPLE})."
        )


def _named(text: str, year: str, month_name: str, day: str, last: dt.date) -> str:
    month = MONTHS.get(month_name)
    if month is None:
        raise DateError(
            "This is not a date communal-sync can read (the month name is unknown): "
            f"write it as YYYY-MM-DD (for example {ISO_EXAMPLE})."
        )
    _require_full_year(text, year)
    return _checked(text, int(year), month, int(day), last)


def _checked(text: str, year: int, month: int, day: int, last: dt.date) -> str:
    """The ISO date for these parts, refusing impossible and implausible dates."""
    try:
        value = dt.date(year, month, day)
    except ValueError:
        raise DateError("This is not a real date: check the day and the month.") from None
    if year < EARLIEST_YEAR:
        raise DateError(f"The date is before {EARLIEST_YEAR}: check the year.")
    if value > last:
        raise DateError("The date is in the future: check the year.")
    return value.isoformat()
