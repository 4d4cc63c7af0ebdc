"""Write the corpus files that are binary, encoding-sensitive or too large to commit.

Small binary files (``SMALL_FILES``) are committed in ``tests/corpus/``; running this
script rewrites them, and ``test_corpus.py`` checks the committed bytes still match.
Large files (``LARGE_FILES``) are never committed: the tests write them into a temporary
directory with ``write_large(name, directory)``.

    python tests/corpus/make_corpus.py            # rewrite the small files in tests/corpus
"""

from __future__ import annotations

import codecs
import random
import sys
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Final

CORPUS: Final = Path(__file__).resolve().parent
HEADER: Final = "First Name,Last Name,Email\n"
ROWS: Final = "Ana,Lee,ana.lee@example.org\nBen,Okoro,ben.okoro@example.org\n"

BIG_FIELD_CHARS: Final = 100 * 1024 * 1024
"""A 100 MB single cell: far above the csv module's default limit of 128 KiB."""

MILLION: Final = 1_000_000
DUPLICATE_ROWS: Final = 10_000
NESTING_DEPTH: Final = 100_000
LONG_LINE_CHARS: Final = 4 * 1024 * 1024


def _binary_garbage() -> bytes:
    """Deterministic random bytes, NULs included: what a wrong file picked in a dialog gives."""
    return random.Random(20260325).randbytes(4096)


def _workbook() -> bytes:
    """A real (tiny) zip archive, as an .xlsx saved under a .csv name would be."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("xl/workbook.xml", date_time=(2026, 3, 25, 0, 0, 0))
        archive.writestr(info, "<workbook/>")
    return buffer.getvalue()


def _utf16_no_bom() -> bytes:
    return (HEADER + ROWS).replace(",", "\t").encode("utf-16-le")


def _utf16_bom() -> bytes:
    text = (
        "First Name\tLast Name\tEmail\n"
        "José\tGarcía\tjose@example.org\nZoë\tÅberg\tzoe@example.org\n"
    )
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def _nul_late() -> bytes:
    """A NUL inside a name, after the first KiB (so the binary probe does not see it)."""
    padding = "".join(f"P{i},Q{i},p{i}@example.org\n" for i in range(60))
    return (HEADER + padding + "An\x00a,Lee,ana.lee@example.org\n").encode()


ID_HEADER: Final = "id,First Name,Last Name,Email\n"


def _ids_invisible() -> bytes:
    """101 and 103 plain; a BOM before 101 (a second row for user 101, by another email)
    and a zero-width space inside 102: to the eye 101 twice and 102."""
    return (
        ID_HEADER + "101,Amara,Okafor,amara.okafor@example.org\n"
        "\ufeff101,Amara,Okafor,amara.o@example.org\n"
        "1\u200b02,Bruno,Lefevre,bruno.lefevre@example.org\n"
        "103,Chen,Wei,chen.wei@example.org\n"
    ).encode()


def _bidi_names() -> bytes:
    """Names wrapped in bidi embedding (U+202A..U+202C) and isolate (U+2066..U+2069)
    controls: the demo organization's own names, invisibly different."""
    return (
        ID_HEADER + "101,\u202aAmara\u202c,Okafor,amara.okafor@example.org\n"
        "102,Bruno,\u2067Lefèvre\u2069,bruno.lefevre@example.org\n"
        "103,Chen,Wei\u202e,chen.wei@example.org\n"
    ).encode()


def _terminal_escapes() -> bytes:
    """A screen-clearing CSI, an OSC 8 hyperlink and a one-byte C1 CSI in first names."""
    return (
        HEADER + "Amara\x1b[2J,Okafor,amara.okafor@example.org\n"
        "\x1b]8;;http://evil.example/\x1b\\Bruno\x1b]8;;\x1b\\,Lefevre,bruno.lefevre@example.org\n"
        "Chen\x9b31m,Wei,chen.wei@example.org\n"
        "Dana,Whitfield,dana.whitfield@example.org\n"
    ).encode()


