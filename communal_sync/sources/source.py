"""Open an export file (CSV, JSON, JSON Lines, or stdin) as a re-readable stream of raw rows.

``open_source`` does every check that can fail up front (the file exists, has content,
decodes, has a usable header) so a bad input stops the run before anything else happens;
``Source.rows()`` then streams ``SourceRow``s, each with the line its record starts on,
and can be called again for a second pass. Values stay text exactly as read: mapping and
validation come later.

Every input is read several times (detection, header, duplicates, rows, checksum), so
one that cannot be read twice, standard input or any path that is not a regular file (a
FIFO, ``<(zcat export.csv.gz)``, a character device), is first copied once to a private
temporary file and read from there; reopening the path would wait forever for data the
first read consumed. The copy refuses a stream that runs ``SPOOL_MAX_LINE_BYTES``
without a line break (``/dev/zero``), so neither memory nor the disk fills up.
"""

from __future__ import annotations

import hashlib
import json
import stat
import sys
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, Final, Literal

from communal_sync.errors import ConfigError, InputError
from communal_sync.sources.csv_reader import (
    iter_csv_key_batches,
    iter_csv_key_cells_at,
    iter_csv_row_batches,
    iter_csv_rows,
    read_header,
    sniff_delimiter,
)
from communal_sync.sources.encoding import detect_decoding, read_head, unreadable
from communal_sync.sources.json_reader import iter_json_rows, iter_jsonl_rows, scan_keys
from communal_sync.sources.limits import SPOOL_MAX_LINE_BYTES, too_long
from communal_sync.sources.rows import KeyBatch, RowBatch, SourceRow, batches_of, key_batches_of

__all__ = ["STDIN_NAME", "Format", "KeyBatch", "RowBatch", "Source", "SourceRow", "open_source"]

Format = Literal["csv", "json", "jsonl"]

STDIN_PATH: Final = "-"
STDIN_NAME: Final = "<stdin>"

FORMAT_BY_EXTENSION: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
"""Extensions that decide the format; anything else is sniffed from the content."""

FORMAT_NAMES: Final[dict[str, Format]] = {
    "csv": "csv",
    "tsv": "csv",
    "json": "json",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
}
"""Accepted values of ``input_format`` (``--format``)."""

TAB_EXTENSIONS: Final = (".tsv", ".tab")

SPOOL_CHUNK_BYTES: Final = 1024 * 1024


