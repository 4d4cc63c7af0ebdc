"""Why each column of a file maps where it does, or why it maps nowhere (``--show-mapping``).

``explain_mapping`` replays the decisions ``mapping.build_mapping`` made, in its order
(``--map``, then the config file's ``[mapping]``, then a ``custom:`` header, then the
column's own name or a synonym), and says for each column which one decided. ``init``
writes the same explanations as comments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from communal_sync.fields import CUSTOM_PREFIX
from communal_sync.intake.mapping import ColumnMapping, resolve_overrides
from communal_sync.intake.mapping_hints import SUGGESTED_COLUMNS, map_option, suggest_field
from communal_sync.intake.settings import Settings
from communal_sync.intake.synonyms import SYNONYM_INDEX, column_key

Status = Literal["mapped", "ignored", "unmapped"]

BY_FLAG: Final = "--map"
BY_CONFIG: Final = "the config file"
BY_CUSTOM_HEADER: Final = "a custom: header"
BY_FIELD_NAME: Final = "the field's own name"
BY_SYNONYM: Final = "a known column name"


@dataclass(frozen=True)
class ColumnReport:
    """One column: where it goes (``field``, None when nowhere) and why, in words."""

    column: str
    status: Status
    field: str | None
    reason: str
    suggestion: str | None = None
    """The field an unmapped column may mean (a question, never applied)."""

    def line(self) -> str:
        """``'First Name' → first_name (a known column name)`` and the like."""
        if self.status == "mapped":
            return f"{self.column!r} → {self.field} ({self.reason})"
        return f"{self.column!r}: {self.status}: {self.reason}"

    def as_json(self) -> dict[str, str | None]:
        return {
            "column": self.column,
            "status": self.status,
            "field": self.field,
            "reason": self.reason,
            "suggestion": self.suggestion,
        }


def explain_mapping(
    headers: Sequence[str], mapping: ColumnMapping, settings: Settings, source_name: str
) -> list[ColumnReport]:
    """One ``ColumnReport`` per header, in file order, for a mapping ``build_mapping`` made."""
    keys = {column_key(h) for h in headers}
    by_flag = resolve_overrides(headers, settings.flag_mapping, source_name)
    config_entries = {
        column: target
        for column, target in settings.config_mapping.items()
        if column_key(column) in keys
    }
    by_config = {
        header: target
        for header, target in resolve_overrides(headers, config_entries, source_name).items()
        if header not in by_flag
    }
    taken = set(mapping.columns.values())
    reports = []
    for index, header in enumerate(headers):
        decided = BY_FLAG if header in by_flag else BY_CONFIG if header in by_config else None
        if header in mapping.columns:
            target = mapping.columns[header]
            reports.append(ColumnReport(header, "mapped", target, decided or _automatic(header)))
        elif header in mapping.ignored:
            how = map_option(header, "") if decided == BY_FLAG else f'"{header}" = ""'
            reports.append(ColumnReport(header, "ignored", None, f"by {decided}: {how}"))
        else:
            reports.append(_unmapped(header, mapping, taken, guess=index < SUGGESTED_COLUMNS))
    return reports


def _automatic(header: str) -> str:
    if header.strip()[: len(CUSTOM_PREFIX)].casefold() == CUSTOM_PREFIX:
        return BY_CUSTOM_HEADER
    target = SYNONYM_INDEX.get(column_key(header))
    return (
        BY_FIELD_NAME
        if target is not None and column_key(target) == column_key(header)
        else (BY_SYNONYM)
    )


def _unmapped(header: str, mapping: ColumnMapping, taken: set[str], *, guess: bool) -> ColumnReport:
    automatic = SYNONYM_INDEX.get(column_key(header))
    if automatic is not None and automatic in taken:
        other = mapping.column_of(automatic)
        return ColumnReport(
            header,
            "unmapped",
            None,
            f"it would be {automatic}, but {automatic} comes from column {other!r}",
        )
    lookalike = suggest_field(header) if guess else None
    if lookalike is not None and lookalike in taken:
        other = mapping.column_of(lookalike)
        return ColumnReport(
            header,
            "unmapped",
            None,
            f"it looks like {lookalike}, which comes from column {other!r}; "
            f"{map_option(header, lookalike)} takes it from this one instead",
        )
    suggestion = lookalike
    if suggestion is not None:
        return ColumnReport(
            header,
            "unmapped",
            None,
            f"{suggestion}? map it with {map_option(header, suggestion)}",
            suggestion=suggestion,
        )
    return ColumnReport(
        header,
        "unmapped",
        None,
        f"no field by that name. A custom profile field? --custom-fields (plan, push) or "
        f"{map_option(header, CUSTOM_PREFIX + header)}; another field: "
        f"{map_option(header, '<field>')}",
    )
