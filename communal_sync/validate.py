"""Check every row of an export and turn the good ones into ``ProfileRow``s.

Two passes over ``source.rows()``: the first finds rows that share an email, id or
external id (see ``duplicates``), the second checks each row and emits a ``RowResult`` in
file order, knowing the duplicate groups. Every error of every row is collected; a row is
never rejected on its first problem alone.

The second pass is the hot path (a benchmark holds validation to 3x a bare
``csv.DictReader``), so the checks are plain Python on precomputed column positions, and a
valid row's model is built without re-validating what was just checked
(``profile_row.trusted_row``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from communal_sync.duplicates import DuplicateGroup, KeyKind, find_duplicates
from communal_sync.errors import InputError
from communal_sync.mapping import ColumnMapping
from communal_sync.profile_row import ProfileRow, RowError
from communal_sync.row_checks import RowChecker
from communal_sync.source_row import SourceRow

__all__ = [
    "DuplicatePolicy",
    "ProfileRow",
    "RowError",
    "RowResult",
    "RowSource",
    "ValidationOptions",
    "ValidationSummary",
    "summarize",
    "validate_source",
]

DuplicatePolicy = Literal["error", "first", "last"]
RowStatus = Literal["valid", "invalid", "duplicate"]

LINES_SHOWN: Final = 10
"""Other lines named in one duplicate message before "and N more"."""


@dataclass(frozen=True, slots=True)
class RowResult:
    """The verdict on one source row; ``row`` is set only when ``status`` is "valid"."""

    line: int
    source: SourceRow
    row: ProfileRow | None
    errors: tuple[RowError, ...]
    status: RowStatus


_RESULT_SETTERS: Final[tuple[Any, ...]] = (
    object.__new__,
    *(vars(RowResult)[slot].__set__ for slot in ("line", "source", "row", "errors", "status")),
)


@dataclass
class ValidationOptions:
    """How to judge rows: the duplicate policy and how to read phones and ambiguous dates."""

    on_duplicate: DuplicatePolicy = "error"
    default_region: str | None = None
    date_order: Literal["dmy", "mdy"] | None = None


class RowSource(Protocol):
    """What validation needs of a ``sources.Source``: a name and re-readable rows."""

    @property
    def name(self) -> str: ...

    def rows(self) -> Iterator[SourceRow]: ...


def validate_source(
    source: RowSource, mapping: ColumnMapping, options: ValidationOptions
) -> Iterator[RowResult]:
    """Yield one RowResult per source row, in file order, after a first duplicate pass.

    Memory stays flat: the first pass keeps 64-bit key hashes, not values. Raises
    InputError if the second read does not see the rows the first one did (a file
    rewritten while we read it).
    """
    duplicates = find_duplicates(source.rows(), mapping)
    checker = RowChecker(mapping, date_order=options.date_order)
    by_ordinal = duplicates.groups_by_ordinal
    expected_lines = duplicates.lines
    policy = options.on_duplicate
    key_columns: dict[KeyKind, str] = {
        kind: mapping.column_of(kind) or "" for kind in ("email", "id", "external_id")
    }
    check = checker.check
    build = checker.build
    new_result, *setters = _RESULT_SETTERS
    set_line, set_source, set_row, set_errors, set_status = setters
    ordinal = -1
    for ordinal, src in enumerate(source.rows()):
        line = src.line
        if ordinal >= len(expected_lines) or expected_lines[ordinal] != line:
            raise _changed_while_reading(source.name, line)
        data, errors = check(src)
        if by_ordinal and (groups := by_ordinal.get(ordinal)) is not None:
            skipped = _duplicate_verdict(src, ordinal, groups, policy, key_columns, errors)
            if skipped is not None and not errors:
                yield RowResult(line, src, None, (skipped,), "duplicate")
                continue
        if errors or data is None:
            yield RowResult(line, src, None, tuple(errors), "invalid")
            continue
        # RowResult(line, src, build(data), (), "valid") without the frozen dataclass's
        # five object.__setattr__ calls: the same object, half the cost on the hot path.
        result = new_result(RowResult)
        set_line(result, line)
        set_source(result, src)
        set_row(result, build(data))
        set_errors(result, ())
        set_status(result, "valid")
        yield result
    if ordinal + 1 != len(expected_lines):
        raise _changed_while_reading(source.name, None)


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
    for result in results:
        summary.add(result)
    return summary
