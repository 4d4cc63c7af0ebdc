"""Custom profile fields: resolve ``custom:<name>`` columns against Communal's definitions.

Organizations keep data beyond names and addresses in custom profile fields. A column
mapped as ``custom:<name>`` (by ``--map``, the config, or a header that matches a
definition's name when ``--custom-fields`` is on) is resolved here by name, ignoring case,
before anything is planned: an unknown name stops the run and lists the names that exist,
so a typo never writes nowhere. A ``locked`` field is never written: where the file's
value differs from Communal's, the plan reports it for that user (``locked_skips``).
``--allow-clear custom:<name>`` is resolved the same way (``resolve_allow_clear``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from communal_sync.api.models import CustomProfileField, CustomProfileFieldValue
from communal_sync.errors import ConfigError, InputError, UsageError
from communal_sync.fields import CUSTOM_PREFIX, custom_name, is_custom
from communal_sync.intake.mapping import ColumnMapping
from communal_sync.plan import LOCKED_REASON, CurrentValue, CustomWrite, FieldChange, SkippedField
from communal_sync.planning.diff import CLEAR_NAMES_HINT
from communal_sync.values.normalize import clean_text

CustomFieldMode = Literal["mapped", "headers", "off"]


@dataclass(frozen=True)
class CustomFields:
    """The custom fields a run touches: plan key ``custom:<name>`` -> definition."""

    writable: dict[str, CustomProfileField]
    locked: dict[str, CustomProfileField]

    @property
    def active(self) -> bool:
        """Whether any custom field can be written (only then are custom writes planned)."""
        return bool(self.writable)

    @property
    def reads_values(self) -> bool:
        """Whether a user's custom values must be read: to diff a writable field, or to
        report a locked one that differs (with neither, no custom request is made)."""
        return bool(self.writable or self.locked)

    def locked_skips(
        self, row_values: Mapping[str, str | None], values: Iterable[CustomProfileFieldValue]
    ) -> tuple[SkippedField, ...]:
        """The locked fields whose value in the row differs from the user's in Communal.

        A blank cell is no data, so never a difference; values compare trimmed, as
        writable custom values do. Each one is reported, never written.
        """
        if not self.locked:
            return ()
        stored = {v.custom_profile_field_id: v.value for v in values}
        skipped: list[SkippedField] = []
        for key, definition in self.locked.items():
            wanted = _trimmed(row_values.get(custom_name(key)))
            if wanted is None:
                continue
            now = _trimmed(stored.get(definition.id))
            if now != wanted:
                skipped.append(
                    SkippedField(field=key, source=wanted, current=now, reason=LOCKED_REASON)
                )
        return tuple(skipped)

    def current(
        self, values: Iterable[CustomProfileFieldValue]
    ) -> tuple[dict[str, CurrentValue], dict[str, int]]:
        """A user's live custom values by plan key, and their value record ids.

        A field the user has no value for is live and empty: the list is complete.
        """
        by_id = {d.id: key for key, d in self.writable.items()}
        record: dict[str, CurrentValue] = {
            key: CurrentValue(None, "live") for key in by_id.values()
        }
        ids: dict[str, int] = {}
        for value in values:
            key = by_id.get(value.custom_profile_field_id or -1)
            if key is None:
                continue
            record[key] = CurrentValue(value.value or None, "live")
            ids[key] = value.id
        return record, ids

    def writes(
        self, changes: Iterable[FieldChange], value_ids: Mapping[str, int]
    ) -> tuple[CustomWrite, ...]:
        """The value writes that carry out the custom-field ``changes``."""
        planned: list[CustomWrite] = []
        for change in changes:
            definition = self.writable.get(change.field)
            if definition is None:
                continue
            value_id = value_ids.get(change.field)
            if change.after is None and value_id is None:
                continue  # nothing stored, nothing to clear
            planned.append(
                CustomWrite(
                    field=change.field,
                    field_id=definition.id,
                    name=definition.name or custom_name(change.field),
                    value_id=value_id,
                    value=change.after,
                )
            )
        return tuple(planned)

    def warnings(self) -> tuple[str, ...]:
        """One line per locked field the file has a column for."""
        return tuple(
            f"Custom field {d.name!r} is locked in Communal: its column is read but never written."
            for d in self.locked.values()
        )


NO_CUSTOM_FIELDS = CustomFields(writable={}, locked={})


class DefinitionReader(Protocol):
    """The part of the API client custom-field resolution uses."""

    def list_custom_profile_fields(self) -> list[CustomProfileField]: ...


def prepare_custom_fields(
    mapping: ColumnMapping, client: DefinitionReader, mode: CustomFieldMode
) -> tuple[ColumnMapping, CustomFields]:
    """Settle which columns are custom fields and resolve them, with one request at most.

    ``mapped`` (the default) uses the columns mapped as ``custom:<name>``; ``headers`` also
    maps columns named like a definition; ``off`` ignores custom fields entirely. When no
    column is a custom field, no request is made.
    """
    if mode == "off":
        dropped = [c for c, f in mapping.columns.items() if is_custom(f)]
        if not dropped:
            return mapping, NO_CUSTOM_FIELDS
        columns = {c: f for c, f in mapping.columns.items() if not is_custom(f)}
        ignored = [*mapping.ignored, *dropped]
        return dataclasses.replace(mapping, columns=columns, ignored=ignored), NO_CUSTOM_FIELDS
    if mode == "mapped" and not custom_keys(mapping):
        return mapping, NO_CUSTOM_FIELDS
    definitions = client.list_custom_profile_fields()
    if mode == "headers":
        mapping = adopt_custom_headers(mapping, definitions)
    mapping = _canonical(mapping, resolve_custom_fields(custom_keys(mapping), definitions))
    return mapping, resolve_custom_fields(custom_keys(mapping), definitions)


def _canonical(mapping: ColumnMapping, fields: CustomFields) -> ColumnMapping:
    """Spell every custom column as its definition's name, one column per field.

    ``custom:t-shirt SIZE`` and ``custom:T-shirt size`` are one field: the plan, the base
    remembered after a push and the journal all use the definition's own spelling, so a
    change of spelling in --map never loses the base (and with it, a conflict).
    """
    spelled = {
        key: CUSTOM_PREFIX + str(d.name) for key, d in {**fields.writable, **fields.locked}.items()
    }
    columns = {c: spelled.get(f, f) for c, f in mapping.columns.items()}
    by_field: dict[str, list[str]] = {}
    for column, field in columns.items():
        if is_custom(field):
            by_field.setdefault(field, []).append(column)
    for field, named in by_field.items():
        if len(named) > 1:
            raise InputError(
                f"columns {', '.join(repr(c) for c in named)} all map to {field}.",
                file=None,
                hint='Keep one: --map "Column=" ignores a column.',
            )
    return dataclasses.replace(mapping, columns=columns)


def custom_keys(mapping: ColumnMapping) -> list[str]:
    """The ``custom:<name>`` fields the mapping feeds, in column order."""
    return [field for field in mapping.columns.values() if is_custom(field)]


def adopt_custom_headers(
    mapping: ColumnMapping, definitions: Sequence[CustomProfileField]
) -> ColumnMapping:
    """Map each unmapped column whose header is a definition's name to that custom field."""
    names = {_key(d.name or ""): d.name for d in definitions if d.name}
    adopted = {c: CUSTOM_PREFIX + str(names[_key(c)]) for c in mapping.unmapped if _key(c) in names}
    if not adopted:
        return mapping
    return dataclasses.replace(
        mapping,
        columns={**mapping.columns, **adopted},
        unmapped=[c for c in mapping.unmapped if c not in adopted],
    )


