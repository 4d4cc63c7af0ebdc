"""The three-way, normalization-aware field diff: what to change, what is a conflict.

Pure functions only. For each field there are three values: the *source* (the file), the
*current* value (live from Communal, from our snapshot, or unknown) and the *base* (what we
last pushed). Cosmetic differences (email case, spacing, Unicode forms, phone formatting,
country and date spellings) are never changes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from communal_sync.errors import UsageError
from communal_sync.fields import CUSTOM_PREFIX, OPTIONAL_FIELDS, REQUIRED_FIELDS, custom_name
from communal_sync.plan import (
    UNKNOWN,
    Conflict,
    ConflictPolicy,
    CurrentValue,
    FieldChange,
    Resolution,
)
from communal_sync.values.normalize import (
    clean_text,
    email_key,
    normalize_country,
    normalize_date,
    phone_key,
    phone_region,
)

CLEAR_ALL: Final = "all"
CLEARABLE_FIELDS: Final = OPTIONAL_FIELDS
"""The standard fields ``--allow-clear`` may name: every nullable one."""
CLEAR_NAMES_HINT: Final = (
    f"{CLEAR_ALL}, {', '.join(CLEARABLE_FIELDS)}, or {CUSTOM_PREFIX}<name> for a custom "
    "profile field"
)
CURRENT_UNKNOWN_NOTE: Final = "current unknown"
RESOLUTIONS: Final[Mapping[ConflictPolicy, Resolution]] = {
    "skip": "skipped",
    "source": "source",
    "communal": "communal",
}
"""How a conflict is resolved under each ``--on-conflict``."""


def snapshot_note(as_of: str | None) -> str:
    """What a change over a snapshot value says: the value is ours, not read from Communal."""
    when = f" on {as_of}" if as_of else ""
    return f"last pushed by us{when}; Communal may differ (it does not show this field)"


@dataclass(frozen=True)
class FieldDiff:
    """The diff of one record: changes to send, conflicts to report.

    ``final`` is each field's value in Communal afterwards where known (the body builder
    reads the required trio from it). ``asserted`` is what the row sets or confirms, to be
    recorded as the base after a push: it leaves out fields the row leaves to Communal (a
    blank cell, a conflict not resolved for the file, an edit made only in Communal), so
    their base stays what we last sent.
    """

    changes: tuple[FieldChange, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    final: dict[str, str | None] = field(default_factory=dict)
    asserted: dict[str, str | None] = field(default_factory=dict)


PHONE_CACHE_SIZE: Final = 4096
"""Telephone keys and regions remembered (least recently used go first): parsing one with
phonenumbers costs ~70 us, and a plan compares each number twice or more (the file's, the
live one, our base), a push again when it checks what landed."""


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _phone_key(text: str, region: str | None) -> str:
    return phone_key(text, region)


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _phone_region(text: str | None) -> str | None:
    return phone_region(text)


_PLAIN_PHONE: Final = re.compile(r"\+?[0-9 ().-]+")
"""A telephone written as ASCII digits with only spaces, dots, dashes and parentheses (and
a leading +): phonenumbers reads such a text by its digits alone."""
_NOT_ASCII_DIGIT: Final = re.compile(r"[^0-9]")


def _plainly_same_phone(a: str, b: str) -> bool:
    """Whether two telephones are plainly the same: both written with nothing but digits
    and separators, both with or both without a leading +, and the same three or more
    digits. Then no
    region can read them apart, so they need not be parsed (``same_phone`` agrees; held by
    tests/planning/test_phone_fast_path.py)."""
    if (a[:1] == "+") != (b[:1] == "+") or _PLAIN_PHONE.fullmatch(a) is None:
        return False
    digits = _NOT_ASCII_DIGIT.sub("", a)
    # two digits alone read as a number where "0.1" does not: at least three
    return (
        len(digits) >= 3
        and _PLAIN_PHONE.fullmatch(b) is not None
        and digits == _NOT_ASCII_DIGIT.sub("", b)
    )


def same_phone(a: str | None, b: str | None, region: str | None = None) -> bool:
    """``values.normalize.same_phone``, with each number's key and region remembered
    (``PHONE_CACHE_SIZE``) and plainly equal numbers not parsed at all."""
    text_a, text_b = a or "", b or ""
    if text_a == text_b or _plainly_same_phone(text_a, text_b):
        return True
    where = region or _phone_region(a) or _phone_region(b)
    return _phone_key(text_a, where) == _phone_key(text_b, where)


def comparison_key(field_name: str, value: str | None, *, region: str | None = None) -> str:
    """The form two values of ``field_name`` are compared in; blank and None are equal."""
    if value is None:
        return ""
    text = clean_text(value)
    if not text:
        return ""
    if field_name == "email":
        return email_key(text)
    if field_name == "telephone":
        return _phone_key(text, region)
    if field_name == "profile_country":
        return normalize_country(text) or text.upper()
    if field_name == "date_of_birth":
        try:
            return normalize_date(text, order=None) or text
        except ValueError:
            return text
    return text


def same_value(field_name: str, a: str | None, b: str | None, *, region: str | None) -> bool:
    """Whether ``a`` and ``b`` are the same value of ``field_name``, cosmetics aside.

    Telephones are compared by the number they dial (``same_phone``): without ``region``
    a national number is read in the country of the other, international one.
    """
    if field_name == "telephone":
        blank_a, blank_b = not clean_text(a or ""), not clean_text(b or "")
        if blank_a or blank_b:
            return blank_a and blank_b
        return same_phone(a, b, region)
    return comparison_key(field_name, a, region=region) == comparison_key(
        field_name, b, region=region
    )


def check_allow_clear(names: Iterable[str]) -> tuple[str, ...]:
    """The ``--allow-clear`` values, checked and spelled as the plan spells fields.

    Standard names and ``all`` ignore case; ``custom:<name>`` is kept for
    ``custom_fields.resolve_allow_clear`` to resolve against Communal's definitions. A
    name that is no clearable field, or a required one (never cleared), is a
    ``UsageError``: a typo must not silently clear nothing.
    """
    checked: set[str] = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name[: len(CUSTOM_PREFIX)].casefold() == CUSTOM_PREFIX:
            if not custom_name(name).strip():
                raise UsageError(
                    f"--allow-clear {raw!r} names no custom field: write "
                    f'{CUSTOM_PREFIX}<name>, e.g. --allow-clear "{CUSTOM_PREFIX}T-shirt size".'
                )
            checked.add(CUSTOM_PREFIX + custom_name(name).strip())
            continue
        lowered = name.casefold()
        if lowered in REQUIRED_FIELDS:
            raise UsageError(
                f"--allow-clear {raw!r}: {lowered} is required by Communal, so it is never "
                f"cleared. Drop it; the fields that can be cleared are {CLEAR_NAMES_HINT}."
            )
        if lowered != CLEAR_ALL and lowered not in CLEARABLE_FIELDS:
            raise UsageError(
                f"--allow-clear {raw!r} is not a field that can be cleared. "
                f"Use one of: {CLEAR_NAMES_HINT}."
            )
        checked.add(lowered)
    return tuple(sorted(checked))


def clear_allowed(field_name: str, allow_clear: Collection[str]) -> bool:
    """Whether a blank cell may clear ``field_name``: named, or ``all``; never a required one."""
    if field_name in REQUIRED_FIELDS:
        return False
    return CLEAR_ALL in allow_clear or field_name in allow_clear


def diff_fields(
    source: Mapping[str, str | None],
    current: Mapping[str, CurrentValue],
    base: Mapping[str, str | None] | None,
    *,
    on_conflict: ConflictPolicy = "skip",
    allow_clear: Collection[str] = (),
    region: str | None = None,
) -> FieldDiff:
    """Diff the file's values against Communal's, with our last push as the common base.

    A blank source value (``None``) is "no data" and never a change unless clearing is
    allowed for that field. A field whose current value is unknown is planned as a change
    marked "current unknown". A field changed in Communal since our last push (current
    differs from base) that the file also changed (source differs from base) is a conflict,
    resolved by ``on_conflict``; one the file did not change is Communal's edit, and stands.
    See ``FieldDiff`` for ``final`` and ``asserted``.
    """
    changes: list[FieldChange] = []
    conflicts: list[Conflict] = []
    final: dict[str, str | None] = {}
    asserted: dict[str, str | None] = {}
    for name, wanted in source.items():
        now = current.get(name, UNKNOWN)
        final[name] = now.value
        if wanted is None or not clean_text(wanted):
            if not clear_allowed(name, allow_clear):
                continue
            wanted = None
        if now.provenance == "unknown":
            changes.append(
                FieldChange(
                    field=name,
                    before=None,
                    after=wanted,
                    provenance="unknown",
                    note=CURRENT_UNKNOWN_NOTE,
                )
            )
            final[name] = asserted[name] = wanted
            continue
        if same_value(name, now.value, wanted, region=region):
            asserted[name] = now.value
            continue
        if (
            base is not None
            and name in base
            and not same_value(name, now.value, base[name], region=region)
        ):
            if same_value(name, wanted, base[name], region=region):
                continue
            resolution = RESOLUTIONS[on_conflict]
            conflicts.append(
                Conflict(
                    field=name,
                    base=base[name],
                    current=now.value,
                    source=wanted,
                    resolution=resolution,
                )
            )
            if on_conflict != "source":
                continue
        note = snapshot_note(now.as_of) if now.provenance == "snapshot" else None
        changes.append(
            FieldChange(
                field=name,
                before=now.value,
                after=wanted,
                provenance=now.provenance,
                note=note,
            )
        )
        final[name] = asserted[name] = wanted
    return FieldDiff(
        changes=tuple(changes), conflicts=tuple(conflicts), final=final, asserted=asserted
    )


def build_put_body(
    diff: FieldDiff, current: Mapping[str, CurrentValue]
) -> dict[str, str | None] | None:
    """The ``PUT /users/{id}`` body: the required trio plus only the changed standard fields.

    ``None`` when nothing changes. ``null`` appears only for an explicit, allowed clear.
    The trio carries Communal's current value where the file does not change it, so a
    cosmetic difference (say, email case) is never sent.
    """
    standard = [c for c in diff.changes if not c.field.startswith("custom:")]
    if not standard:
        return None
    body: dict[str, str | None] = {}
    for name in REQUIRED_FIELDS:
        value = diff.final.get(name)
        if value is None:
            value = current.get(name, UNKNOWN).value
        body[name] = value
    for change in standard:
        body[change.field] = change.after
    return body
