"""Read a delimited text export as ``SourceRow``s: delimiter sniffing, header checks, rows.

The row loop is the hot path of every run (a benchmark holds the whole validation to 3x a
bare ``csv.DictReader``), so it does the least possible per row: one length check, one
``any()``, one ``dict(zip())``. Line numbers come free from ``csv.reader.line_num``, which
counts physical lines (including those inside quoted fields, and CR-only line ends, since
the file is opened with ``newline=""``).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, TextIO

from communal_sync.errors import InputError
from communal_sync.source_encoding import decode_error, open_text
from communal_sync.source_row import SourceRow

DELIMITERS: Final = (",", ";", "\t", "|")
"""The delimiters we sniff, in order of preference when the header cannot tell them apart."""

DEFAULT_DELIMITER: Final = ","

FIELD_SIZE_LIMIT: Final = 256 * 1024 * 1024
"""Largest cell accepted (characters); the csv module's default of 128 KiB is too small."""

SNIFF_RECORDS: Final = 20
"""Records after the header used to break a tie between delimiters."""

_BOM: Final = "\ufeff"
_QUOTE: Final = '"'

# SourceRow(line, values) costs four frozen-dataclass __setattr__ calls, a fifth of the
# whole loop: the hot path fills the slots through their descriptors instead (same object).
_ROW_SETTERS: Final[tuple[Any, ...]] = (
    object.__new__,
    *(vars(SourceRow)[slot].__set__ for slot in ("line", "values", "problem", "problem_field")),
)


def sniff_delimiter(sample: str, preferred: str | None = None) -> str:
    """Return the delimiter of the CSV that starts with ``sample``.

    Counts each candidate outside quotes in the header record (so a quoted or one-column
    header works); a tie goes to the candidate that splits the next records into as many
    cells as the header, then to ``preferred`` (tab for .tsv), then to the listed order.
    """
    counts = _count_in_header(sample.lstrip(_BOM))
    best = max(counts.values())
    if best == 0:
        return preferred or DEFAULT_DELIMITER
    tied = [d for d in DELIMITERS if counts[d] == best]
    if len(tied) == 1:
        return tied[0]
    scores = {d: _consistency(sample, d) for d in tied}
    top = max(scores.values())
    tied = [d for d in tied if scores[d] == top]
    return preferred if preferred in tied else tied[0]


def _count_in_header(text: str) -> dict[str, int]:
    counts = dict.fromkeys(DELIMITERS, 0)
    content = len(text) - len(text.lstrip(" \t\r\n"))
    text = text[max(text.rfind("\n", 0, content), text.rfind("\r", 0, content)) + 1 :]
    in_quotes = False
    for char in text:
        if char == _QUOTE:
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif char in "\r\n":
            break
        elif char in counts:
            counts[char] += 1
    return counts


def _consistency(sample: str, delimiter: str) -> int:
    records = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r]
    records = records[: SNIFF_RECORDS + 1]
    if not records:
        return 0
    width = len(records[0])
    return sum(1 for record in records[1:] if len(record) == width)


def read_header(path: Path, name: str, encoding: str, delimiter: str) -> list[str]:
    """Return the cleaned header row of the CSV at ``path``, or raise InputError.

    Header cells lose surrounding whitespace and any BOM. An empty or repeated name is an
    error: the mapping step could not tell those columns apart.
    """
    with _open_text(path, name, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header, line = _read_header_record(reader, path, name, encoding)
    _check_header(header, name, line)
    return header


def iter_csv_rows(
    path: Path,
    name: str,
    encoding: str,
    delimiter: str,
    header: list[str],
    *,
    owner: object = None,
) -> Iterator[SourceRow]:
    """Yield each non-blank data row of the CSV with the line its record starts on.

    A row with fewer cells than the header gets "" for the missing ones (common in real
    exports); one with more cells carries a ``problem`` instead of shifting values.
    ``owner`` is only held, so a Source owning a spooled stdin copy outlives the loop.
    """
    width = len(header)
    new_row, set_line, set_values, set_problem, set_field = _ROW_SETTERS
    with _open_text(path, name, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        _read_header_record(reader, path, name, encoding)
        end = reader.line_num
        start = end
        try:
            for cells in reader:
                start = end + 1
                end = reader.line_num
                count = len(cells)
                if count == width:
                    if any(cells):
                        row = new_row(SourceRow)
                        set_line(row, start)
                        set_values(row, dict(zip(header, cells, strict=False)))
                        set_problem(row, None)
                        set_field(row, None)
                        yield row
                    continue
                if count == 0 or not any(cell.strip() for cell in cells):
                    continue
                values = dict(zip(header, cells, strict=False))
                if count < width:
                    values.update(dict.fromkeys(header[count:], ""))
                    yield SourceRow(start, values)
                else:
                    problem = f"row has {count} cells but the header has {width}"
                    yield SourceRow(start, values, problem)
        except UnicodeDecodeError as error:
            raise decode_error(path, name, encoding, error) from None
        except csv.Error as error:
            raise InputError(
                f"the CSV cannot be parsed: {error}.",
                file=name,
                line=reader.line_num,
                hint="Check the quoting around this line.",
            ) from None
    if end > start:
        _check_last_record_closed(path, name, encoding, delimiter, start)


def _open_text(path: Path, name: str, encoding: str) -> TextIO:
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
    return open_text(path, name, encoding, newline="")


def _read_header_record(
    reader: Iterator[list[str]], path: Path, name: str, encoding: str
) -> tuple[list[str], int]:
    line_num = 0
    try:
        for cells in reader:
            line_num = reader.line_num  # type: ignore[attr-defined]
            if any(cell.strip(f" \t{_BOM}") for cell in cells):
                return [cell.strip(f" \t\r\n{_BOM}") for cell in cells], line_num
    except UnicodeDecodeError as error:
        raise decode_error(path, name, encoding, error) from None
    except csv.Error as error:
        raise InputError(f"the header row cannot be parsed: {error}.", file=name) from None
    raise InputError(
        "the file has no header row: it contains only blank lines.",
        file=name,
        hint="Check that the export finished.",
    )


def _check_header(header: list[str], name: str, line: int) -> None:
    seen: dict[str, int] = {}
    for number, column in enumerate(header, start=1):
        if not column:
            after = f" (after {header[number - 2]!r})" if number > 1 else ""
            raise InputError(
                f"column {number}{after} of the header has no name.",
                file=name,
                line=line,
                hint="Name every column in the header row, or delete the empty column.",
            )
        if column in seen:
            raise InputError(
                f"the header names this column twice (columns {seen[column]} and {number}).",
                file=name,
                line=line,
                field=column,
                hint="Rename or delete one of them.",
            )
        seen[column] = number


def _check_last_record_closed(
    path: Path, name: str, encoding: str, delimiter: str, start: int
) -> None:
    """Raise if the last record runs to the end of the file inside an unclosed quote.

    The lenient csv parser would otherwise read the rest of the file as one value and
    silently lose every row after a stray quote. Only multi-line last records are checked.
    """
    with _open_text(path, name, encoding) as handle:
        tail = itertools.islice(handle, start - 1, None)
        try:
            for _ in csv.reader(tail, delimiter=delimiter, strict=True):
                pass
        except csv.Error as error:
            if "unexpected end of data" not in str(error):
                return
            raise InputError(
                "a quoted value that starts here is never closed, so the rest of the file "
                "would be read as one value.",
                file=name,
                line=start,
                hint='Remove the stray quote, or quote the whole value and double any " inside.',
            ) from None
