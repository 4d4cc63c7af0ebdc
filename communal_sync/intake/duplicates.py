"""Find rows of one file that name the same person: same email, id or external id.

This is validation's first pass. It must not hold the file's values in memory (a million
rows must validate in well under 150 MB), so each key is kept as a 64-bit hash in an
``array`` by the row's ordinal. Up to ``COUNT_MAX_ROWS`` rows a set of the hashes seen
finds the repeated ones as the batches arrive; beyond that, sorting the hashes finds them;
their rows are then found in the arrays. Only the (few) members of duplicate groups are
kept. Python's string hash is a 64-bit SipHash,
so the chance of two different keys colliding in a million rows is about 3 in 100 million.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, count, pairwise, repeat
from typing import Final, Literal

from communal_sync.fields import user_id_of
from communal_sync.intake.mapping import ColumnMapping
from communal_sync.sources.rows import KeyBatch, SourceRow, key_batches_of
from communal_sync.values.normalize import JOINERS, ZERO_WIDTH, clean_text, email_key

KeyKind = Literal["email", "id", "external_id"]
DuplicatePolicy = Literal["error", "first", "last"]
"""What to do with rows that share a key: all invalid (error), or keep the first or last."""


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Rows (by ordinal in the file, and by line) that share one key of one kind."""

    kind: KeyKind
    ordinals: tuple[int, ...]
    lines: tuple[int, ...]

    def other_lines(self, ordinal: int) -> list[int]:
        """The lines of the group's rows other than the row at ``ordinal``."""
        return [line for o, line in zip(self.ordinals, self.lines, strict=True) if o != ordinal]


@dataclass(frozen=True)
class DuplicateIndex:
    """The duplicate groups of a file, looked up by row ordinal (0 for the first data row)."""

    groups_by_ordinal: dict[int, tuple[DuplicateGroup, ...]]
    lines: array[int]
    """Every row's line, by ordinal: pass two checks it read the same rows."""

    @property
    def rows(self) -> int:
        """How many rows the first pass read."""
        return len(self.lines)


def email_dup_key(value: str) -> str | None:
    """The duplicate key of an email cell (``email_key``); None for a value with no ``@``.

    Placeholders such as "n/a" or "none" are invalid on their own and are not duplicates of
    each other. Plain ASCII skips ``email_key``'s Unicode work (same result).
    """
    if "@" not in value:
        return None
    return email_key(value)


def id_dup_key(value: str) -> int | None:
    """The duplicate key of an id cell: the user id it holds, or None (``user_id_of``)."""
    return user_id_of(value)


def external_id_dup_key(value: str) -> str | None:
    """The duplicate key of an external id: the cleaned text (case matters: "a1" != "A1")."""
    return clean_text(value) or None


COUNT_MAX_ROWS: Final = 250_000
"""Up to this many rows each key hash is kept in a set per key kind as the batches arrive,
which finds the repeated ones with C-level set operations; above it the sets are dropped and
the hashes sorted at the end, which keeps the peak memory of a million-row file lower."""

PER_VALUE_BELOW: Final = 16
"""A batch column with an unusual value is halved until its parts are this small; their
values are then keyed one by one."""

_NO_KEY: Final = 0
"""Stored for a row without a key of that kind; a real key hashing to 0 is ignored (2**-64)."""


def key_columns(mapping: ColumnMapping) -> dict[KeyKind, str]:
    """The column of each key kind the file has: email always, id and external id if mapped.

    Kinds without a column are left out, so the first pass hashes nothing for them.
    """
    columns: dict[KeyKind, str] = {"email": mapping.column_of("email") or ""}
    for kind in ("id", "external_id"):
        column = mapping.column_of(kind)
        if column is not None:
            columns[kind] = column
    return columns


def find_duplicates(rows: Iterable[SourceRow], mapping: ColumnMapping) -> DuplicateIndex:
    """Read every row's key columns once and return the groups of rows that share a key.

    Rows with a read problem are left out: they are invalid whatever their keys say.
    """
    columns = key_columns(mapping)
    return index_duplicates(key_batches_of(rows, list(columns.values())), list(columns))


def index_duplicates(batches: Iterable[KeyBatch], kinds: Sequence[KeyKind]) -> DuplicateIndex:
    """``find_duplicates`` on rows already cut down to their key cells (``Source.key_batches``).

    Each batch holds one column of cells per kind in ``kinds``, in that order. A row with a
    read problem has "" in every column, which is no key of any kind.
    """
    finder = DuplicateFinder(kinds)
    for batch_lines, columns in batches:
        finder.add(batch_lines, columns)
    return finder.finish()


