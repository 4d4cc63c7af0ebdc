"""Check every row of an export and turn the good ones into ``ProfileRow``s.

Two passes: the first reads only the key columns (``Source.key_batches`` when the source
has it, else ``rows()``) and finds rows that share an email, id or external id (see
``duplicates``); the second checks the rows of ``source.row_batches()`` (else ``rows()``)
and emits a ``RowResult`` per row in file order, knowing the duplicate groups. Every error
of every row is collected; a row is never rejected on its first problem alone.

The second pass is the hot path (a benchmark holds validation to 3x a bare
``csv.DictReader``), so it works a batch of rows at a time: ``RowChecker.suspects`` checks a
CSV chunk's records column by column with C-level calls and names the few rows that are not
plainly valid; every other row's result is made by C-level maps, with its ``ProfileRow``
built only when someone reads ``RowResult.row`` (``validate`` only counts valid rows;
``plan`` reads them), without re-validating through pydantic (``profile_row.trusted_row``).
Only the named rows, and rows with duplicates, are judged one by one.

A caller that needs only the summary (the ``validate`` command) uses ``summarize_source``:
one read that checks each batch as above while hashing its keys, then the verdicts of rows
with duplicates, from their kept errors and their key cells read again.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import FrozenInstanceError, dataclass, field
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, Final, Literal, Protocol

from communal_sync.errors import InputError
from communal_sync.intake.duplicates import (
    DuplicateFinder,
    DuplicateGroup,
    DuplicateIndex,
    DuplicatePolicy,
    KeyKind,
    find_duplicates,
    index_duplicates,
    key_columns,
    key_hash,
)
from communal_sync.intake.mapping import ColumnMapping
from communal_sync.intake.profile_row import ProfileRow, RowError
from communal_sync.intake.row_checks import RowChecker
from communal_sync.sources.rows import RowBatch, SourceRow, batches_of, key_batches_of
from communal_sync.values.dates import DateOrder

__all__ = [
    "DuplicatePolicy",
    "ProfileRow",
    "RowError",
    "RowResult",
    "RowSource",
    "ValidationOptions",
    "ValidationSummary",
    "summarize",
    "summarize_source",
    "validate_source",
]

RowStatus = Literal["valid", "invalid", "duplicate"]

LINES_SHOWN: Final = 10
"""Other lines named in one duplicate message before "and N more"."""


class RowResult:
    """The verdict on one source row; ``row`` is set only when ``status`` is "valid".

    Immutable and compared field by field, like the frozen dataclass it was. A valid row
    that needed no cleaning gets its ``row`` built on first access (``validate`` only
    counts such rows; ``plan`` reads them); every check on it has already passed.
    """

    __slots__ = ("_make_row", "_row", "errors", "line", "source", "status")

    line: int
    source: SourceRow
    errors: tuple[RowError, ...]
    status: RowStatus
    _row: ProfileRow | None
    _make_row: Callable[[SourceRow], ProfileRow]

    def __init__(
        self,
        line: int,
        source: SourceRow,
        row: ProfileRow | None,
        errors: tuple[RowError, ...],
        status: RowStatus,
    ) -> None:
        for name, value in zip(
            ("line", "source", "_row", "errors", "status"),
            (line, source, row, errors, status),
            strict=True,
        ):
            _RESULT_SLOTS[name].__set__(self, value)

    @property
    def row(self) -> ProfileRow | None:
        """The validated row, or None when the row is invalid or a skipped duplicate."""
        try:
            return self._row
        except AttributeError:
            row = self._make_row(self.source)
            _set_row(self, row)
            return row

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowResult):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        line, source, row, errors, status = self._fields()
        return (
            f"RowResult(line={line!r}, source={source!r}, row={row!r}, "
            f"errors={errors!r}, status={status!r})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (RowResult, self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (self.line, self.source, self.row, self.errors, self.status)


class _CheckedRow(RowResult):
    """A valid row that needed no cleaning: status and errors are the class's, so making one
    is three slot writes (``validate_source``'s hot path)."""

    __slots__ = ()
    errors = ()
    status = "valid"


_RESULT_SLOTS: Final[Mapping[str, Any]] = vars(RowResult)
_set_row: Final = _RESULT_SLOTS["_row"].__set__
_set_line: Final = _RESULT_SLOTS["line"].__set__
_set_source: Final = _RESULT_SLOTS["source"].__set__
_set_make_row: Final = _RESULT_SLOTS["_make_row"].__set__
_new_result: Final = object.__new__
_LINE_OF: Final = attrgetter("line")


@dataclass
class ValidationOptions:
    """How to judge rows: the duplicate policy and how to read phones and ambiguous dates."""

    on_duplicate: DuplicatePolicy = "error"
    default_region: str | None = None
    date_order: DateOrder | None = None
    allow_confusable_emails: bool = False


class RowSource(Protocol):
    """What validation needs of a ``sources.Source``: a name and re-readable rows."""

    @property
    def name(self) -> str: ...

    def rows(self) -> Iterator[SourceRow]: ...


def validate_source(
    source: RowSource,
    mapping: ColumnMapping,
    options: ValidationOptions,
    *,
    on_row_count: Callable[[int], None] | None = None,
) -> Iterator[RowResult]:
    """Yield one RowResult per source row, in file order, after a first duplicate pass.

    Memory stays flat: the first pass keeps 64-bit key hashes, not values. Raises
    InputError if the second read does not see the rows the first one did (a file
    rewritten while we read it). ``on_row_count`` hears how many rows the first pass
    read, before the first result: a progress display's total.
    """
    duplicates = _find_duplicates(source, mapping)
    if on_row_count is not None:
        on_row_count(duplicates.rows)
    checker = RowChecker(
        mapping,
        date_order=options.date_order,
        allow_confusable_emails=options.allow_confusable_emails,
    )
    expected_lines = duplicates.lines
    judge = _Judge(checker, duplicates, options.on_duplicate, mapping)
    ordinal = 0
    for rows, records in _row_batches(source):
        end = ordinal + len(rows)
        lines = list(map(_LINE_OF, rows))
        changed = lines != expected_lines[ordinal:end].tolist()
        if changed:
            lines, rows, records = _until_changed(lines, expected_lines, ordinal, rows, records)
        yield from judge.results(rows, records, lines, ordinal)
        if changed:
            changed_at = len(rows)
            raise _changed_while_reading(
                source.name, lines[changed_at] if changed_at < len(lines) else None
            )
        ordinal = end
    if ordinal != len(expected_lines):
        raise _changed_while_reading(source.name, None)


class _Judge:
    """The verdicts on batches of rows, knowing the duplicate groups (``validate_source``).

    The hot path: a batch's results are made for every row with C-level maps, as rows that
    needed no cleaning (three slot writes each, no model built for a caller that only counts
    rows); only the few rows ``RowChecker.suspects`` names, or that have duplicates, are
    then judged one by one and their results put in place.
    """

    def __init__(
        self,
        checker: RowChecker,
        duplicates: DuplicateIndex,
        policy: DuplicatePolicy,
        mapping: ColumnMapping,
    ) -> None:
        self._checker = checker
        self._groups = duplicates.groups_by_ordinal
        self._grouped = sorted(self._groups)
        self._next_grouped = 0
        self._policy = policy
        self._key_columns: dict[KeyKind, str] = {
            kind: mapping.column_of(kind) or "" for kind in ("email", "id", "external_id")
        }

    def results(
        self,
        rows: list[SourceRow],
        records: Sequence[Sequence[str]] | None,
        lines: list[int],
        ordinal: int,
    ) -> list[RowResult]:
        """The results of ``rows``, the batch whose first row is at ``ordinal``."""
        checker = self._checker
        suspects = None
        if records is not None and rows:
            columns = rows[0].columns
            assert columns is not None
            suspects = checker.suspects(columns, records)
        if suspects is None:
            accepts = checker.accepts
            suspects = {index for index, src in enumerate(rows) if not accepts(src)}
        end = ordinal + len(rows)
        grouped = self._grouped
        while self._next_grouped < len(grouped) and grouped[self._next_grouped] < end:
            suspects.add(grouped[self._next_grouped] - ordinal)
            self._next_grouped += 1
        results: list[RowResult] = list(map(_new_result, repeat(_CheckedRow, len(rows))))
        _consume(map(_set_line, results, lines))
        _consume(map(_set_source, results, rows))
        _consume(map(_set_make_row, results, repeat(checker.row_of)))
        for index in suspects:
            results[index] = self._judge(rows[index], ordinal + index)
        return results

    def _judge(self, src: SourceRow, ordinal: int) -> RowResult:
        """The result of a row that is not plainly valid, or has duplicates."""
        line = src.line
        groups = self._groups.get(ordinal)
        if groups is not None:
            data, errors = self._checker.check(src)
            skipped = _duplicate_verdict(
                src, ordinal, groups, self._policy, self._key_columns, errors
            )
            if skipped is not None and not errors:
                return RowResult(line, src, None, (skipped,), "duplicate")
        else:
            data, errors = self._checker.check_fully(src)
        if errors or data is None:
            return RowResult(line, src, None, tuple(errors), "invalid")
        return RowResult(line, src, self._checker.build(data), (), "valid")


def _find_duplicates(source: RowSource, mapping: ColumnMapping) -> DuplicateIndex:
    """The first pass, through ``source.key_batches`` when it has them (a CSV: no rows built)."""
    columns = key_columns(mapping)
    key_batches = getattr(source, "key_batches", None)
    if key_batches is None:
        return find_duplicates(source.rows(), mapping)
    return index_duplicates(key_batches(list(columns.values())), list(columns))


def _row_batches(source: RowSource) -> Iterator[RowBatch]:
    """``source.row_batches()`` when it has them (a CSV: records checked by column)."""
    row_batches = getattr(source, "row_batches", None)
    if row_batches is None:
        return batches_of(source.rows())
    batches: Iterator[RowBatch] = row_batches()
    return batches


def _until_changed(
    lines: list[int],
    expected: array[int],
    ordinal: int,
    rows: list[SourceRow],
    records: Sequence[Sequence[str]] | None,
) -> tuple[list[int], list[SourceRow], Sequence[Sequence[str]] | None]:
    """The rows of a batch before the first one the first pass did not see at its line.

    ``lines`` stays whole, so the caller can name the line where the file changed.
    """
    same = 0
    for line, seen in zip(lines, expected[ordinal:], strict=False):
        if line != seen:
            break
        same += 1
    return lines, rows[:same], records[:same] if records is not None else None


def _consume(calls: Iterator[None]) -> None:
    deque(calls, maxlen=0)


def _duplicate_verdict(
    src: SourceRow,
    ordinal: int,
    groups: Sequence[DuplicateGroup],
    policy: DuplicatePolicy,
    key_columns: dict[KeyKind, str],
    errors: list[RowError],
) -> RowError | None:
    """Add the "error" policy's errors to ``errors``, or return the "skipped" notice."""
    for group in groups:
        others = group.other_lines(ordinal)
        where = _line_list(others)
        label = "id" if group.kind == "id" else group.kind.replace("_", " ")
        value = src.values.get(key_columns[group.kind])
        if policy == "error":
            errors.append(
                RowError(
                    src.line,
                    group.kind,
                    value,
                    f"The same {label} is also on {where}: each person must appear once. "
                    "Remove the extra rows, or choose one with --on-duplicate first|last.",
                )
            )
            continue
        keeper = group.ordinals[0] if policy == "first" else group.ordinals[-1]
        if keeper != ordinal:
            kept_line = group.lines[group.ordinals.index(keeper)]
            return RowError(
                src.line,
                group.kind,
                value,
                f"Skipped: same {label} as line {kept_line}, and on_duplicate = {policy!r} "
                f"keeps the {policy} of them.",
            )
    return None


def _line_list(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:LINES_SHOWN])
    more = len(lines) - LINES_SHOWN
    noun = "line" if len(lines) == 1 else "lines"
    return f"{noun} {shown}" + (f" and {more} more" if more > 0 else "")


