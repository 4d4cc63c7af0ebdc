"""One raw record from an export file, before any mapping or validation."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import FrozenInstanceError
from itertools import islice, repeat
from typing import Any, Final

__all__ = [
    "KEY_BATCH_ROWS",
    "KeyBatch",
    "RowBatch",
    "SourceRow",
    "batches_of",
    "key_batches_of",
    "row_from_cells",
    "rows_from_records",
]

KeyBatch = tuple[list[int], list[list[str]]]
"""Some consecutive rows, cut down to a few columns: their lines, and one list of cells per
column (aligned with the lines). A row with a read problem has "" in every column."""

KEY_BATCH_ROWS: Final = 1024
"""Rows per KeyBatch: enough to hash a column with a few C calls, little memory."""

RowBatch = tuple[list["SourceRow"], Sequence[Sequence[str]] | None]
"""Some consecutive rows, and their records when every one of them is a problem-free record
with one cell per column of the same header (then ``rows[i].cells is records[i]`` and
``rows[0].columns`` is that header): validation checks such a batch column by column."""

ROW_BATCH_ROWS: Final = 128
"""Rows per RowBatch made of a plain row stream (``batches_of``)."""


class SourceRow:
    """One record as read: its starting line, its cells as text, and any row-level problem.

    ``values`` maps column (CSV) or key (JSON) to the text exactly as read: ``""`` for a
    missing cell or a JSON null, JSON numbers as their JSON text, booleans as
    ``"true"``/``"false"``. ``problem`` is a sentence saying why the row cannot be used
    (too many cells, not an object, a nested value); ``problem_field`` names the column it
    is about, when there is one.

    A CSV record with exactly one cell per header column also keeps its ``cells`` (in
    ``columns`` order, ``columns`` being the header): validation reads them by position,
    and ``values`` is only built, once, when something asks for it. Other rows have both
    set to None. Immutable, compared by line, values and problem, like the dataclass it was.
    """

    __slots__ = ("_values", "cells", "columns", "line", "problem", "problem_field")

    line: int
    problem: str | None
    problem_field: str | None
    cells: Sequence[str] | None
    columns: Sequence[str] | None
    _values: dict[str, str]

    def __init__(
        self,
        line: int,
        values: dict[str, str],
        problem: str | None = None,
        problem_field: str | None = None,
    ) -> None:
        _set_line(self, line)
        _set_values(self, values)
        _set_problem(self, problem)
        _set_problem_field(self, problem_field)
        _set_cells(self, None)
        _set_columns(self, None)

    @property
    def values(self) -> dict[str, str]:
        """Column (or key) -> text, for every column of the record."""
        try:
            return self._values
        except AttributeError:  # a row from row_from_cells: build the dict on first use
            assert self.columns is not None and self.cells is not None
            values = dict(zip(self.columns, self.cells, strict=True))
            _set_values(self, values)
            return values

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceRow):
            return NotImplemented
        return (self.line, self.values, self.problem, self.problem_field) == (
            other.line,
            other.values,
            other.problem,
            other.problem_field,
        )

    __hash__ = None  # type: ignore[assignment]  # values is a dict, as in the dataclass

    def __repr__(self) -> str:
        return (
            f"SourceRow(line={self.line!r}, values={self.values!r}, "
            f"problem={self.problem!r}, problem_field={self.problem_field!r})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (SourceRow, (self.line, self.values, self.problem, self.problem_field))


# The slots set through their descriptors: __setattr__ refuses, and this is also what keeps
# a row cheap to make once per record of a million-row file.
_SLOTS: Final[Mapping[str, Any]] = vars(SourceRow)
_set_line: Final = _SLOTS["line"].__set__
_set_values: Final = _SLOTS["_values"].__set__
_set_problem: Final = _SLOTS["problem"].__set__
_set_problem_field: Final = _SLOTS["problem_field"].__set__
_set_cells: Final = _SLOTS["cells"].__set__
_set_columns: Final = _SLOTS["columns"].__set__
_new: Final = object.__new__


class _CellRow(SourceRow):
    """A problem-free row made from cells: no problem is a class attribute, not two writes."""

    __slots__ = ()
    problem = None
    problem_field = None


def row_from_cells(line: int, columns: Sequence[str], cells: Sequence[str]) -> SourceRow:
    """A problem-free row holding ``cells`` (one per column) and building ``values`` lazily.

    ``len(cells)`` must equal ``len(columns)``. Three slot writes, no dict, until someone
    reads ``values``.
    """
    row: SourceRow = _new(_CellRow)
    _set_line(row, line)
    _set_cells(row, cells)
    _set_columns(row, columns)
    return row


def rows_from_records(
    lines: Iterable[int], columns: Sequence[str], records: Sequence[Sequence[str]]
) -> list[SourceRow]:
    """``row_from_cells`` for each record, with no Python-level work per row.

    This is the reader's hot path (once per record of a million-row file): the rows are made
    and their slots written by C-level maps.
    """
    rows: list[SourceRow] = list(map(_new, repeat(_CellRow, len(records))))
    _consume(map(_set_line, rows, lines))
    _consume(map(_set_cells, rows, records))
    _consume(map(_set_columns, rows, repeat(columns)))
    return rows


def _consume(calls: Iterator[None]) -> None:
    deque(calls, maxlen=0)


def batches_of(rows: Iterable[SourceRow]) -> Iterator[RowBatch]:
    """The rows in batches of ``ROW_BATCH_ROWS``, without records: the generic form of
    ``Source.row_batches``, for readers that do not parse records."""
    rows = iter(rows)
    while batch := list(islice(rows, ROW_BATCH_ROWS)):
        yield batch, None


def key_batches_of(rows: Iterable[SourceRow], columns: Sequence[str]) -> Iterator[KeyBatch]:
    """The rows' lines and ``columns`` cells in batches ("" where absent or for a problem row).

    The generic form of ``Source.key_batches``, for readers with no faster way to pick columns.
    """
    lines: list[int] = []
    records: list[tuple[str, ...]] = []
    blank = ("",) * len(columns)
    for row in rows:
        lines.append(row.line)
        if row.problem is not None:
            records.append(blank)
        else:
            get = row.values.get
            records.append(tuple(get(column, "") for column in columns))
        if len(lines) == KEY_BATCH_ROWS:
            yield lines, [list(cells) for cells in zip(*records, strict=True)]
            lines, records = [], []
    if lines:
        yield lines, [list(cells) for cells in zip(*records, strict=True)]
