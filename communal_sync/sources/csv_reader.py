"""Read a delimited text export as ``SourceRow``s: delimiter sniffing, header checks, rows.

The row loop is the hot path of every run (a benchmark holds the whole validation to 3x a
bare ``csv.DictReader``), so per-record Python work is avoided: a chunk of physical lines
is parsed by one C call, and when it holds one record per line (the usual case) the line
numbers are simply counted and the rows, made by C-level maps, keep their cell lists (a
row's dict is built only if asked for); validation takes such a chunk whole, with its
records (``iter_csv_row_batches``). Validation's duplicate pass reads only the key columns
(``iter_csv_key_batches``). Line numbers count physical lines (including those inside
quoted fields, and CR-only line ends, since the file is opened with ``newline=""``). A
record whose cells are all blank or whitespace is skipped, whatever its width.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import deque
from collections.abc import Iterator, Sequence
from functools import partial
from itertools import compress, count, islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Final, TextIO

from communal_sync.errors import InputError
from communal_sync.sources.encoding import decode_error, open_text
from communal_sync.sources.limits import HEADER_MAX_CHARS, RECORD_MAX_CHARS, too_long
from communal_sync.sources.rows import (
    KeyBatch,
    RowBatch,
    SourceRow,
    row_from_cells,
    rows_from_records,
)

DELIMITERS: Final = (",", ";", "\t", "|")
"""The delimiters we sniff, in order of preference when the header cannot tell them apart."""

DEFAULT_DELIMITER: Final = ","

FIELD_SIZE_LIMIT: Final = RECORD_MAX_CHARS
"""Largest cell accepted (characters); the csv module's default of 128 KiB is too small."""

CHUNK_LINES: Final = 128
"""Physical lines parsed at once before their rows are handed on: enough to make the
per-chunk work negligible, few enough that the chunk stays in the CPU cache (512 measured
slower)."""

QUOTED_SHARE_SPLIT: Final = 4
"""A chunk with more than 1 in this many lines quoted is parsed whole by ``csv.reader``
(as fast as splitting then); fewer quoted lines are parsed alone, the rest split."""

SNIFF_RECORDS: Final = 20
"""Records after the header used to break a tie between delimiters."""

_FIRST: Final = itemgetter(0)
_BOM: Final = "\ufeff"
_QUOTE: Final = '"'


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
        reader = csv.reader(_header_lines(handle, name), delimiter=delimiter)
        header, line = _read_header_record(reader, path, name, encoding)
    _check_header(header, name, line)
    return header


def _header_lines(handle: TextIO, name: str) -> Iterator[str]:
    """The lines up to and including the header, none longer than ``HEADER_MAX_CHARS``.

    Read with a length limit, so a file without line breaks is refused, not held whole.
    """
    number = 0
    while text := handle.readline(HEADER_MAX_CHARS + 1):
        number += 1
        if len(text) > HEADER_MAX_CHARS:
            raise too_long("header", HEADER_MAX_CHARS, file=name, line=number)
        yield text


