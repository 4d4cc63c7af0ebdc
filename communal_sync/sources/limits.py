"""How large one header or one record of an export may be, and the error past that.

A file with no line break (``/dev/zero``, a binary file read with ``--encoding``) would
otherwise be read into memory whole, looking for the end of its first line. The limits
are far above any real export (a header of a million columns is 7 MB) and keep memory
bounded whatever the file holds.
"""

from __future__ import annotations

from typing import Final

from communal_sync.errors import InputError

HEADER_MAX_CHARS: Final = 16 * 1024 * 1024
"""The longest header line (characters): 16 Mi, twice a header of a million columns."""

RECORD_MAX_CHARS: Final = 128 * 1024 * 1024
"""The longest line of data, JSON record or single value (characters): 128 Mi."""

SPOOL_MAX_LINE_BYTES: Final = 4 * RECORD_MAX_CHARS
"""Bytes without a line break after which a pipe being copied is refused: no encoding
needs more than four bytes per character, so no line the readers accept is longer."""


def size_label(chars: int) -> str:
    """``16 MiB``-style wording of a limit (in characters)."""
    return f"{chars // (1024 * 1024)} Mi characters"


def too_long(what: str, limit: int, *, file: str | None, line: int | None) -> InputError:
    """The error for a header, line or record longer than ``limit`` characters."""
    return InputError(
        f"the {what} that starts here is longer than the limit of {size_label(limit)}, so it "
        "is not read (this is not a text export, or its line breaks are missing).",
        file=file,
        line=line,
        hint="Check that this is the export itself, and its --encoding.",
    )
