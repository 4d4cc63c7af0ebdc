"""Which source column feeds which Communal field.

A column maps by, in order: an explicit override (``--map "Column=field"`` or the config
file's ``[mapping]`` table), a ``custom:<name>`` header, or the synonym table (see
``synonyms``). Columns that map to nothing are reported, never silently dropped; two
columns for one field, or no column for a required field, stop the run before any row is
read, because every guess there would put data in the wrong place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from communal_sync.display import cut
from communal_sync.errors import ConfigError, InputError, UsageError
from communal_sync.fields import CUSTOM_PREFIX, MAPPABLE_FIELDS, REQUIRED_FIELDS
from communal_sync.intake.mapping_hints import (
    WHOLE_NAME_HEADERS,
    closest_field,
    map_option,
    suggestion_text,
    suggestions,
)
from communal_sync.intake.synonyms import SYNONYM_INDEX, column_key

_FIELD_BY_KEY = {column_key(name): name for name in MAPPABLE_FIELDS}


@dataclass(frozen=True)
class ColumnMapping:
    """The result of mapping one file's header: column -> field, plus what was left out."""

    columns: dict[str, str]
    """Source column -> field ("first_name", "id", "external_id", "custom:T-shirt size")."""
    unmapped: list[str]
    """Columns that map to nothing, in file order (reported to the user)."""
    ignored: list[str]
    """Columns the user explicitly ignored with ``--map "Column="``."""
    _pairs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pairs", tuple(self.columns.items()))

    def fields_of(self, values: Mapping[str, str]) -> dict[str, str]:
        """Field -> raw text for one row; a column missing from ``values`` reads as ``""``.

        Called once per row, so it is a single dict comprehension over precomputed pairs.
        """
        get = values.get
        return {target: get(column, "") for column, target in self._pairs}

    def column_of(self, target: str) -> str | None:
        """The source column that feeds ``target``, for messages ("column 'E-mail'")."""
        for column, mapped in self._pairs:
            if mapped == target:
                return column
        return None

    @property
    def fields(self) -> list[str]:
        """The fields this file provides, in column order."""
        return [target for _, target in self._pairs]


def valid_field_names() -> str:
    """The field names ``--map`` accepts, as one line for error messages."""
    return ", ".join((*MAPPABLE_FIELDS, f"{CUSTOM_PREFIX}<name>"))


def resolve_field(name: str) -> str:
    """The canonical field a ``--map`` target names; ``""`` means "ignore this column".

    Accepts the field names in any case or spelling ("First Name" -> "first_name") and
    ``custom:<name>``, whose name is kept verbatim apart from trimming. Column synonyms
    ("zip") are not targets: a target says exactly which field. Raises ConfigError for
    anything else.
    """
    text = name.strip()
    if not text:
        return ""
    if text[: len(CUSTOM_PREFIX)].casefold() == CUSTOM_PREFIX:
        custom = text[len(CUSTOM_PREFIX) :].strip()
        if not custom:
            raise ConfigError(
                f"Mapping target {name!r} has no custom field name: write it as "
                '"custom:<field name>", for example "custom:T-shirt size".'
            )
        return CUSTOM_PREFIX + custom
    resolved = _FIELD_BY_KEY.get(column_key(text))
    if resolved is None:
        closest = closest_field(text)
        guess = f": did you mean {closest!r}?" if closest else "."
        raise ConfigError(
            f"unknown field {text!r}{guess} It is not a Communal field; valid fields: "
            f"{valid_field_names()}."
        )
    return resolved


def parse_map_option(items: Sequence[str]) -> dict[str, str]:
    """Parse repeated ``--map "Column=field"`` options into column -> target.

    ``"Column="`` (empty target) means ignore the column. The last ``=`` splits, so column
    names may contain ``=``. Targets are checked later, against the file, by build_mapping.
    """
    result: dict[str, str] = {}
    for item in items:
        column, equals, target = item.rpartition("=")
        column = column.strip()
        if not equals or not column:
            # The example reuses what was typed: a column name of our own would be one the
            # file may not have.
            typed = cut(item.strip())
            if equals:  # "=email": the column is missing
                example = map_option("Column", cut(target.strip()) or "<field>")
            elif _FIELD_BY_KEY.get(column_key(typed)) is not None:  # a field alone
                example = map_option("Column", _FIELD_BY_KEY[column_key(typed)])
            else:  # a column alone
                example = f"{map_option(typed, '<field>')}, or {map_option(typed, '')} to ignore it"
            raise UsageError(
                f"--map {item!r} is not in the form Column=field: write it as {example}."
            )
        target = target.strip()
        try:
            resolve_field(target)
        except ConfigError as error:
            # A wrong field on the command line is a usage error (exit 2), like any bad flag.
            raise UsageError(f"--map {item!r}: {error}") from None
        if result.get(column, target) != target:
            raise UsageError(
                f"--map gives column {column!r} twice ({result[column]!r} and {target!r}): "
                "keep one."
            )
        result[column] = target
    return result