def _confusable_emails() -> bytes:
    """A Cyrillic letter in a local part and in a domain, full-width letters; then an
    all-Cyrillic address, an accented Latin one and a plain one, which are fine."""
    return (
        HEADER + "Amara,Okafor,\u0430mara.okafor@example.org\n"
        "Bruno,Lefevre,bruno.lefevre@ex\u0430mple.org\n"
        "Chen,Wei,\uff43\uff48\uff45\uff4e.wei@example.org\n"
        "Маша,Иванова,маша@почта.рф\n"
        "José,García,josé@example.org\n"
        "Dana,Whitfield,dana.whitfield@example.org\n"
    ).encode()


SMALL_FILES: Final[dict[str, Callable[[], bytes]]] = {
    "empty.csv": lambda: b"",
    "bom_only.csv": lambda: codecs.BOM_UTF8,
    "binary_garbage.csv": _binary_garbage,
    "workbook_as.csv": _workbook,
    "truncated_utf8.csv": lambda: (HEADER + ROWS).encode() + b"Cara,Di" + b"\xe2\x82",
    "truncated_utf8_undefined.csv": lambda: (
        (HEADER + "Ana,Lee\xe2".encode().decode("latin-1")).encode("latin-1")
        + b"\x81,ana.lee@example.org\n"
    ),
    "mixed_encodings.csv": lambda: (
        HEADER.encode()
        + "José,García,jose@example.org\n".encode()
        + "Zoë,Müller,zoe@example.org\n".encode("cp1252")
    ),
    "cp1252.csv": lambda: (
        HEADER + "René,Lévesque,rene@example.org\nZoë,Ng,zoe@example.org\n"
    ).encode("cp1252"),
    "utf16_no_bom.csv": _utf16_no_bom,
    "utf16_bom_tab.txt": _utf16_bom,
    "utf32_bom.csv": lambda: (HEADER + ROWS).encode("utf-32"),
    "nul_early.csv": lambda: (HEADER + "An\x00a,Lee,ana.lee@example.org\n").encode(),
    "nul_late.csv": _nul_late,
    "cr_only.csv": lambda: (
        (HEADER + ROWS + "Cara,Diaz,not-an-email\nDev,Patel,dev.patel@example.org\n")
        .replace("\n", "\r")
        .encode()
    ),
    "control_chars.csv": lambda: (
        HEADER + "Ana\x1b[31m,Lee,ana.lee@example.org\nBen\x07,Okoro,ben.okoro@example.org\n"
        "Cara,Diaz,cara.diaz@example.org\n"
    ).encode(),
    "ids_invisible.csv": _ids_invisible,
    "bidi_names.csv": _bidi_names,
    "terminal_escapes.csv": _terminal_escapes,
    "confusable_emails.csv": _confusable_emails,
}
"""Committed: name -> bytes. Written by this script so their exact bytes are reviewable."""


