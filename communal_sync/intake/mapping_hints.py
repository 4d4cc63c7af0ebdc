"""Hints about a mapping: which field an unmapped column may mean, and what a typo meant.

Pure functions over names, shared by validate's messages, ``--show-mapping``, ``init`` and
the mapping errors. A hint is only ever a question ("'EmailAddr' → email?"): nothing is
mapped by a guess. Every example a hint gives names a column the file really has.

- ``suggest_field``: a column's closest synonym (``difflib``, ratio at least
  ``SUGGESTION_CUTOFF``), never for the headers ``synonyms`` leaves out on purpose
  ("Name", "County", "Home Phone"...), and never ``id``: an id sends a row to whoever
  has that number.
- ``closest_field``: what a misspelt ``--map`` or config target meant ("first_nam" →
  first_name, "zip" → profile_zip).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Collection, Iterable, Sequence
from typing import Final

from communal_sync.fields import CUSTOM_PREFIX, MAPPABLE_FIELDS
from communal_sync.intake.synonyms import SYNONYM_INDEX, column_key

SUGGESTION_CUTOFF: Final = 0.8
"""How alike a column's key and a synonym's must be to suggest it (difflib's ratio)."""
SUGGESTED_COLUMNS: Final = 200
"""Unmapped columns looked at for a suggestion; each costs a fuzzy match against ~350 names."""
TYPO_CUTOFF: Final = 0.6
"""How alike a mistyped target and a field name must be for "did you mean"."""

DELIBERATELY_UNMAPPED: Final = frozenset(
    column_key(name)
    for name in (
        "Name", "Full Name", "County", "Region", "Second Name", "Nation", "Title",
        "Home Phone", "Business Phone", "Primary Phone", "Other Phone", "Land",
    )
)  # fmt: skip
"""Headers ``synonyms`` leaves unmapped on purpose: a suggestion would be the guess it avoids."""
WHOLE_NAME_HEADERS: Final = frozenset(column_key(n) for n in ("Name", "Full Name"))
"""Headers holding a whole name, which is never split into first and last."""
NEVER_SUGGESTED: Final = frozenset({"id"})


def suggest_field(header: str, *, taken: Collection[str] = ()) -> str | None:
    """The field ``header`` most likely means, or None.

    None too when that field is in ``taken``: "E-mail Adress" beside an email column is a
    second email, not the next-best field (an address).
    """
    key = column_key(header)
    if not key or key in DELIBERATELY_UNMAPPED or header.strip().startswith(CUSTOM_PREFIX):
        return None
    candidates = [s for s, target in SYNONYM_INDEX.items() if target not in NEVER_SUGGESTED]
    match = difflib.get_close_matches(key, candidates, n=1, cutoff=SUGGESTION_CUTOFF)
    if not match or SYNONYM_INDEX[match[0]] in taken:
        return None
    return SYNONYM_INDEX[match[0]]


def suggestions(unmapped: Iterable[str], *, taken: Collection[str]) -> dict[str, str]:
    """Column -> suggested field for the first ``SUGGESTED_COLUMNS`` unmapped columns; one
    column per field, first wins (a header of a million columns must not take minutes)."""
    found: dict[str, str] = {}
    used = set(taken)
    for header in itertools.islice(unmapped, SUGGESTED_COLUMNS):
        target = suggest_field(header, taken=used)
        if target is not None:
            found[header] = target
            used.add(target)
    return found


def closest_field(name: str) -> str | None:
    """The field a mistyped mapping target most likely meant, or None.

    A column synonym ("zip", "E-mail") names its field; otherwise the closest field name.
    """
    key = column_key(name)
    if key in SYNONYM_INDEX:
        return SYNONYM_INDEX[key]
    keys = {column_key(field): field for field in MAPPABLE_FIELDS}
    match = difflib.get_close_matches(key, list(keys), n=1, cutoff=TYPO_CUTOFF)
    return keys[match[0]] if match else None


def map_option(column: str, target: str) -> str:
    """``--map "Column=field"`` as a user would type it."""
    return f'--map "{column}={target}"'


def suggestion_text(found: dict[str, str]) -> str:
    """``'EmailAddr' → email? (--map "EmailAddr=email")``, one per suggestion, or ``""``."""
    return "; ".join(
        f"{column!r} → {target}? ({map_option(column, target)})" for column, target in found.items()
    )


def unmapped_advice(unmapped: Sequence[str], *, taken: Collection[str]) -> str:
    """What to do about columns that map to nothing, with examples from these columns.

    Suggestions first; then how to map, map as a custom field (``--custom-fields`` or
    ``custom:<name>``) or ignore a column, each example naming one of ``unmapped``.
    """
    if not unmapped:
        return ""
    found = suggestions(unmapped, taken=taken)
    rest = [column for column in unmapped if column not in found] or list(unmapped)
    example = rest[0]
    parts = []
    if found:
        parts.append(suggestion_text(found) + ".")
    parts.append(
        f"Map a column with {map_option(example, '<field>')}; a Communal custom profile field "
        f"with --custom-fields (plan, push) or {map_option(example, CUSTOM_PREFIX + example)}; "
        f"or say it is not needed with {map_option(example, '')}."
    )
    return " ".join(parts)
