"""Pure normalizers for the values of a profile: text, emails, phones, countries, dates.

Used by validation (to clean what we send) and by the diff (to compare without calling a
cosmetic difference a change). The value normalizers (``clean_text``, ``normalize_email``,
``normalize_country``, ``normalize_date``) and ``email_key`` are idempotent,
``f(f(x)) == f(x)``. ``phone_key`` is a comparison key only: two values are compared by
their keys, a key is never keyed again (a digits-only fallback may read as a number under
a region). All are cheap on the common case (plain ASCII): they run once per cell of files
of a million rows.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from communal_sync.values.countries import normalize_country
from communal_sync.values.dates import DateError, DateOrder, normalize_date, parse_date

__all__ = [
    "EMAIL_LOCAL_MAX_LENGTH",
    "EMAIL_MAX_LENGTH",
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

EMAIL_MAX_LENGTH: Final = 254
"""RFC 5321: the longest address a mail server must accept."""

EMAIL_LOCAL_MAX_LENGTH: Final = 64
"""RFC 5321: the longest local part (before the @)."""

ZERO_WIDTH: Final = dict.fromkeys(
    map(ord, "\u200b\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
"""Zero-width space, word joiner and BOM: invisible, copied from web pages. The zero-width
joiner and non-joiner (U+200D, U+200C) stay inside a value: emoji sequences and Persian
and Indic names need them; only at the ends are they noise. The bidi embedding, override
and isolate controls (U+202A-U+202E, U+2066-U+2069) go too: invisible, they make "Ana" and
"Ana" two names, and an override can show a name reversed. The right-to-left and
left-to-right marks (U+200F, U+200E) stay: Hebrew and Arabic text uses them."""
JOINERS: Final = "\u200c\u200d"
_HAS_ZERO_WIDTH: Final = re.compile(f"[{''.join(map(chr, ZERO_WIDTH))}]").search


def clean_text(s: str) -> str:
    """Trim, collapse runs of whitespace to one space, drop zero-width characters, NFC.

    ASCII text (almost every cell) skips the Unicode work; non-breaking and other Unicode
    spaces count as whitespace, so "Ann\\u00a0Lee" and "Ann Lee" come out the same.
    """
    if s.isascii():
        return " ".join(s.split())
    if _HAS_ZERO_WIDTH(s) is not None:  # rare: a search is cheaper than a translate
        s = s.translate(ZERO_WIDTH)
    text = " ".join(unicodedata.normalize("NFC", s).split())
    if text[:1] in JOINERS or text[-1:] in JOINERS:
        text = " ".join(text.strip(JOINERS).split())
    return text


def normalize_email(s: str) -> str:
    """The address to send: cleaned text with the domain lower-cased, local part kept.

    The local part is case-sensitive in theory, so it is sent as written; the domain never is.
    """
    text = clean_text(s)
    at = text.rfind("@")
    if at < 0:
        return text
    return text[: at + 1] + text[at + 1 :].lower()


def email_key(s: str) -> str:
    """The comparison key of an email address: the whole address case-folded.

    Mail providers treat "Ann@X.org" and "ann@x.org" as one mailbox, and so does Communal's
    uniqueness rule, so duplicates and changes are judged on this key.
    """
    return normalize_email(s).casefold()


_LOCAL_ASCII: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN_ASCII: Final = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)
_EMAIL_ASCII: Final = re.compile(f"{_LOCAL_ASCII}@{_DOMAIN_ASCII}")
_DOMAIN_RE: Final = re.compile(_DOMAIN_ASCII)
_LOCAL_UNICODE: Final = re.compile(
    r"[^\s@\"(),:;<>\[\]\\.\x00-\x1f\x7f]+(?:\.[^\s@\"(),:;<>\[\]\\.\x00-\x1f\x7f]+)*"
)


def is_valid_email(s: str) -> bool:
    """Whether ``s`` is a plausible email address: syntax only, no DNS.

    One ``@``; a dot-atom local part (no spaces, no leading, trailing or double dot) of at
    most 64 characters; a domain of valid labels with a dot. Unicode local parts and
    internationalized (IDN) domains are accepted; the domain must encode with IDNA.
    """
    if len(s) > EMAIL_MAX_LENGTH:
        return False
    if s.isascii():
        return _EMAIL_ASCII.fullmatch(s) is not None and s.index("@") <= EMAIL_LOCAL_MAX_LENGTH
    local, at, domain = s.rpartition("@")
    if (
        not s.isprintable()
        or not at
        or len(local) > EMAIL_LOCAL_MAX_LENGTH
        or _LOCAL_UNICODE.fullmatch(local) is None
    ):
        return False
    if any(label[:1] == "-" or label[-1:] == "-" for label in domain.split(".")):
        return False  # the IDNA form (xn---...) would hide a hyphen at a label's edge
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return _DOMAIN_RE.fullmatch(ascii_domain) is not None


_NOT_DIGIT: Final = re.compile(r"\D")


def phone_key(s: str, region: str | None = None) -> str:
    """The comparison key of a telephone number: E.164 when it parses, else its digits.

    ``region`` (ISO alpha-2, e.g. "CA") reads numbers written without a country code, so
    "(514) 555-0100" and "+1 514 555 0100" get the same key. Only the length is checked,
    not whether the number is assigned, so test numbers compare sensibly too.
    """
    import phonenumbers  # its metadata is loaded only when a telephone is first compared

    text = clean_text(s)
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return _NOT_DIGIT.sub("", text)
    if phonenumbers.is_possible_number(number):
        key = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        return f"{key};ext={number.extension}" if number.extension else key
    return _NOT_DIGIT.sub("", text)


def phone_region(s: str | None) -> str | None:
    """The region (ISO alpha-2) of a number written with its country code, else None.

    "+1 416 555 0101" -> "CA"; "(416) 555-0101" (no country code) -> None.
    """
    import phonenumbers

    text = clean_text(s or "")
    if not text.startswith(("+", "00")):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "001" else None


def phone_compare_region(a: str | None, b: str | None, region: str | None) -> str | None:
    """The region two telephones are compared in: ``region`` when known; otherwise the
    region of whichever of them carries its country code (the other one is read as a
    number of that country). None when neither says: then only digits can be compared."""
    return region or phone_region(a) or phone_region(b)


def same_phone(a: str | None, b: str | None, region: str | None = None) -> bool:
    """Whether two telephones dial the same number (see ``phone_compare_region``).

    Without a configured region, "(416) 555-0101" and "+14165550101" are the same: the
    national number is read in the international one's country.
    """
    where = phone_compare_region(a, b, region)
    return phone_key(a or "", where) == phone_key(b or "", where)


def e164(s: str, region: str | None) -> str | None:
    """``s`` in E.164 ("+14165550101") when it parses as a possible number, else None."""
    import phonenumbers

    text = clean_text(s)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number) or number.extension:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