def _big_field(path: Path, column: str) -> None:
    """A 100 MB value in the first row: in Notes (unmapped) or in First Name (checked)."""
    chunk = "x" * (1024 * 1024)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("First Name,Last Name,Email,Notes\n")
        if column == "First Name":
            handle.writelines(chunk for _ in range(BIG_FIELD_CHARS // len(chunk)))
            handle.write(",Lee,ana.lee@example.org,short\n")
        else:
            handle.write('Ana,Lee,ana.lee@example.org,"')
            handle.writelines(chunk for _ in range(BIG_FIELD_CHARS // len(chunk)))
            handle.write('"\n')
        handle.write("Ben,Okoro,ben.okoro@example.org,short\n")


def _million_columns(path: Path, *, with_required: bool) -> None:
    names = ["First Name", "Last Name", "Email"] if with_required else ["First Name"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(names + [f"c{i}" for i in range(MILLION)]) + "\n")
        handle.write("Ana,Lee,ana.lee@example.org\n" if with_required else "Ana\n")


def _duplicates(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER)
        for i in range(DUPLICATE_ROWS):
            handle.write(f"Ana{i},Lee,ana.lee@example.org\n")
        handle.write("Ben,Okoro,ben.okoro@example.org\n")


def _deep(prefix: str, suffix: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(prefix + "[" * NESTING_DEPTH + "]" * NESTING_DEPTH + suffix)

    return write


def _long_lines(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("First Name,Last Name,Email,Notes\n")
        for i in range(3):
            handle.write(f"Ana{i},Lee,ana{i}@example.org,{'y' * LONG_LINE_CHARS}\n")


HUGE_CELL_CHARS: Final = 4 * 1024 * 1024
"""An invalid cell this long took ``plan`` 26 s, and 13 MB of output, before values were cut."""
HEADER_NAME_CHARS: Final = 1024 * 1024


def _huge_email(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER + "Ana,Lee," + "x" * HUGE_CELL_CHARS + "\n")
        handle.write("Ben,Okoro,ben.okoro@example.org\n")


def _trailing_nuls(path: Path) -> None:
    """A block of NULs at the end, past the first KiB (so the binary probe does not see it)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADER + "".join(f"P{i},Q{i},p{i}@example.org\n" for i in range(60)))
        handle.write("\x00" * HUGE_CELL_CHARS)


def _long_header_name(path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("First Name,Last Name,Email," + "N" * HEADER_NAME_CHARS + "\n")
        handle.write("Ana,Lee,ana.lee@example.org,x\n")


LIMIT_EXCESS: Final = 1024
"""How far past a size limit the too-long header and line go."""


def _too_long(path: Path, *, header: bool) -> None:
    """A header longer than 16 Mi characters, or a data line longer than 128 Mi, with no
    line break: the readers stop at the limit instead of holding the whole line."""
    chunk = "x" * (1024 * 1024)
    limit = (16 if header else 128) * len(chunk)
    with path.open("w", encoding="utf-8", newline="") as handle:
        if not header:
            handle.write(HEADER + "Ana,Lee,")
        handle.writelines(chunk for _ in range(limit // len(chunk)))
        handle.write("x" * LIMIT_EXCESS)


_VALID_ROW: Final = '{"first_name": "Ana", "last_name": "Lee", "email": "ana.lee@example.org"}'

LARGE_FILES: Final[dict[str, Callable[[Path], None]]] = {
    "big_field_unmapped.csv": lambda path: _big_field(path, "Notes"),
    "big_field_name.csv": lambda path: _big_field(path, "First Name"),
    "million_columns.csv": lambda path: _million_columns(path, with_required=True),
    "million_columns_missing.csv": lambda path: _million_columns(path, with_required=False),
    "duplicates_10k.csv": _duplicates,
    "long_lines.csv": _long_lines,
    "deep_array.json": _deep("", ""),
    "deep_in_array.json": _deep(f"[\n{_VALID_ROW},\n", "\n]\n"),
    "deep_beside_data.json": _deep('{"meta": ', ', "data": []}'),
    "deep_line.jsonl": _deep(f'{_VALID_ROW}\n{{"first_name": ', "}\n"),
    "deep_object.jsonl": _deep('{"first_name": ', "}\n"),
    "huge_email_cell.csv": _huge_email,
    "trailing_nuls.csv": _trailing_nuls,
    "long_header_name.csv": _long_header_name,
    "header_too_long.csv": lambda path: _too_long(path, header=True),
    "line_too_long.csv": lambda path: _too_long(path, header=False),
}
"""Generated at test time into a temporary directory: name -> writer."""


def write_large(name: str, directory: Path) -> Path:
    """Write the large corpus file ``name`` into ``directory`` and return its path."""
    path = directory / name
    LARGE_FILES[name](path)
    return path


def write_small(directory: Path = CORPUS) -> list[Path]:
    """Write every small generated file (and the ``directory.csv`` folder) into ``directory``."""
    written = []
    for name, make in SMALL_FILES.items():
        path = directory / name
        path.write_bytes(make())
        written.append(path)
    folder = directory / "directory.csv"
    folder.mkdir(exist_ok=True)
    (folder / ".gitkeep").write_bytes(b"")
    return written


if __name__ == "__main__":
    for written_path in write_small(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS):
        print(written_path)
