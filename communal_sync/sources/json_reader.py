"""Stream JSON exports as ``SourceRow``s: a top-level array, ``{"data": [...]}``, or JSON Lines.

``json.load`` would hold the whole file in memory, and ijson does not report line
numbers, so arrays are read through a sliding text window: ``raw_decode`` parses one
element at a time and the newlines consumed give each element's starting line. Numbers
are kept as their JSON text (``parse_int=str``), so ``12345678901234567890`` and ``1e5``
survive exactly.

The reader is strict where ``json.loads`` is lenient, because leniency here pushes wrong
data: a file must be exactly one document (two arrays back to back, or an array followed
by an HTML error page, are refused naming the line where the extra content starts), a
wrapper object must close and name each key once, ``NaN`` and ``Infinity`` (not JSON)
refuse the file, a record naming one key twice is an invalid row (which value is meant?),
and a string holding half of a UTF-16 pair (a lone surrogate) is an invalid value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final, TextIO

from communal_sync.errors import InputError
from communal_sync.sources.encoding import decode_error, open_text
from communal_sync.sources.limits import RECORD_MAX_CHARS, too_long
from communal_sync.sources.rows import SourceRow

READ_CHARS: Final = 64 * 1024
"""Characters read per refill; a refill at least doubles the window for a huge element."""

TAIL_MARGIN: Final = 16
"""A parse error this close to the end of the window may just be a cut token: read more."""

EXTRA_SHOWN: Final = 40
"""Characters of unexpected content after the document quoted in the error."""

DATA_KEY: Final = "data"
"""The key of the record array in a Laravel-style wrapped export."""


class _Repeated(dict[str, object]):
    """A decoded object that named a key more than once (``repeated`` is the first such)."""

    __slots__ = ("repeated",)
    repeated: str


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook``: a plain dict, or a ``_Repeated`` one when a key comes twice."""
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    seen: set[str] = set()
    repeated = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
    marked = _Repeated(record)
    marked.repeated = repeated
    return marked


class NotJsonConstant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: accepted by Python's json module, not JSON."""


def _refuse_constant(token: str) -> object:
    raise NotJsonConstant(token)


_DECODER: Final = json.JSONDecoder(
    parse_int=str, parse_float=str, parse_constant=_refuse_constant, object_pairs_hook=_object
)
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_CONSTANT_HINT: Final = (
    "The program that wrote the export does not write standard JSON (Python's json.dumps "
    "writes NaN for a missing number): export it again as standard JSON."
)
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_STRUCTURAL: Final = re.compile(r'[,:}\]"]')
_POSITION_SUFFIX: Final = re.compile(r"( starting)? at$")
_SHAPE_HINT: Final = (
    'Export a JSON array of user objects, or an object with a "data" array of them.'
)
_TRUNCATED_HINT: Final = "Check the export for a truncated or hand-edited file."


def iter_json_rows(
    path: Path, name: str, encoding: str, *, owner: object = None
) -> Iterator[SourceRow]:
    """Yield one row per element of the record array, each with its opening line.

    Rows before a syntax error are yielded; the error is raised as InputError (with the
    line) when the reader reaches it. ``owner`` is only held, as in ``iter_csv_rows``.
    """
    for line, value, first_char in iter_json_elements(path, name, encoding):
        yield to_row(line, value, first_char)


def iter_jsonl_rows(
    path: Path, name: str, encoding: str, *, owner: object = None
) -> Iterator[SourceRow]:
    """Yield one row per non-blank line; a line that is not valid JSON becomes a problem row.

    ``NaN`` or ``Infinity`` on any line refuses the file (InputError): the writer is not
    writing JSON at all, so no line of it can be trusted. A line longer than
    ``RECORD_MAX_CHARS`` refuses it too, before it is held in memory.
    """
    with open_text(path, name, encoding) as handle:
        number = 0
        readline = handle.readline
        try:
            while text := readline(RECORD_MAX_CHARS + 1):
                number += 1
                if len(text) > RECORD_MAX_CHARS:
                    raise too_long("line", RECORD_MAX_CHARS, file=name, line=number)
                if not text.strip(" \t\r\n\ufeff"):
                    continue
                try:
                    value = _DECODER.decode(text.lstrip("\ufeff") if number == 1 else text)
                except NotJsonConstant as error:
                    raise _constant_error(str(error), number, file=name) from None
                except json.JSONDecodeError as error:
                    problem = f"line is not valid JSON: {error.msg} (column {error.colno})"
                    yield SourceRow(number, {}, problem)
                    continue
                except RecursionError:
                    yield SourceRow(number, {}, TOO_DEEP)
                    continue
                yield to_row(number, value, text.lstrip(" \t\ufeff")[:1])
        except UnicodeDecodeError as error:
            raise decode_error(path, name, encoding, error) from None