def resolve_custom_fields(
    keys: Iterable[str], definitions: Sequence[CustomProfileField]
) -> CustomFields:
    """Resolve ``custom:<name>`` keys to definitions by name, ignoring case.

    Raises ``ConfigError`` naming every unknown or ambiguous name and listing the fields
    that exist, before anything is planned or written.
    """
    by_name: dict[str, list[CustomProfileField]] = {}
    for definition in definitions:
        if definition.name and not definition.deleted_at:
            by_name.setdefault(_key(definition.name), []).append(definition)
    writable: dict[str, CustomProfileField] = {}
    locked: dict[str, CustomProfileField] = {}
    problems: list[str] = []
    for key in keys:
        found = by_name.get(_key(custom_name(key)), [])
        if len(found) != 1:
            what = "is not a custom profile field" if not found else "names several fields"
            problems.append(f"{custom_name(key)!r} {what}")
        elif found[0].locked:
            locked[key] = found[0]
        else:
            writable[key] = found[0]
    if problems:
        live = {d.name for d in definitions if d.name and not d.deleted_at}
        existing = ", ".join(sorted(repr(name) for name in live)) or "none"
        raise ConfigError(
            f"{'; '.join(problems)} in Communal. The custom fields there are: {existing}. "
            'Fix the name in --map "Column=custom:<name>" or the config file.'
        )
    return CustomFields(writable=writable, locked=locked)


