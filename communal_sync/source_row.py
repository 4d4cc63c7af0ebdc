"""One raw record from an export file, before any mapping or validation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record as read: its starting line, its cells as text, and any row-level problem.

    ``values`` maps column (CSV) or key (JSON) to the text exactly as read: ``""`` for a
    missing cell or a JSON null, JSON numbers as their JSON text, booleans as
    ``"true"``/``"false"``. ``problem`` is a sentence saying why the row cannot be used
    (too many cells, not an object, a nested value); ``problem_field`` names the column it
    is about, when there is one.
    """

    line: int
    values: dict[str, str]
    problem: str | None = None
    problem_field: str | None = None