class DuplicateFinder:
    """``index_duplicates`` fed a batch at a time, so one pass can check rows and hash their
    keys together (``validate.summarize_source``)."""

    def __init__(self, kinds: Sequence[KeyKind]) -> None:
        self._kinds = list(kinds)
        self._hashers = [_HASHERS[kind] for kind in kinds]
        self._hashes = [array("q") for _ in kinds]
        self._seen: list[set[int]] | None = [set() for _ in kinds]
        self._repeated: list[set[int]] = [set() for _ in kinds]
        self.lines: array[int] = array("I")
        """Every row's line so far, by ordinal."""

    def add(self, batch_lines: Sequence[int], columns: Sequence[list[str]]) -> None:
        """Hash the key cells of the next rows: one column of cells per kind, in order."""
        lines = self.lines
        lines += array("I", batch_lines)
        seen = self._seen
        for index, hasher in enumerate(self._hashers):
            batch_hashes = _hash_column(columns[index], *hasher)
            self._hashes[index] += array("q", batch_hashes)
            if seen is not None:
                _add_repeats(seen[index], batch_hashes, self._repeated[index])
        if seen is not None and len(lines) > COUNT_MAX_ROWS:
            self._seen = None

    def finish(self) -> DuplicateIndex:
        """The groups of rows that share a key, over every row added."""
        lines = self.lines
        by_ordinal: dict[int, list[DuplicateGroup]] = {}
        for index, kind in enumerate(self._kinds):
            kind_hashes = self._hashes[index]
            repeated = self._repeated[index] if self._seen is not None else _repeated(kind_hashes)
            groups = _members(kind_hashes, repeated)
            self._hashes[index] = array("q")  # freed before the next kind's sort
            for members in groups:
                group = DuplicateGroup(kind, tuple(members), tuple(lines[o] for o in members))
                for member in members:
                    by_ordinal.setdefault(member, []).append(group)
        return DuplicateIndex({o: tuple(g) for o, g in by_ordinal.items()}, lines)


def _add_repeats(seen: set[int], hashes: list[int], repeated: set[int]) -> None:
    """Add ``hashes`` to ``seen``, and to ``repeated`` those already seen or repeated here.

    A batch with no repeated key (the usual one) costs three C-level set operations;
    ``_NO_KEY`` is never a repeat. The rows of each repeated hash are found at the end
    (``_members``), so only hashes are kept, not the row each was first on.
    """
    batch = set(hashes)
    batch.discard(_NO_KEY)
    if len(batch) == len(hashes) - hashes.count(_NO_KEY) and seen.isdisjoint(batch):
        seen |= batch
        return
    repeated |= batch & seen
    before: set[int] = set()
    for key in hashes:
        if key in before:
            repeated.add(key)
        before.add(key)
    repeated.discard(_NO_KEY)
    seen |= batch


_Hasher = tuple[
    Callable[[list[str]], bool], Callable[[list[str]], Iterable[int]], Callable[[str], int]
]
"""For one key kind: is every value of a list in its usual form (one C-level test over the
list), the keys of such a list (C-level maps), and the key of any one value."""


def _plain_emails(values: list[str]) -> bool:
    """Every value has an @ and is its own ``clean_text`` (no whitespace at all; if not
    ASCII, in NFC and without zero-width characters): its key is then its ``casefold()``.

    ``email_key`` is ``clean_text`` then ``casefold`` (lower-casing the domain first changes
    nothing a case fold does not: ``c.lower().casefold() == c.casefold()`` for every
    character), so accented addresses (zoë@, josé@) take this path too.
    """
    text = "".join(values)
    return (
        len(text.split()) == 1
        and text == text.strip()  # split() is blind to the first value's leading space
        and all(map(operator.contains, values, repeat("@")))
        and (text.isascii() or _is_clean_unicode(values))
    )


def _is_clean_unicode(values: list[str]) -> bool:
    """No zero-width or bidi character, and NFC (tested with the values joined by line
    breaks, which compose with nothing, so the whole is NFC exactly when every value is)."""
    joined = "\n".join(values)
    return _INVISIBLE.search(joined) is None and unicodedata.is_normalized("NFC", joined)


_INVISIBLE: Final = re.compile(f"[{''.join(map(chr, ZERO_WIDTH))}{JOINERS}]")
"""What ``clean_text`` drops (or trims, for the joiners)."""