def custom_source(values: Mapping[str, str | None], fields: CustomFields) -> dict[str, str | None]:
    """A row's custom values for the writable fields, trimmed; blank is ``None``."""
    return {key: _trimmed(values.get(custom_name(key))) for key in fields.writable}


def locked_source(values: Mapping[str, str | None], fields: CustomFields) -> dict[str, str | None]:
    """A row's custom values for the locked fields, trimmed; blank is ``None``.

    Never diffed nor sent: part of the row's hash only, so a changed locked value is
    compared (and reported) again instead of skipped as an unchanged row.
    """
    return {key: _trimmed(values.get(custom_name(key))) for key in fields.locked}


def resolve_allow_clear(
    names: Sequence[str], fields: CustomFields, client: DefinitionReader, mode: CustomFieldMode
) -> tuple[str, ...]:
    """``--allow-clear`` names with each ``custom:<name>`` spelled as its definition is.

    Names ignore case, as in column mapping, so ``custom:t-shirt size`` allows clearing
    the field the plan calls ``custom:T-shirt size``. A name that is no writable custom
    field (unknown, ambiguous, deleted or locked), or any custom name while custom fields
    are off, is a ``UsageError`` listing the valid names. Definitions are read (one
    request) only for a name the file has no column for.
    """
    wanted = [name for name in names if is_custom(name)]
    if not wanted:
        return tuple(names)
    if mode == "off":
        raise UsageError(
            f"--allow-clear {wanted[0]!r} names a custom field, but custom fields are off "
            "(--no-custom-fields, or custom_fields = false in the config), so it could clear "
            "nothing. Drop it, or turn custom fields on."
        )
    mapped = {_key(custom_name(k)): k for k in fields.writable}
    locked = {_key(custom_name(k)): k for k in fields.locked}
    definitions: list[CustomProfileField] | None = None
    resolved = [name for name in names if not is_custom(name)]
    for name in wanted:
        key = _key(custom_name(name))
        if key in mapped:
            resolved.append(mapped[key])
            continue
        if key in locked:
            raise UsageError(_locked_clear(locked[key]))
        if definitions is None:
            definitions = [
                d for d in client.list_custom_profile_fields() if d.name and not d.deleted_at
            ]
        found = [d for d in definitions if _key(str(d.name)) == key]
        if len(found) == 1 and found[0].locked:
            raise UsageError(_locked_clear(CUSTOM_PREFIX + str(found[0].name)))
        if len(found) != 1:
            writable = sorted(CUSTOM_PREFIX + str(d.name) for d in definitions if not d.locked)
            listed = ", ".join(writable) or "none"
            what = "is not a custom profile field" if not found else "names several fields"
            raise UsageError(
                f"--allow-clear {name!r} {what} in Communal. Use one of: {CLEAR_NAMES_HINT} "
                f"(the writable custom fields are: {listed}; names ignore case)."
            )
        resolved.append(CUSTOM_PREFIX + str(found[0].name))
    return tuple(sorted(set(resolved)))


def _locked_clear(key: str) -> str:
    return (
        f"--allow-clear {key!r}: that custom field is locked in Communal, so it is never "
        "written, nor cleared. Drop it from --allow-clear."
    )


def _trimmed(raw: str | None) -> str | None:
    text = clean_text(raw) if raw is not None else ""
    return text or None


def _key(name: str) -> str:
    return clean_text(name).casefold()