def scan_keys(rows: Iterator[SourceRow]) -> list[str]:
    """Return every key of ``rows`` in order of first appearance.

    A syntax error before the first record is raised (the file is unusable); one later is
    left for ``rows()`` to raise when the reader gets there, after the rows before it.
    """
    keys: dict[str, None] = {}
    seen_any = False
    try:
        for row in rows:
            seen_any = True
            keys.update(dict.fromkeys(row.values))
    except InputError:
        if not seen_any:
            raise
    return list(keys)


def to_row(line: int, value: object, first_char: str = "{") -> SourceRow:
    """Turn one decoded JSON value into a row of text values, or a row with a problem.

    ``first_char`` is the value's first character in the file: numbers decode to text,
    so it is what tells ``5`` from ``"5"`` in the problem sentence.
    """
    if not isinstance(value, dict):
        got = "a number" if isinstance(value, str) and first_char != '"' else _describe(value)
        return SourceRow(line, {}, f"row is not an object (got {got})")
    values: dict[str, str] = {}
    problem: str | None = None
    problem_field: str | None = None
    if isinstance(value, _Repeated):
        problem_field = _readable(value.repeated)
        problem = (
            f"the record names the key {problem_field!r} twice, so which value is meant is "
            "unclear; keep one of them"
        )
    for key, item in value.items():
        if _SURROGATE.search(key):
            key = _readable(key)
        if isinstance(item, str):
            if _SURROGATE.search(item) is not None:
                item = _readable(item)
                if problem is None:
                    problem = (
                        f"value of {key!r} holds half of a UTF-16 character pair (a lone "
                        "surrogate such as \\ud800), so it is not text; the export is damaged"
                    )
                    problem_field = key
            values[key] = item
        elif item is None:
            values[key] = ""
        elif isinstance(item, bool):
            values[key] = "true" if item else "false"
        else:
            values[key] = ""
            if problem is None:
                problem = f"value of {key!r} is {_describe(item)}"
                problem_field = key
    return SourceRow(line, values, problem, problem_field)