def _email_keys(values: list[str]) -> list[int]:
    """The key hashes of any email cells (``email_dup_key``) by C-level maps: a cell with no
    @ has no key; the others are cleaned (``str.strip`` when that is all they need, the
    usual dirt being spaces at the edges) and case-folded (see ``_plain_emails``)."""
    cells = list(map(str.strip, values))
    keyless = list(
        compress(count(), map(operator.not_, map(operator.contains, cells, repeat("@"))))
    )
    for index in keyless:
        cells[index] = "@"  # plain, so one odd cell does not send the whole list to clean_text
    if not _plain_emails(cells):
        cells = list(map(clean_text, cells))
    hashes = list(map(hash, map(str.casefold, cells)))
    for index in keyless:
        hashes[index] = _NO_KEY
    return hashes


def _plain_external_ids(values: list[str]) -> bool:
    """Every value is non-blank ASCII with no whitespace at all: its key is itself."""
    text = "".join(values)
    return text.isascii() and len(text.split()) == 1 and text == text.strip() and all(values)


def _plain_ids(values: list[str]) -> bool:
    """Every value is blank or ASCII digits, short enough to be an id as it is: its key is
    its value (a blank's, like "0"'s, is no key: ``hash(0)`` is ``_NO_KEY``).

    A value of 19 digits or more goes one by one (``user_id_of``): it may be no id at all.
    """
    text = "".join(values)
    return (not text or (text.isascii() and text.isdigit())) and max(map(len, values)) < 19


_ZERO_IF_BLANK: Final = {"": "0"}
"""``map(_ZERO_IF_BLANK.get, values, values)`` reads a blank id cell as "0" (no id)."""


_HASHERS: Final[dict[KeyKind, _Hasher]] = {
    "email": (
        _plain_emails,
        lambda values: map(hash, map(str.casefold, values)),
        lambda value: _hash_of(email_dup_key(value)),
    ),
    "external_id": (
        _plain_external_ids,
        lambda values: map(hash, values),
        lambda value: _hash_of(external_id_dup_key(value)),
    ),
    "id": (
        _plain_ids,
        lambda values: map(hash, map(int, map(_ZERO_IF_BLANK.get, values, values))),
        lambda value: _hash_of(id_dup_key(value)),
    ),
}


def key_hash(kind: KeyKind, value: str) -> int | None:
    """The hash a key cell of ``kind`` is grouped by (``DuplicateFinder``), None for no key."""
    found = _HASHERS[kind][2](value)
    return None if found == _NO_KEY else found


def _hash_column(
    values: list[str],
    plain: Callable[[list[str]], bool],
    hash_plain: Callable[[list[str]], Iterable[int]],
    hash_one: Callable[[str], int],
) -> list[int]:
    """The key hashes of ``values``: the usual form through C-level maps, the rest one by one.

    A list that is not all plain is halved until the odd values are isolated, so a batch with
    one unusual cell still hashes the other thousand in C. Same hashes as ``hash_one``.
    """
    if plain(values):
        return list(hash_plain(values))
    if plain is _plain_emails:  # cleaning is cheap next to halving: ~5% odd cells is usual
        return _email_keys(values)
    if len(values) < PER_VALUE_BELOW:
        return [hash_one(value) for value in values]
    middle = len(values) // 2
    return _hash_column(values[:middle], plain, hash_plain, hash_one) + _hash_column(
        values[middle:], plain, hash_plain, hash_one
    )


def _hash_of(key: str | int | None) -> int:
    return _NO_KEY if key is None else hash(key)


SORTED_PARTS: Final = 4
"""``_repeated`` sorts the hashes a range of values at a time, so a million-row file holds a
quarter of them as Python ints at once (8 MB, not 32 MB), for one more C-level scan each."""

_HASH_RANGES: Final = tuple(
    range(-(2**63) + part * 2**64 // SORTED_PARTS, -(2**63) + (part + 1) * 2**64 // SORTED_PARTS)
    for part in range(SORTED_PARTS)
)
"""The 64-bit hash values in ``SORTED_PARTS`` ranges (``range.__contains__`` is O(1))."""


def _repeated(hashes: array[int]) -> set[int]:
    """The hashes (other than ``_NO_KEY``) that occur more than once, by sorting them.

    Equal hashes fall in the same range of ``_HASH_RANGES``, so each range is sorted alone.
    """
    found: set[int] = set()
    for values in _HASH_RANGES:
        ordered = sorted(filter(values.__contains__, hashes))
        found.update(a for a, b in pairwise(ordered) if a == b)
        del ordered
    found.discard(_NO_KEY)
    return found


def _members(hashes: array[int], repeated: set[int]) -> list[list[int]]:
    """The ordinals (indexes) of each repeated hash, in file order, groups by first row."""
    if not repeated:
        return []
    members: dict[int, list[int]] = {}
    for ordinal in compress(count(), map(repeated.__contains__, hashes)):
        members.setdefault(hashes[ordinal], []).append(ordinal)
    return list(members.values())