def _changed_while_reading(name: str, line: int | None) -> InputError:
    return InputError(
        "the file changed while it was being read (the second pass saw different rows).",
        file=name,
        line=line,
        hint="Run again once the export has finished writing.",
    )


@dataclass
class ValidationSummary:
    """Counts and errors over a whole file, for the ``validate`` command and reports."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    unmapped_columns: list[str] = field(default_factory=list)

    def add(self, result: RowResult) -> None:
        """Count one result and keep its errors (and a duplicate's notice)."""
        self.rows += 1
        if result.status == "valid":
            self.valid += 1
            return
        if result.status == "invalid":
            self.invalid += 1
        else:
            self.duplicates += 1
        self.errors.extend(result.errors)


def summarize(results: Iterable[RowResult], mapping: ColumnMapping) -> ValidationSummary:
    """Consume ``results`` into a ValidationSummary (counts, every error, unmapped columns)."""
    summary = ValidationSummary(unmapped_columns=list(mapping.unmapped))
    valid = 0
    for result in results:
        if result.status == "valid":
            valid += 1
        else:
            summary.add(result)
    summary.rows += valid
    summary.valid += valid
    return summary


def summarize_source(
    source: RowSource, mapping: ColumnMapping, options: ValidationOptions
) -> ValidationSummary:
    """``summarize(validate_source(...))`` in one read of the file when no two rows share a
    key (the usual export), for a caller that needs only the summary (``validate``).

    Each batch is checked as ``validate_source`` checks it (``RowChecker.suspects``, then
    ``check_fully`` for the rows it names) while its key cells are hashed
    (``DuplicateFinder``); only the errors of rows that are not valid are kept, by ordinal.
    If some rows share a key, their verdicts are made again at the end, as ``_Judge._judge``
    makes them, from the kept errors and their key cells, read again by
    ``source.key_batches`` (no checks). Same counts, errors and error order.
    """
    columns = key_columns(mapping)
    kinds = list(columns)
    wanted = list(columns.values())
    finder = DuplicateFinder(kinds)
    checker = RowChecker(
        mapping,
        date_order=options.date_order,
        allow_confusable_emails=options.allow_confusable_emails,
    )
    refused: dict[int, tuple[bool, tuple[RowError, ...]]] = {}
    """Ordinal -> (no values, errors) of each row ``check_fully`` did not pass."""
    ordinal = 0
    for rows, records in _row_batches(source):
        if not rows:
            continue
        suspects = None
        if records is not None:
            header = rows[0].columns
            assert header is not None
            suspects = checker.suspects(header, records)
            cell_at = [list(header).index(column) if column in header else -1 for column in wanted]
            finder.add(
                list(map(_LINE_OF, rows)),
                [
                    [""] * len(records) if index < 0 else list(map(itemgetter(index), records))
                    for index in cell_at
                ],
            )
        else:
            for batch_lines, cells in key_batches_of(rows, wanted):
                finder.add(batch_lines, cells)
        if suspects is None:
            accepts = checker.accepts
            suspects = {index for index, src in enumerate(rows) if not accepts(src)}
        for index in sorted(suspects):
            data, errors = checker.check_fully(rows[index])
            if errors or data is None:
                refused[ordinal + index] = (data is None, tuple(errors))
        ordinal += len(rows)
    verdicts: dict[int, tuple[RowStatus, tuple[RowError, ...]]] = {
        row_at: ("invalid", found) for row_at, (_, found) in refused.items()
    }
    duplicates = finder.finish()
    groups = duplicates.groups_by_ordinal
    if groups:
        key_column: dict[KeyKind, str] = {
            kind: mapping.column_of(kind) or "" for kind in ("email", "id", "external_id")
        }
        for at, src in _grouped_rows(source, duplicates, wanted, kinds):
            verdict = _grouped_verdict(
                src, at, groups[at], options.on_duplicate, key_column, refused.get(at)
            )
            if verdict is None:
                verdicts.pop(at, None)
            else:
                verdicts[at] = verdict
    summary = ValidationSummary(unmapped_columns=list(mapping.unmapped))
    for at in sorted(verdicts):
        status, found = verdicts[at]
        if status == "invalid":
            summary.invalid += 1
        else:
            summary.duplicates += 1
        summary.errors.extend(found)
    summary.rows = ordinal
    summary.valid = ordinal - summary.invalid - summary.duplicates
    return summary


def _grouped_rows(
    source: RowSource, duplicates: DuplicateIndex, columns: list[str], kinds: list[KeyKind]
) -> Iterator[tuple[int, SourceRow]]:
    """The rows in duplicate groups, by ordinal, holding only their key ``columns``' cells
    (what ``_duplicate_verdict`` reads), from a read of the key columns alone.

    A CSV's records are parsed only at those rows' lines (``Source.key_cells_at``); other
    sources are read whole. Raises InputError if that read does not see the rows the first
    one did: for a CSV, a line holding no record any more, or members of a group whose
    cells no longer share its key.
    """
    cells_at = getattr(source, "key_cells_at", None)
    found = None
    if cells_at is not None:
        wanted_at = sorted(duplicates.groups_by_ordinal)
        found = cells_at([duplicates.lines[at] for at in wanted_at], columns)
    if found is not None:
        yield from _grouped_rows_at(source.name, duplicates, columns, kinds, wanted_at, found)
        return
    key_batches = getattr(source, "key_batches", None)
    batches: Iterator[tuple[list[int], list[list[str]]]] = (
        key_batches_of(source.rows(), columns) if key_batches is None else key_batches(columns)
    )
    expected = duplicates.lines
    wanted = sorted(duplicates.groups_by_ordinal)
    next_wanted = 0
    ordinal = 0
    for lines, cells in batches:
        end = ordinal + len(lines)
        if list(lines) != expected[ordinal:end].tolist():
            raise _changed_while_reading(source.name, None)
        while next_wanted < len(wanted) and wanted[next_wanted] < end:
            at = wanted[next_wanted]
            values = {column: cells[k][at - ordinal] for k, column in enumerate(columns)}
            yield at, SourceRow(lines[at - ordinal], values)
            next_wanted += 1
        ordinal = end
    if ordinal != len(expected):
        raise _changed_while_reading(source.name, None)


def _grouped_rows_at(
    name: str,
    duplicates: DuplicateIndex,
    columns: list[str],
    kinds: list[KeyKind],
    wanted: list[int],
    found: Iterator[tuple[int, list[str]]],
) -> Iterator[tuple[int, SourceRow]]:
    """``_grouped_rows`` from the key cells of just the grouped rows (``key_cells_at``).

    Each group's members must still share a key of its kind (the first read grouped them by
    it): the check that the file was not rewritten between the reads.
    """
    column_of = {kind: index for index, kind in enumerate(kinds)}
    first_key: dict[int, int] = {}
    """id() of a group -> its first member's key hash, while members remain."""
    seen = 0
    for at, (line, cells) in zip(wanted, found, strict=False):
        seen += 1
        for group in duplicates.groups_by_ordinal[at]:
            key = key_hash(group.kind, cells[column_of[group.kind]])
            expected = first_key.setdefault(id(group), key) if key is not None else None
            if key is None or key != expected:
                raise _changed_while_reading(name, line)
            if at == group.ordinals[-1]:
                del first_key[id(group)]
        yield at, SourceRow(line, dict(zip(columns, cells, strict=True)))
    if seen != len(wanted):
        raise _changed_while_reading(name, None)


def _grouped_verdict(
    src: SourceRow,
    ordinal: int,
    groups: Sequence[DuplicateGroup],
    policy: DuplicatePolicy,
    key_column: dict[KeyKind, str],
    refused: tuple[bool, tuple[RowError, ...]] | None,
) -> tuple[RowStatus, tuple[RowError, ...]] | None:
    """``_Judge._judge`` of a row with duplicates from what its check found (``refused``:
    no values, and its errors; None for a row that passed): None when it stays valid."""
    no_values, found = refused if refused is not None else (False, ())
    errors = list(found)
    skipped = _duplicate_verdict(src, ordinal, groups, policy, key_column, errors)
    if skipped is not None and not errors:
        return "duplicate", (skipped,)
    if errors or no_values:
        return "invalid", tuple(errors)
    return None