def build_mapping(
    headers: Sequence[str],
    *,
    overrides: Mapping[str, str] | None = None,
    source_name: str = "input",
) -> ColumnMapping:
    """Map a file's columns to fields: overrides first, then ``custom:`` headers, synonyms.

    A field named by an override is taken from that column only: other columns whose
    names would map to it automatically are left unmapped (and reported as such).

    Raises ConfigError when an override names an unknown field or a column the file does
    not have (a typo would otherwise be silently ignored), and InputError when two columns
    map to one field or a required field has no column.
    """
    chosen = resolve_overrides(headers, overrides or {}, source_name)
    columns: dict[str, str] = {}
    unmapped: list[str] = []
    ignored: list[str] = []
    claimed = set(chosen.values())
    for header in headers:
        if header in chosen:
            target: str | None = chosen[header]
        else:
            target = _automatic_field(header)
            if target in claimed:
                target = None  # an explicit mapping chose another column for this field
        if target is None:
            unmapped.append(header)
        elif target == "":
            ignored.append(header)
        else:
            columns[header] = target
    _check_one_column_per_field(columns, source_name)
    _check_required(headers, columns, source_name)
    return ColumnMapping(columns=columns, unmapped=unmapped, ignored=ignored)


def _automatic_field(header: str) -> str | None:
    stripped = header.strip()
    if stripped[: len(CUSTOM_PREFIX)].casefold() == CUSTOM_PREFIX:
        custom = stripped[len(CUSTOM_PREFIX) :].strip()
        return CUSTOM_PREFIX + custom if custom else None
    return SYNONYM_INDEX.get(column_key(header))


def resolve_overrides(
    headers: Sequence[str], overrides: Mapping[str, str], source_name: str
) -> dict[str, str]:
    """Header -> target ("" to ignore) for each override, matching the header leniently."""
    by_exact = set(headers)
    by_fold: dict[str, list[str]] = {}
    by_key: dict[str, list[str]] = {}
    for header in headers:
        by_fold.setdefault(header.strip().casefold(), []).append(header)
        by_key.setdefault(column_key(header), []).append(header)
    chosen: dict[str, str] = {}
    for column, target in overrides.items():
        if column in by_exact:
            header = column
        else:
            candidates = by_fold.get(column.strip().casefold()) or by_key.get(column_key(column))
            if not candidates or len(candidates) > 1:
                raise ConfigError(
                    f"The mapping names column {column!r}, but {source_name} has no such "
                    f"column. Its columns are: {_quoted(headers)}. Fix the column name in "
                    "--map or in the [mapping] table of communal-sync.toml."
                )
            header = candidates[0]
        chosen[header] = resolve_field(target)
    return chosen


def _check_one_column_per_field(columns: Mapping[str, str], source_name: str) -> None:
    by_field: dict[str, list[str]] = {}
    for column, target in columns.items():
        by_field.setdefault(target, []).append(column)
    clashes = {target: cols for target, cols in by_field.items() if len(cols) > 1}
    if not clashes:
        return
    problems = "; ".join(f"columns {_quoted(cols)} all map to {t}" for t, cols in clashes.items())
    target, cols = next(iter(clashes.items()))
    cols = [cut(col) for col in cols]
    raise InputError(
        f"{problems}.",
        file=source_name,
        line=1,
        hint=(
            f'Choose one: --map "{cols[0]}={target}" uses {cols[0]!r} and leaves the others '
            f'out, or --map "{cols[-1]}=" ignores {cols[-1]!r}, or --map "{cols[-1]}=<field>" '
            "points it at another field."
        ),
    )


def _check_required(headers: Sequence[str], columns: Mapping[str, str], source_name: str) -> None:
    if not headers:
        return  # JSON with no usable record (say, []): each row, if any, reports itself
    present = set(columns.values())
    missing = [name for name in REQUIRED_FIELDS if name not in present]
    if not missing:
        return
    unmapped = [header for header in headers if header not in columns]
    found = {
        column: target
        for column, target in suggestions(unmapped, taken=present).items()
        if target in missing
    }
    hint = ""
    if found:
        hint = f"{suggestion_text(found)}."
        left = [name for name in missing if name not in found.values()]
        if left:
            hint += f' For {", ".join(left)}, map a column with --map "Column=field".'
    whole = [h for h in unmapped if column_key(h) in WHOLE_NAME_HEADERS]
    if whole and {"first_name", "last_name"} & set(missing):
        hint += (
            f" ({cut(whole[0])!r} is not split into first and last names: export them as two "
            "columns.)"
        )
    else:
        example = cut((unmapped or list(headers))[0])
        hint = (
            f'Name the column with --map "Column={missing[0]}" '
            f"(for example {map_option(example, missing[0])})."
        )
    raise InputError(
        f"no column maps to {', '.join(missing)}, which every row needs. "
        f"The columns are: {_quoted(headers)}.",
        file=source_name,
        line=1,
        hint=hint,
    )


QUOTED_NAMES_SHOWN = 30
"""Column names listed in a message; a header of a million columns must not make a 10 MB line."""


def _quoted(names: Sequence[str]) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(repr(cut(name)) for name in names[:QUOTED_NAMES_SHOWN])
    rest = len(names) - QUOTED_NAMES_SHOWN
    return f"{shown} and {rest} more" if rest > 0 else shown