def _readable(text: str) -> str:
    """``text`` with each lone surrogate written as ``\\udXXX``: encodable, and visible."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _constant_error(token: str, line: int, *, file: str | None = None) -> InputError:
    return InputError(
        f"{token} is not a JSON value (JSON has no NaN or Infinity), so the file is not read.",
        file=file,
        line=line,
        hint=_CONSTANT_HINT,
    )


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a nested object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else "a number"


class _Window:
    """The unread part of a text file, with the line number at the read position."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def refill(self) -> bool:
        """Drop consumed text and append more; False at end of file."""
        if self.eof:
            return False
        chunk = self.handle.read(max(READ_CHARS, len(self.text) - self.pos))
        self.text = self.text[self.pos :] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def peek(self) -> str:
        """Skip whitespace and return the next character, or "" at end of file."""
        while True:
            end = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            self.line += self.text.count("\n", self.pos, end)
            self.pos = end
            if end < len(self.text):
                return self.text[end]
            if not self.refill():
                return ""

    def skip(self, char: str) -> None:
        self.pos += len(char)

    def decode(self) -> object:
        """Parse the JSON value at the read position, refilling until it is complete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except RecursionError:
                raise InputError(TOO_DEEP + ".", line=self.line, hint=_TRUNCATED_HINT) from None
            except NotJsonConstant as error:
                at = self.text.find(str(error), self.pos)
                line = self.line + self.text.count("\n", self.pos, max(at, self.pos))
                raise _constant_error(str(error), line) from None
            except json.JSONDecodeError as error:
                unterminated = error.msg.startswith("Unterminated string")
                if unterminated or error.pos >= len(self.text) - TAIL_MARGIN:
                    old_length = len(self.text)
                    self._check_size()
                    if self.refill():
                        continue
                    error.pos -= old_length - len(self.text)
                line = self.line + self.text.count("\n", self.pos, error.pos)
                rest = self.text[error.pos :]
                at_end = self.eof and (unterminated or not _STRUCTURAL.search(rest))
                raise _syntax_error(error.msg, line, at_end=at_end) from None
            if end >= len(self.text):
                self._check_size()
                if self.refill():
                    continue
            self.line += self.text.count("\n", self.pos, end)
            self.pos = end
            return value

    def _check_size(self) -> None:
        """Refuse a value that already holds more than ``RECORD_MAX_CHARS`` unparsed."""
        if len(self.text) - self.pos > RECORD_MAX_CHARS:
            raise too_long("JSON value", RECORD_MAX_CHARS, file=None, line=self.line)


def iter_json_elements(path: Path, name: str, encoding: str) -> Iterator[tuple[int, object, str]]:
    """Yield ``(line, value, first character)`` per element of the top or ``"data"`` array."""
    with open_text(path, name, encoding) as handle:
        window = _Window(handle)
        try:
            if window.peek() == "\ufeff":
                window.skip("\ufeff")
            yield from _iter_top_level(window)
        except UnicodeDecodeError as error:
            raise decode_error(path, name, encoding, error) from None
        except InputError as error:
            raise InputError(error.reason, file=name, line=error.line, hint=error.hint) from None


def _iter_top_level(window: _Window) -> Iterator[tuple[int, object, str]]:
    first = window.peek()
    if first == "[":
        window.skip("[")
        yield from _iter_array(window)
        _refuse_more(window, "array")
        return
    if first != "{":
        what = "nothing" if first == "" else f"{first!r}"
        raise InputError(
            f"the JSON must start with [ or {{, but starts with {what}.",
            line=window.line,
            hint=_SHAPE_HINT,
        )
    window.skip("{")
    yield from _iter_wrapper(window)
    _refuse_more(window, "object")


def _iter_wrapper(window: _Window) -> Iterator[tuple[int, object, str]]:
    """The rows of ``{..., "data": [...], ...}``, after checking the whole object is sound.

    Every key is read, so a second ``"data"`` (``json.loads`` would take the last one,
    this reader the first) or any other key named twice is refused, and so is an object
    that never closes: both mean the file is not the export it claims to be.
    """
    seen: set[str] = set()
    found = False
    char = window.peek()
    if char == "}":
        window.skip("}")
        raise InputError(f'the JSON is an object without a "{DATA_KEY}" array.', hint=_SHAPE_HINT)
    while True:
        line = window.line
        key = window.decode() if char == '"' else None
        if not isinstance(key, str):
            message = "Expecting property name enclosed in double quotes"
            raise _syntax_error(message, window.line, at_end=not char, what="object")
        if key in seen:
            raise InputError(
                f"the object around the records names the key {_readable(key)!r} twice, so "
                "which one is meant is unclear.",
                line=line,
                hint="Export the file again; an export names each key once.",
            )
        seen.add(key)
        if window.peek() != ":":
            raise _syntax_error("Expecting ':' delimiter", window.line, at_end=window.eof)
        window.skip(":")
        if key == DATA_KEY:
            if window.peek() != "[":
                raise InputError(
                    f'the "{DATA_KEY}" value is not an array.', line=window.line, hint=_SHAPE_HINT
                )
            window.skip("[")
            yield from _iter_array(window)
            found = True
        else:
            window.peek()
            window.decode()
        char = window.peek()
        if char == "}":
            window.skip("}")
            break
        if char != ",":
            raise _syntax_error(
                "Expecting ',' delimiter", window.line, at_end=not char, what="object"
            )
        window.skip(",")
        char = window.peek()
    if not found:
        raise InputError(f'the JSON is an object without a "{DATA_KEY}" array.', hint=_SHAPE_HINT)


def _refuse_more(window: _Window, what: str) -> None:
    """Refuse anything but whitespace after the document: a second array, an error page."""
    char = window.peek()
    if char == "":
        return
    shown = window.text[window.pos : window.pos + EXTRA_SHOWN].splitlines()[0]
    raise InputError(
        f"the file holds more than one JSON document: after the top-level {what} closed, more "
        f"content starts here ({_readable(shown)!r}).",
        line=window.line,
        hint="Export it again; an export is exactly one JSON document (JSON Lines: name it "
        ".jsonl, one object per line).",
    )


def _iter_array(window: _Window) -> Iterator[tuple[int, object, str]]:
    char = window.peek()
    if char == "]":
        window.skip("]")
        return
    while True:
        if char == "":
            raise _syntax_error("Expecting value", window.line, at_end=True)
        line = window.line
        yield line, window.decode(), char
        char = window.peek()
        if char == "]":
            window.skip("]")
            return
        if char != ",":
            message = "Expecting ',' delimiter" if char else "Expecting ',' or ']'"
            raise _syntax_error(message, window.line, at_end=not char)
        window.skip(",")
        char = window.peek()


TOO_DEEP = "the JSON is nested too deeply to be a record (arrays or objects inside each other)"


def _syntax_error(message: str, line: int, *, at_end: bool, what: str = "array") -> InputError:
    message = _POSITION_SUFFIX.sub("", message)
    if at_end:
        return InputError(
            f"the JSON ends before the {what} is closed ({message}).",
            line=line,
            hint="The export looks truncated; export it again.",
        )
    return InputError(
        f"the file is not valid JSON here: {message}.", line=line, hint=_TRUNCATED_HINT
    )