def _data_lines(handle: TextIO, name: str, after: int) -> Iterator[str]:
    """The lines after line ``after``, none longer than ``RECORD_MAX_CHARS``."""
    number = after
    while text := handle.readline(RECORD_MAX_CHARS + 1):
        number += 1
        if len(text) > RECORD_MAX_CHARS:
            raise too_long("line", RECORD_MAX_CHARS, file=name, line=number)
        yield text


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
    exports); one with more cells carries a ``problem`` instead of shifting values. A row
    whose cells are all blank or whitespace is skipped, however many cells it has.
    ``owner`` is only held, so a Source owning a spooled stdin copy outlives the loop.
    """
    for rows, _ in iter_csv_row_batches(path, name, encoding, delimiter, header, owner=owner):
        yield from rows


def iter_csv_row_batches(
    path: Path,
    name: str,
    encoding: str,
    delimiter: str,
    header: list[str],
    *,
    owner: object = None,
) -> Iterator[RowBatch]:
    """``iter_csv_rows`` a chunk at a time, with the chunk's records when all are full rows.

    A chunk of records that all have one cell per column and are not blank (the usual case)
    becomes its rows with no per-row Python work, and comes with its records so validation
    can check them column by column; any other chunk is made row by row, without records.
    """
    width = len(header)
    for starts, records in _record_chunks(path, name, encoding, delimiter):
        if _all_full(records, width):
            yield rows_from_records(starts, header, records), records
            continue
        rows: list[SourceRow] = []
        for start, cells in zip(starts, records, strict=True):
            count = len(cells)
            if _is_blank(cells):
                continue
            if count == width:
                rows.append(row_from_cells(start, header, cells))
                continue
            values = dict(zip(header, cells, strict=False))
            if count < width:
                values.update(dict.fromkeys(header[count:], ""))
                rows.append(SourceRow(start, values))
            else:
                problem = f"row has {count} cells but the header has {width}"
                rows.append(SourceRow(start, values, problem))
        if rows:
            yield rows, None


def iter_csv_key_batches(
    path: Path,
    name: str,
    encoding: str,
    delimiter: str,
    header: list[str],
    columns: Sequence[str],
    *,
    owner: object = None,
) -> Iterator[KeyBatch]:
    """Yield the lines and ``columns`` cells of the rows ``iter_csv_rows`` yields, in batches.

    The same rows, lines and errors as ``iter_csv_rows``, but no row objects: each column
    is cut out of a whole chunk of records by one ``map(itemgetter)``. A column not in the
    header reads as ""; so does every cell of a row with more cells than the header (a
    problem row).
    """
    width = len(header)
    getters = [itemgetter(header.index(c)) if c in header else None for c in columns]
    for starts, records in _record_chunks(path, name, encoding, delimiter):
        if not _all_full(records, width):
            starts, records = _usable(starts, records, width)
            if not records:
                continue
        yield (
            list(starts),
            [
                [""] * len(records) if getter is None else list(map(getter, records))
                for getter in getters
            ],
        )


def iter_csv_key_cells_at(
    path: Path,
    name: str,
    encoding: str,
    delimiter: str,
    header: list[str],
    columns: Sequence[str],
    starts: Sequence[int],
) -> Iterator[tuple[int, list[str]]]:
    """The ``columns`` cells of the records that start on each line of ``starts``.

    ``starts`` are lines a read of this file found rows on (``iter_csv_rows``), ascending;
    the cells are the ones ``iter_csv_key_batches`` gives those rows ("" for a column not in
    the header, a short record padded, every cell "" for a record with more cells than the
    header). The lines before each start are skipped unparsed (one C call per line) and
    the record is parsed from its first line, where a full read's parser starts it too, so
    a few rows cost a fraction of a read of every record. Stops early at the end of the
    file, or at a start line holding no record: the file is not the one read before.
    """
    width = len(header)
    getters = [itemgetter(header.index(c)) if c in header else None for c in columns]
    blank = [""] * width
    with _open_text(path, name, encoding) as handle:
        lines = iter(partial(handle.readline, RECORD_MAX_CHARS + 1), "")
        line = 0  # physical lines read so far
        try:
            for start in starts:
                if start <= line:
                    return
                _skip(islice(lines, start - line - 1))
                line = start - 1
                reader = csv.reader(lines, delimiter=delimiter)
                cells = next(reader, None)
                if cells is None or _is_blank(cells):
                    return
                line += reader.line_num
                if len(cells) != width:
                    cells = cells + [""] * (width - len(cells)) if len(cells) < width else blank
                yield start, ["" if get is None else get(cells) for get in getters]
        except UnicodeDecodeError as error:
            raise decode_error(path, name, encoding, error) from None
        except csv.Error:
            return


def _skip(lines: Iterator[str]) -> None:
    deque(lines, maxlen=0)


def _usable(
    starts: Sequence[int], records: list[list[str]], width: int
) -> tuple[list[int], list[list[str]]]:
    """The records ``iter_csv_rows`` makes rows of, one cell per column; blank ones dropped.

    A short record is padded with ""; a long one (a problem row) becomes all "".
    """
    kept_starts: list[int] = []
    kept: list[list[str]] = []
    for start, cells in zip(starts, records, strict=True):
        count = len(cells)
        if _is_blank(cells):
            continue
        if count != width:
            cells = cells + [""] * (width - count) if count < width else [""] * width
        kept_starts.append(start)
        kept.append(cells)
    return kept_starts, kept


def _all_full(records: list[list[str]], width: int) -> bool:
    """Every record has one cell per column and is not blank: no per-record work needed.

    A record whose first cell holds more than whitespace is not blank, which settles the
    usual chunk with one C-level test per record.
    """
    if not all(map(width.__eq__, map(len, records))):
        return False
    return all(map(str.strip, map(_FIRST, records))) or not any(map(_is_blank, records))


def _is_blank(cells: list[str]) -> bool:
    """Whether a record is blank: no cells, or only empty and whitespace-only ones.

    Such a record is skipped whatever its width: "  ,  ,  " is as empty as an empty line.
    """
    return not any(map(str.strip, cells))


def _split_unquoted(lines: list[str], delimiter: str) -> list[list[str]] | None:
    """What ``csv.reader`` makes of ``lines`` when each is one whole record, else None.

    Without quotes every physical line is one record and the delimiter always separates
    cells, so ``str.split`` gives the same cells at a fraction of the parser's cost. A
    blank line is the empty record, as csv.reader has it. The few lines that hold a quote
    (an address with a comma, in a real export) are parsed on their own: when each of them
    is one record there, no quoted field spans lines, and every other line is one record
    too. A chunk mostly quoted, or where a quote runs on, is left to the caller (None).
    """
    if _QUOTE not in "".join(lines):
        quoted: list[int] = []
    else:
        quoted = list(compress(count(), map(str.__contains__, lines, repeat(_QUOTE))))
        if len(quoted) > len(lines) // QUOTED_SHARE_SPLIT:
            return None
    records = list(map(str.split, map(str.rstrip, lines, repeat("\r\n")), repeat(delimiter)))
    if [""] in records:
        records = [[] if cells == [""] else cells for cells in records]
    if quoted:
        try:
            parsed = list(
                csv.reader([lines[at] for at in quoted], delimiter=delimiter, strict=True)
            )
        except csv.Error:
            return None
        if len(parsed) != len(quoted):
            return None
        for at, cells in zip(quoted, parsed, strict=True):
            records[at] = cells
    return records


def _record_chunks(
    path: Path, name: str, encoding: str, delimiter: str
) -> Iterator[tuple[Sequence[int], list[list[str]]]]:
    """Yield the data records after the header, a chunk at a time, with each one's first line.

    A chunk of ``CHUNK_LINES`` physical lines is parsed by one C call; when it turns out to
    hold one record per line (the usual case) its lines are simply counted. A chunk where a
    record spans lines (a quoted line break) or the quoting is loose is read again record by
    record, exactly as a plain ``csv.reader`` does, taking more lines if its last record
    runs past the chunk. Blank records are included; a last record left inside an unclosed
    quote raises InputError once every record has been yielded.
    """
    with _open_text(path, name, encoding) as handle:
        reader = csv.reader(_header_lines(handle, name), delimiter=delimiter)
        _read_header_record(reader, path, name, encoding)
        line = reader.line_num  # physical lines read so far
        start = end = line  # of the last record
        last: list[str] = []  # its cells, when it was read record by record
        # Lines are read with a length limit (one C call each, no Python per line); a
        # chunk holding a line that hit it is refused before it is parsed.
        limited = iter(partial(handle.readline, RECORD_MAX_CHARS + 1), "")
        try:
            while lines := list(islice(limited, CHUNK_LINES)):
                if max(map(len, lines)) > RECORD_MAX_CHARS:
                    at = next(i for i, text in enumerate(lines) if len(text) > RECORD_MAX_CHARS)
                    raise too_long("line", RECORD_MAX_CHARS, file=name, line=line + at + 1)
                records = _split_unquoted(lines, delimiter)
                if records is None:
                    try:
                        records = list(csv.reader(lines, delimiter=delimiter, strict=True))
                    except csv.Error:
                        records = []
                if len(records) == len(lines):
                    yield range(line + 1, line + 1 + len(lines)), records
                    line += len(lines)
                    start = end = line
                    last = []
                    continue
                more = _data_lines(handle, name, line + len(lines))
                reader = csv.reader(itertools.chain(lines, more), delimiter=delimiter)
                taken = 0
                for cells in reader:
                    start, end, taken = line + taken + 1, line + reader.line_num, reader.line_num
                    last = cells
                    yield (start,), [cells]
                    if taken >= len(lines):
                        break
                line += taken
        except UnicodeDecodeError as error:
            raise decode_error(path, name, encoding, error) from None
        except csv.Error as error:
            raise InputError(
                f"the CSV cannot be parsed: {error}.",
                file=name,
                line=line + reader.line_num,
                hint="Check the quoting around this line.",
            ) from None
    # A last value ending in a line break took the file's last newline inside a quote that
    # never closed, even on a one-line record: check it strictly.
    if end > start or (last and last[-1].endswith(("\n", "\r"))):
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
        tail = itertools.islice(_data_lines(handle, name, 0), start - 1, None)
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
