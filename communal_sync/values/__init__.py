"""Values: how one cell's text becomes what is compared and sent.

Pure functions, each idempotent: ``clean_text`` (NFC, spaces, invisible characters),
``normalize_email``/``email_key`` (the form stored and the form compared),
``phone_key`` (a telephone by what it dials), ``normalize_country`` (names, alpha-3 and
case to ISO alpha-2) and ``normalize_date``/``parse_date`` (many spellings to ISO dates).
"""

from communal_sync.values.countries import normalize_country
from communal_sync.values.dates import DateError, DateOrder, normalize_date, parse_date
from communal_sync.values.normalize import (
    clean_text,
    email_key,
    is_valid_email,
    normalize_email,
    phone_key,
)

__all__ = [
    "DateError",
    "DateOrder",
    "clean_text",
    "email_key",
    "is_valid_email",
    "normalize_country",
    "normalize_date",
    "normalize_email",
    "parse_date",
    "phone_key",
]
