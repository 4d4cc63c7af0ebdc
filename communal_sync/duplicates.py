"""Find rows of one file that name the same person: same email, id or external id.

This is validation's first pass. It must not hold the file's values in memory (a million
rows must validate in well under 150 MB), so each key is kept as a 64-bit hash in an
``array`` next to the row's ordinal; sorting the hashes finds the duplicate groups, and only
their (few) members are kept. Python's string hash is a 64-bit SipHash, so the chance of two
different keys colliding in a million rows is about 3 in 100 million.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal

from communal_sync.mapping import ColumnMapping
from communal_sync.normalize import clean_text, email_key
from communal_sync.source_row import SourceRow

KeyKind = Literal["email", "id", "external_id"]


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
    """The duplicate key of an id cell: its integer value, or None when it is not one."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    return None


def external_id_dup_key(value: str) -> str | None:
    """The duplicate key of an external id: the cleaned text (case matters: "a1" != "A1")."""
    return clean_text(value) or None


SET_CHECK_MAX_ROWS: Final = 250_000
"""Up to this many rows a set tells "no duplicates" twice as fast as sorting; above it,
sorting alone keeps the peak memory of a million-row file lower."""

_NO_KEY: Final = 0
"""Stored for a row without a key of that kind; a real key hashing to 0 is ignored (2**-64)."""


def find_duplicates(rows: Iterable[SourceRow], mapping: ColumnMapping) -> DuplicateIndex:
    """Read every row's key columns once and return the groups of rows that share a key.

    Rows with a read problem are left out: they are invalid whatever their keys say.
    """
    email_column = mapping.column_of("email") or ""
    id_column = mapping.column_of("id")
    external_column = mapping.column_of("external_id")
    kinds: list[KeyKind] = ["email"]
    kinds += ["id"] if id_column is not None else []
    kinds += ["external_id"] if external_column is not None else []
    hashes = {kind: array("q") for kind in kinds}
    add_email = hashes["email"].append
    add_id = hashes["id"].append if id_column is not None else None
    add_external = hashes["external_id"].append if external_column is not None else None
    lines: array[int] = array("I")
    add_line = lines.append
    for row in rows:
        add_line(row.line)
        if row.problem is not None:
            for kind_hashes in hashes.values():
                kind_hashes.append(_NO_KEY)
            continue
        values = row.values
        # Each key's usual form (a plain ASCII email, an alphanumeric external id) is hashed
        # inline; anything else goes through its dup-key function. Same keys either way.
        email = values.get(email_column, "")
        if "@" in email and email.isascii() and email.isprintable() and " " not in email:
            add_email(hash(email.lower()))
        else:
            add_email(_hash_of(email_dup_key(email)))
        if add_external is not None:
            external = values.get(external_column or "", "")
            add_external(
                hash(external) if external.isalnum() else _hash_of(external_id_dup_key(external))
            )
        if add_id is not None:
            add_id(_hash_of(id_dup_key(values.get(id_column or "", ""))))
    by_ordinal: dict[int, list[DuplicateGroup]] = {}
    for kind, kind_hashes in hashes.items():
        for members in _shared_hashes(kind_hashes):
            group = DuplicateGroup(kind, tuple(members), tuple(lines[o] for o in members))
            for ordinal in members:
                by_ordinal.setdefault(ordinal, []).append(group)
    return DuplicateIndex({o: tuple(g) for o, g in by_ordinal.items()}, lines)


def _hash_of(key: str | int | None) -> int:
    return _NO_KEY if key is None else hash(key)


def _shared_hashes(hashes: array[int]) -> list[list[int]]:
    """The ordinals (indexes) of each hash that occurs more than once, in file order."""
    if len(hashes) <= SET_CHECK_MAX_ROWS:
        distinct = len(set(hashes))
        expected = len(hashes) - max(hashes.count(_NO_KEY) - 1, 0)
        if distinct == expected:
            return []
    ordered = sorted(hashes)
    repeated = {a for a, b in pairwise(ordered) if a == b and a != _NO_KEY}
    del ordered
    if not repeated:
        return []
    members: dict[int, list[int]] = {}
    for ordinal, value in enumerate(hashes):
        if value in repeated:
            members.setdefault(value, []).append(ordinal)
    return list(members.values())
