"""Decide how to decode an export file: BOMs, UTF-16 without a BOM, the cp1252 fallback.

Spreadsheet exports arrive as UTF-8 (with or without a BOM), UTF-16 ("Unicode text" from
Excel) or a Windows code page, and nothing in the file says which. We decide once, before
reading any row, so that every later pass decodes the same way and no UnicodeDecodeError
can surface halfway through a run.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO, Final, TextIO

from communal_sync.errors import ConfigError, InputError

SAMPLE_BYTES: Final = 64 * 1024
"""How much of the file is read up front to detect the encoding, the format and the delimiter."""

SCAN_CHUNK_BYTES: Final = 1024 * 1024
"""Chunk size of the whole-file UTF-8 check: bounded memory, few system calls."""

BINARY_PROBE_BYTES: Final = 1024
"""NUL bytes within this many leading bytes mark a binary file (or UTF-16 without a BOM)."""

UTF16_NUL_SHARE: Final = 0.3
"""Share of NULs on one byte parity above which BOM-less text is taken as UTF-16."""

FALLBACK_ENCODINGS: Final = ("cp1252", "latin-1")
"""Tried in order when a file is not valid UTF-8; latin-1 decodes any byte sequence."""

REENCODE_HINT: Final = "Export it again as CSV UTF-8 or JSON."

_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ZIP_MAGIC: Final = b"PK\x03\x04"


@dataclass(slots=True)
class Decoding:
    """How to decode one file, with a decoded sample of its beginning for sniffing."""

    encoding: str
    sample: str
    whole_file_in_sample: bool
    warnings: list[str] = field(default_factory=list)


def read_head(path: Path, name: str) -> bytes:
    """Return the first ``SAMPLE_BYTES`` of ``path``, turning every OS failure into InputError."""
    try:
        with path.open("rb") as handle:
            return handle.read(SAMPLE_BYTES)
    except OSError as error:
        raise unreadable(error, name) from None


def open_text(path: Path, name: str, encoding: str, newline: str | None = None) -> TextIO:
    """Open ``path`` for reading text; a file gone or locked since it was opened is InputError."""
    try:
        return path.open(encoding=encoding, newline=newline)
    except OSError as error:
        raise unreadable(error, name) from None


def unreadable(error: OSError, name: str) -> InputError:
    """Return the InputError for an OS failure to read ``name``.

    The cases users hit most (missing file, a directory, no permission) get their own
    sentence with a fix; anything else keeps the operating system's wording.
    """
    if isinstance(error, FileNotFoundError):
        return InputError(
            "file not found.", file=name, hint="Check the path and the current directory."
        )
    if isinstance(error, IsADirectoryError):
        return InputError(
            "is a directory, not a file.", file=name, hint="Pass the export file inside it."
        )
    if isinstance(error, PermissionError):
        return InputError(
            "cannot be read: permission denied.",
            file=name,
            hint="Check the file's permissions, or copy it somewhere you can read.",
        )
    return InputError(
        f"cannot be read: {error.strerror or error}.", file=name, hint="Check the path."
    )


def detect_decoding(path: Path, name: str, head: bytes, encoding: str | None) -> Decoding:
    """Choose the encoding of ``path`` (``encoding`` wins when given) and decode a sample.

    Raises InputError for files with no usable content (empty, only a BOM, only blank
    lines, binary) and ConfigError for an unknown ``encoding`` name.
    """
    if not head:
        raise InputError(
            "the file is empty (0 bytes).", file=name, hint="Check that the export finished."
        )
    warnings: list[str] = []
    if encoding is not None:
        chosen = _checked_codec(encoding, head)
    else:
        chosen = _sniffed_codec(path, name, head, warnings)
    whole = len(head) < SAMPLE_BYTES
    decoder = codecs.getincrementaldecoder(chosen)(errors="replace")
    sample = decoder.decode(head, final=whole)
    if whole and not sample.lstrip("\ufeff").strip():
        what = "only blank lines" if sample.lstrip("\ufeff") else "only a byte-order mark"
        raise InputError(
            f"the file has no data: it contains {what}.",
            file=name,
            hint="Check that the export finished.",
        )
    return Decoding(chosen, sample, whole, warnings)


def _checked_codec(encoding: str, head: bytes) -> str:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(
            f"Unknown encoding {encoding!r}. Pass a Python codec name such as utf-8, "
            "cp1252, latin-1 or utf-16."
        ) from None
    if codec.name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return encoding


def _sniffed_codec(path: Path, name: str, head: bytes, warnings: list[str]) -> str:
    for bom, bom_codec in _BOMS:
        if head.startswith(bom):
            if bom_codec == "utf-8-sig":
                return _utf8_or_fallback(path, name, "utf-8-sig", warnings)
            return bom_codec
    if head.startswith(_ZIP_MAGIC):
        raise InputError(
            "looks like an Excel workbook or another zip archive, not CSV or JSON.",
            file=name,
            hint="In Excel use File > Save As > CSV UTF-8, then pass that file.",
        )
    probe = head[:BINARY_PROBE_BYTES]
    if b"\x00" in probe:
        utf16 = _utf16_without_bom(probe)
        if utf16 is None:
            raise InputError(
                "looks like a binary file, not CSV or JSON.", file=name, hint=REENCODE_HINT
            )
        warnings.append(
            f"{name} has no byte-order mark but looks like {utf16.upper()}; read it as "
            f"{utf16}. Pass --encoding to override."
        )
        return utf16
    return _utf8_or_fallback(path, name, "utf-8", warnings)


def _utf16_without_bom(probe: bytes) -> str | None:
    """Return utf-16-le/-be when NULs sit on one byte parity only (ASCII text in UTF-16)."""
    pairs = len(probe) // 2
    if pairs == 0:
        return None
    even_nuls = probe[0 : pairs * 2 : 2].count(0)
    odd_nuls = probe[1 : pairs * 2 : 2].count(0)
    if odd_nuls >= pairs * UTF16_NUL_SHARE and even_nuls == 0:
        return "utf-16-le"
    if even_nuls >= pairs * UTF16_NUL_SHARE and odd_nuls == 0:
        return "utf-16-be"
    return None


def _utf8_or_fallback(path: Path, name: str, utf8_codec: str, warnings: list[str]) -> str:
    """Return ``utf8_codec`` if the whole file decodes as UTF-8, else the first fallback.

    A file whose lines are partly UTF-8 (with accents) and partly not is refused: any one
    encoding would turn half of its names into mojibake ("LefÃ¨vre") and push them.
    """
    if _decodes_fully(path, "utf-8"):
        return utf8_codec
    mixed = _mixed_utf8_lines(path, has_bom=utf8_codec == "utf-8-sig")
    if mixed is not None:
        utf8_line, other_line = mixed
        said = (
            "starts with a UTF-8 byte-order mark"
            if utf8_line == 0
            else f"line {utf8_line} is UTF-8 with accented letters"
        )
        raise InputError(
            f"mixes encodings: {said} but line {other_line} is not UTF-8, so any one "
            "encoding would garble some names.",
            file=name,
            line=other_line,
            hint="Export the file again as CSV UTF-8, or pass --encoding if you are sure "
            "of its encoding.",
        )
    for fallback in FALLBACK_ENCODINGS:
        if _decodes_fully(path, fallback):
            warnings.append(
                f"{name} is not valid UTF-8; read it as {fallback}. Pass --encoding to override."
            )
            return fallback
    raise AssertionError("latin-1 decodes every byte sequence")  # pragma: no cover


def _mixed_utf8_lines(path: Path, *, has_bom: bool) -> tuple[int, int] | None:
    """The first UTF-8 line with non-ASCII text (0 for a UTF-8 byte-order mark) and the
    first line that is not UTF-8, if the file has both.

    A line of a single-byte code page almost never decodes as UTF-8 once it holds a
    non-ASCII character (a lead byte must be followed by exactly the right continuation
    bytes), so a line that does is UTF-8 written by another program.
    """
    utf8_line: int | None = 0 if has_bom else None
    other_line: int | None = None
    with path.open("rb") as handle:
        for number, raw in enumerate(_byte_lines(handle), start=1):
            if number == 1 and has_bom:
                raw = raw[len(codecs.BOM_UTF8) :]
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                other_line = other_line or number
            else:
                utf8_line = number if utf8_line is None else utf8_line
            if utf8_line is not None and other_line is not None:
                return utf8_line, other_line
    return None


LINE_PIECE_BYTES: Final = 16 * 1024 * 1024
"""The longest piece of a line the line-by-line checks hold in memory."""


def _byte_lines(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines as bytes, read with a length limit: a file with no line break
    comes in pieces of ``LINE_PIECE_BYTES``, never whole."""
    return iter(partial(handle.readline, LINE_PIECE_BYTES), b"")


def _decodes_fully(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(SCAN_CHUNK_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def decode_error(path: Path, name: str, encoding: str, error: UnicodeDecodeError) -> InputError:
    """Return the InputError for bytes in ``path`` that ``encoding`` cannot decode.

    The text layer decodes ahead of the parser, so the line is found again from the bytes.
    """
    return InputError(
        f"the file is not valid {encoding} ({error.reason}).",
        file=name,
        line=_first_undecodable_line(path, encoding),
        hint="Pass --encoding with the file's real encoding, for example cp1252 or utf-16.",
    )


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    """Return the line of the first byte ``encoding`` rejects, for ASCII-compatible codecs."""
    try:
        if "\n".encode(encoding) != b"\n":
            return None
        decoder = codecs.getincrementaldecoder(encoding)()
        with path.open("rb") as handle:
            for number, raw in enumerate(_byte_lines(handle), start=1):
                try:
                    decoder.decode(raw)
                except UnicodeDecodeError:
                    return number
    except (LookupError, UnicodeError, OSError):
        return None
    return None