class Source:
    """An opened export: how it is read (format, encoding, delimiter) and its rows.

    ``headers`` is the CSV header row, or every JSON key in order of first appearance.
    ``warnings`` holds sentences for the user (an encoding fallback, for instance).
    """

    def __init__(
        self,
        *,
        name: str,
        path: Path,
        format: Format,
        encoding: str,
        delimiter: str | None,
        warnings: list[str],
        temporary: bool = False,
    ) -> None:
        self.name = name
        self.format: Format = format
        self.encoding = encoding
        self.delimiter = delimiter
        self.warnings = warnings
        self.headers: list[str] = []
        self.rereadable = not temporary
        """Whether ``name`` can be opened again later (a file, not a pipe or stdin)."""
        self._path = path
        self._cleanup = weakref.finalize(self, path.unlink, missing_ok=True) if temporary else None

    def sha256(self) -> str | None:
        """The sha256 of the bytes read (for a pipe, of its copy); None for standard input,
        which no later run can be told to be the same as."""
        if self.name == STDIN_NAME:
            return None
        digest = hashlib.sha256()
        with self._path.open("rb") as handle:
            while chunk := handle.read(SPOOL_CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()

    def rows(self) -> Iterator[SourceRow]:
        """Return a generator over the rows from the start of the file; call again to re-read.

        Lazy: nothing is read until the first row is asked for. Problems found mid-file
        (malformed JSON in an array, an unclosed quote at the end of a CSV) raise
        InputError at the point where the reader reaches them.
        """
        if self.format == "csv":
            assert self.delimiter is not None
            return iter_csv_rows(
                self._path, self.name, self.encoding, self.delimiter, self.headers, owner=self
            )
        if self.format == "json":
            return iter_json_rows(self._path, self.name, self.encoding, owner=self)
        return iter_jsonl_rows(self._path, self.name, self.encoding, owner=self)

    def row_batches(self) -> Iterator[RowBatch]:
        """Return a generator over the same rows as ``rows()``, a list at a time.

        A CSV chunk whose records all have one cell per column comes with those records
        (see ``RowBatch``), so validation can check it column by column; JSON rows come
        without records.
        """
        if self.format == "csv":
            assert self.delimiter is not None
            return iter_csv_row_batches(
                self._path, self.name, self.encoding, self.delimiter, self.headers, owner=self
            )
        return batches_of(self.rows())

    def key_batches(self, columns: Sequence[str]) -> Iterator[KeyBatch]:
        """Return a generator over the rows' lines and ``columns`` cells, in batches.

        The same rows, in the same order and with the same lines, as ``rows()``; a column
        the row lacks reads as "", and so does every column of a row with a problem. For a
        CSV this builds no rows at all (validation's duplicate pass reads a million-row file
        this way); JSON goes through ``rows()``.
        """
        if self.format == "csv":
            assert self.delimiter is not None
            return iter_csv_key_batches(
                self._path,
                self.name,
                self.encoding,
                self.delimiter,
                self.headers,
                columns,
                owner=self,
            )
        return key_batches_of(self.rows(), columns)

    def key_cells_at(
        self, lines: Sequence[int], columns: Sequence[str]
    ) -> Iterator[tuple[int, list[str]]] | None:
        """The ``columns`` cells of the rows that start on ``lines`` (ascending), as
        ``key_batches`` gives them, with each row's line; None when only a whole read can
        find them (JSON: use ``key_batches``).

        For a CSV the other records are not parsed (see ``iter_csv_key_cells_at``); the
        iterator stops early if a line holds no record there any more (the file changed).
        """
        if self.format != "csv":
            return None
        assert self.delimiter is not None
        return iter_csv_key_cells_at(
            self._path, self.name, self.encoding, self.delimiter, self.headers, columns, lines
        )

    def close(self) -> None:
        """Delete the spooled copy of stdin, if any; a no-op for a file on disk."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Source({self.name!r}, format={self.format!r}, encoding={self.encoding!r})"


def open_source(
    path: str,
    *,
    encoding: str | None = None,
    input_format: str | None = None,
    stdin: BinaryIO | None = None,
) -> Source:
    """Open ``path`` (``-`` for stdin) and check it can be read, returning a ``Source``.

    Raises InputError naming the file when it cannot be read or understood, and
    ConfigError for an unknown ``encoding`` or ``input_format``. Stdin, and a path that
    is not a regular file (a pipe), is spooled to a temporary file so ``rows()`` can run
    twice; ``Source.close()`` deletes it early.
    """
    chosen_format = _checked_format(input_format)
    if path == STDIN_PATH:
        spooled = _spool(stdin if stdin is not None else sys.stdin.buffer, STDIN_NAME)
        name, named = STDIN_NAME, None
    elif _is_stream(Path(path)):
        try:
            with Path(path).open("rb") as stream:
                spooled = _spool(stream, path)
        except OSError as error:
            raise unreadable(error, path) from None
        name, named = path, Path(path)
    else:
        return _open_path(Path(path), path, encoding, chosen_format, temporary=False)
    try:
        return _open_path(spooled, name, encoding, chosen_format, temporary=True, named=named)
    except BaseException:
        spooled.unlink(missing_ok=True)
        raise


def _is_stream(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder: it can be read
    once only (a FIFO, process substitution, a character device)."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return False  # reading it will say why
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _checked_format(input_format: str | None) -> Format | None:
    if input_format is None:
        return None
    try:
        return FORMAT_NAMES[input_format.lower()]
    except KeyError:
        raise ConfigError(
            f"Unknown input format {input_format!r}. Use csv, json or jsonl."
        ) from None


def _spool(stream: BinaryIO, name: str) -> Path:
    """Copy a stream to a private temporary file, the only way to read a pipe twice.

    A stream that goes on for ``SPOOL_MAX_LINE_BYTES`` without a line break (CR or LF) is
    refused: no line the readers accept is that long, and ``/dev/zero`` never ends.
    """
    try:
        with tempfile.NamedTemporaryFile(prefix="communal-sync-input-", delete=False) as copy:
            try:
                _copy_lines(stream, copy, name)
            except BaseException:
                Path(copy.name).unlink(missing_ok=True)
                raise
    except OSError as error:
        raise InputError(
            f"cannot copy the input to a temporary file: {error.strerror or error}.",
            file=name,
            hint="Pass the export's own path, or free space in the temporary directory.",
        ) from None
    return Path(copy.name)


def _copy_lines(stream: BinaryIO, copy: IO[bytes], name: str) -> None:
    run = 0  # bytes since the last line break
    line = 1
    while chunk := stream.read(SPOOL_CHUNK_BYTES):
        copy.write(chunk)
        last = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if last < 0:
            run += len(chunk)
            if run > SPOOL_MAX_LINE_BYTES:
                raise too_long("line", SPOOL_MAX_LINE_BYTES // 4, file=name, line=line)
        else:
            line += chunk.count(b"\n") or chunk.count(b"\r")
            run = len(chunk) - last - 1


def _open_path(
    path: Path,
    name: str,
    encoding: str | None,
    forced: Format | None,
    *,
    temporary: bool,
    named: Path | None = None,
) -> Source:
    """Open the file at ``path``; ``named`` is a pipe's own path, whose extension counts."""
    head = read_head(path, name)
    decoding = detect_decoding(path, name, head, encoding)
    sniffed = _sniff_format(decoding.sample, whole=decoding.whole_file_in_sample)
    by_name = named if temporary else path
    chosen = forced or _format_for(by_name, sniffed)
    delimiter: str | None = None
    if chosen == "csv":
        preferred = (
            "\t" if by_name is not None and by_name.suffix.lower() in TAB_EXTENSIONS else None
        )
        delimiter = sniff_delimiter(decoding.sample, preferred)
    source = Source(
        name=name,
        path=path,
        format=chosen,
        encoding=decoding.encoding,
        delimiter=delimiter,
        warnings=decoding.warnings,
        temporary=temporary,
    )
    if chosen == "csv":
        assert delimiter is not None
        source.headers = read_header(path, name, decoding.encoding, delimiter)
    else:
        source.headers = scan_keys(source.rows())
    return source


def _format_for(path: Path | None, sniffed: Format) -> Format:
    """Pick the format from the extension, else from the content.

    One exception: a ``.json`` file holding one object per line is read as JSON Lines (a
    common naming slip) rather than failing at line 2.
    """
    by_extension = FORMAT_BY_EXTENSION.get(path.suffix.lower()) if path else None
    if by_extension is None or (by_extension == "json" and sniffed == "jsonl"):
        return sniffed
    return by_extension


def _sniff_format(sample: str, *, whole: bool) -> Format:
    """Tell the format from the first characters: ``[`` or ``{`` is JSON, else CSV.

    ``{`` is JSON Lines when a complete object is followed by a line break and more text
    (no JSON document can continue that way), or when the whole file is one single-line
    object of plain values (one record, rather than a wrapper such as ``{"data": [...]}``).
    """
    text = sample.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if not text.startswith("{"):
        return "csv"
    try:
        first, end = json.JSONDecoder().raw_decode(text)
    except (json.JSONDecodeError, RecursionError):
        return "json"
    rest = text[end:].lstrip(" \t")
    if rest[:1] in ("\r", "\n") and rest.strip():
        return "jsonl"
    one_line = "\n" not in text[:end] and "\r" not in text[:end]
    flat = isinstance(first, dict) and not any(isinstance(v, dict | list) for v in first.values())
    return "jsonl" if whole and one_line and flat and not rest.strip() else "json"
