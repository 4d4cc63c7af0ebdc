"""Checks over a whole column of a chunk of records, and the tests of a plain value.

Validation's fast path (``RowChecker.suspects`` in row_checks) asks, for 128 CSV records
at once, which ones are *not* plainly valid. Each function here answers that for one
column with a few C-level operations over the column's cells joined into one string (or
encoded as bytes), instead of a Python loop per cell, and adds the record numbers it
doubts to a set. A doubt is never a verdict: a doubted record goes through
``check_fully``, so these tests may refuse a valid value but must never pass one that
``check_fully`` would change or reject (property tests hold them to that).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import compress, repeat
from itertools import count as count_from
from operator import itemgetter, not_
from typing import Final, Literal
from unicodedata import is_normalized

from communal_sync.fields import MAX_USER_ID
from communal_sync.values.dates import EARLIEST_YEAR
from communal_sync.values.normalize import (
    EMAIL_LOCAL_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    normalize_email,
)

_EARLIEST_ISO: Final = f"{EARLIEST_YEAR}-01-01"
_ID_DIGITS: Final = len(str(MAX_USER_ID))

LATIN_LETTERS: Final = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u0131\u0134-\u013e\u0141-\u0148\u014a-\u017e"
)
"""The letters of Latin-1 and Latin Extended-A (a regex class body) but the compatibility
ones (ĳ, ŀ, ŉ, ſ): all of the Latin script, printable, in NFC and NFKC whatever follows
them, so a local part of them and ASCII is neither changed by ``clean_text`` nor suspect to
``confusable_reason``. These are the accents of most European names (zoë, josé, łukasz)."""

_ATOM: Final = rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~{LATIN_LETTERS}-]+"
PLAIN_LOCAL: Final = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_PLAIN_LOCALS: Final = re.compile(rf"{PLAIN_LOCAL.pattern}(?:\n{PLAIN_LOCAL.pattern})*")
"""Local parts joined by line breaks, every one of them plain (an atom holds no break)."""
_PLAIN_DOMAIN: Final = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
"""An address is valid, in normalize_email form and never confusable when its local part
matches PLAIN_LOCAL (ASCII atoms, and the Latin letters above) and its domain, lower-case
ASCII, matches _PLAIN_DOMAIN."""

VERDICTS_KEPT: Final = 65_536
"""Domains (or dates) whose verdict the fast check remembers; a few MB at most."""


def remember_verdict(known: dict[str, bool], text: str, verdict: bool) -> bool:
    """Keep ``verdict`` for ``text`` while ``known`` is under VERDICTS_KEPT; return it."""
    if len(known) < VERDICTS_KEPT:
        known[text] = verdict
    return verdict


def is_plain_domain(domain: str) -> bool:
    """Whether ``domain`` is a valid lower-case ASCII domain (normalize_email leaves it)."""
    return _PLAIN_DOMAIN.fullmatch(domain) is not None


def is_plain_email(email: str, domains: dict[str, bool]) -> bool:
    """Whether ``email`` is a valid address already in ``normalize_email`` form (see
    PLAIN_LOCAL), one that no check would refuse or change; domain verdicts kept in
    ``domains``."""
    local, _, domain = email.partition("@")
    if (domain_ok := domains.get(domain)) is None:
        domain_ok = remember_verdict(domains, domain, is_plain_domain(domain))
    return (
        domain_ok
        and len(local) <= EMAIL_LOCAL_MAX_LENGTH
        and len(domain) < EMAIL_MAX_LENGTH - len(local)
        and PLAIN_LOCAL.fullmatch(local) is not None
    )


def is_cleanable_email(email: str, domains: dict[str, bool]) -> bool:
    """Whether ``normalize_email(email)`` is plain (``is_plain_email``) though ``email`` is
    not: an address with spaces at its edges or an upper-case domain, valid once cleaned."""
    return is_plain_email(normalize_email(email), domains)


def is_plain_date(text: str, today_iso: str) -> bool:
    """Whether ``text`` is a real ISO date from 1900 to today (parse_date returns it as is)."""
    if not (len(text) == 10 and _EARLIEST_ISO <= text <= today_iso and text[7] == "-"):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


_PRINTABLE_LATIN1: Final = bytes(c for c in range(256) if chr(c).isprintable())
"""The printable characters below U+0100 as Latin-1 bytes, for ``bytes.translate``."""

_EMAIL_BYTES: Final = (
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-.@"
)
"""The characters of a plain address: atom characters, dots and the @ (see PLAIN_LOCAL)."""

_TO_BREAKS: Final = bytes.maketrans(b".@", b"\n\n")
"""Turns an address's dots and @ into line breaks: in emails joined by line breaks, two
breaks in a row then mean an empty local part, a dot at its edge or two dots in a row
(or an empty or dotted-edge domain, refused anyway)."""

_DAY_SHAPE: Final = re.compile(
    r"[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
)
"""YYYY-MM-DD with a day every year has in that month (so not February 29): a date of this
form in range is plain; any other is judged by ``is_plain_date``."""

_LINE_BREAK: Final = "\n"
_EDGE_SPACES: Final = (" ", _LINE_BREAK)
_BREAK: Final = b"\n"
_NFC: Final[Literal["NFC"]] = "NFC"
_FIRST: Final = itemgetter(0)
_THIRD: Final = itemgetter(2)
_EIGHTH: Final = itemgetter(7)


def unclean_cells(texts: list[str], bad: set[int], rows: int) -> None:
    """Add to ``bad`` the records of the cells clean_text would change (``accepts``'s test).

    ``texts`` is column-major: cell k belongs to record k % rows. The non-blank cells are
    tested all at once, joined by line breaks; only a chunk that fails is gone through to
    find the cells at fault. Text below U+0100 (most Western names) is in NFC whatever it
    holds (its characters are starters that compose with nothing) and is tested for
    unprintable characters as Latin-1 bytes, which is cheaper than ``str.isprintable``.
    """
    given = list(filter(None, texts))
    joined = _LINE_BREAK.join(given)
    try:
        encoded = joined.encode("latin-1")
    except UnicodeEncodeError:
        printable = (
            joined.count(_LINE_BREAK) == len(given) - 1
            and joined.replace(_LINE_BREAK, "").isprintable()
        )
        normal = is_normalized(_NFC, joined)
    else:
        printable = encoded.translate(None, _PRINTABLE_LATIN1) == _BREAK * (len(given) - 1)
        normal = True
    # A space at a cell's edge or two in a row, as "  " in the cells joined by spaces: four
    # searches of ``joined`` (no copy of it; an empty line is a cell holding a break).
    stray = (
        "  " in joined
        or " \n" in joined
        or "\n " in joined
        or "\n\n" in joined
        or joined.startswith(_EDGE_SPACES)
        or joined.endswith(_EDGE_SPACES)
    )
    if printable and normal and not stray:
        return
    if not printable:
        unprintable = map(not_, map(str.isprintable, texts))
        bad.update(k % rows for k in compress(count_from(), unprintable))
    if not normal:
        not_nfc = map(not_, map(is_normalized, repeat(_NFC), texts))
        bad.update(k % rows for k in compress(count_from(), not_nfc))
    if stray and printable:  # no cell holds a line break: the breaks tell the cells apart
        spaced = joined.replace(_LINE_BREAK, " ")
        bad.update(
            k % rows for k in _positions(texts, given, _cells_with_stray_spaces(joined, spaced))
        )
    elif stray:
        for test, part in ((str.__contains__, "  "), (str.startswith, " "), (str.endswith, " ")):
            bad.update(k % rows for k in compress(count_from(), map(test, texts, repeat(part))))


def _positions(texts: list[str], given: list[str], found: list[int]) -> Iterator[int]:
    """Where the cells ``given[k]`` (k in ``found``, ascending) are in ``texts``.

    ``given`` is ``texts`` without its blank cells. A cell equal to a found one between two
    found ones would have been found too, so searching on from the last position finds
    each one's own place, at C speed.
    """
    at = -1
    for k in found:
        at = texts.index(given[k], at + 1)
        yield at


def _cells_with_stray_spaces(joined: str, spaced: str) -> list[int]:
    """The indexes, ascending and once each, of the cells in ``joined`` (cells joined by line
    breaks; ``spaced`` is the same with spaces for the breaks) with a space at an edge or
    two in a row.

    Only called when there is one: each "  " of ``spaced`` is found by ``str.find``, and
    its cell by counting the line breaks since the previous one.
    """
    spaces: list[int] = []
    at = spaced.find("  ")
    while at >= 0:
        spaces.append(at if joined[at] == " " else at + 1)  # the space, not the break
        at = spaced.find("  ", at + 1)
    if spaced[:1] == " ":
        spaces.append(0)
    if spaced[-1:] == " ":
        spaces.append(len(spaced) - 1)
    cells: list[int] = []
    cell = last = 0
    for at in sorted(spaces):
        cell += joined.count(_LINE_BREAK, last, at)
        last = at
        if not cells or cells[-1] != cell:
            cells.append(cell)
    return cells


def longer_than(column: Sequence[str], limit: int) -> Iterator[int]:
    """The indexes of the cells of ``column`` longer than ``limit``."""
    return compress(count_from(), map(limit.__lt__, map(len, column)))


def bad_emails(emails: Sequence[str], bad: set[int], domains: dict[str, bool]) -> None:
    """Add to ``bad`` the records whose email ``accepts`` refuses (not plain, or too long,
    and not plain once cleaned either: see ``is_cleanable_email``).

    The local parts are tested all at once on the emails joined by line breaks, as bytes
    when ASCII (only plain characters, and no empty part or stray dot: see ``_TO_BREAKS``),
    else by one regular expression over the local parts joined; the domains once per
    distinct domain (verdicts remembered in ``domains``). Only the doubted cells are then
    cleaned and tested one by one.
    """
    parts = list(map(str.partition, emails, repeat("@")))
    joined = _LINE_BREAK.join(emails)
    try:
        encoded = joined.encode("ascii")
    except UnicodeEncodeError:
        locals_joined = _LINE_BREAK.join(map(_FIRST, parts))
        plain = (
            locals_joined.count(_LINE_BREAK) == len(emails) - 1
            and _PLAIN_LOCALS.fullmatch(locals_joined) is not None
        )
    else:
        breaks = encoded.translate(_TO_BREAKS)
        plain = (
            encoded.translate(None, _EMAIL_BYTES) == _BREAK * (len(emails) - 1)
            and b"\n\n" not in breaks
            and breaks[:1] != _BREAK
        )
    doubted: set[int] = set()
    if not plain:
        locals_ = map(_FIRST, parts)
        doubted.update(compress(count_from(), map(not_, map(PLAIN_LOCAL.fullmatch, locals_))))
    hosts = list(map(_THIRD, parts))
    wrong = _verdicts(hosts, domains, is_plain_domain)
    if wrong:
        doubted.update(compress(count_from(), map(wrong.__contains__, hosts)))
    if max(map(len, emails)) > EMAIL_LOCAL_MAX_LENGTH:
        for index, (local, _, domain) in enumerate(parts):
            if len(local) > EMAIL_LOCAL_MAX_LENGTH or len(domain) >= EMAIL_MAX_LENGTH - len(local):
                doubted.add(index)
    bad.update(index for index in doubted if not is_cleanable_email(emails[index], domains))


def bad_dates(dates: Sequence[str], bad: set[int], today: str) -> None:
    """Add to ``bad`` the records whose non-blank date is not a plain ISO date (1900-today).

    All at once when every date is one (lengths, dashes, range and one C-level parse);
    otherwise the dates that do not have the form of a valid day, or are out of range, are
    judged one by one.
    """
    given = list(filter(None, dates))
    if not given:
        return
    in_range = min(given) >= _EARLIEST_ISO and max(given) <= today
    if in_range and set(map(len, given)) == {10} and set(map(_EIGHTH, given)) == {"-"}:
        try:
            _consume(map(dt.date.fromisoformat, given))
        except ValueError:
            pass
        else:
            return
    odd = set(compress(given, map(not_, map(_DAY_SHAPE.fullmatch, given))))
    if not in_range:
        odd.update(text for text in given if not _EARLIEST_ISO <= text <= today)
    wrong = {text for text in odd if not is_plain_date(text, today)}
    if wrong:
        bad.update(compress(count_from(), map(wrong.__contains__, dates)))


def _verdicts(
    values: Sequence[str], known: dict[str, bool], judge: Callable[[str], bool]
) -> set[str]:
    """The distinct values of ``values`` that ``judge`` refuses.

    Verdicts are remembered in ``known`` (see ``remember_verdict``): values repeat down a file.
    """
    distinct = set(values)
    found = list(map(known.get, distinct))
    if None in found:
        found = [
            verdict if verdict is not None else remember_verdict(known, value, judge(value))
            for value, verdict in zip(distinct, found, strict=True)
        ]
    if all(found):
        return set()
    return set(compress(distinct, map(not_, found)))


def bad_ids(ids: Sequence[str]) -> Iterator[int]:
    """The indexes of the non-blank ids that are not a user id (see ``fields.user_id_of``).

    ``accepts`` takes only ids of at most 19 digits, converted exactly as they are.
    """
    joined = "".join(ids)
    if not joined or (
        joined.isascii()
        and joined.isdigit()
        and max(map(len, ids)) < _ID_DIGITS
        and sum(map(bool, ids)) == sum(map(bool, map(str.lstrip, ids, repeat("0"))))
    ):
        return iter(())
    return (
        index
        for index, text in enumerate(ids)
        if text
        and not (
            text.isascii()
            and text.isdigit()
            and len(text) <= _ID_DIGITS
            and 0 < int(text) <= MAX_USER_ID
        )
    )


def _consume(calls: Iterator[object]) -> None:
    deque(calls, maxlen=0)
