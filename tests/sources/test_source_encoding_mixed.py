"""A file that is partly UTF-8 and partly a legacy code page is refused, not garbled.

Read whole as cp1252, the UTF-8 lines would become "JosÃ©" and be pushed; read as UTF-8,
the other lines would not decode. A file that is all one legacy code page still falls back
to it with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult

from communal_sync.sandbox import Sandbox

Cli = Callable[..., CliResult]

HEADER = "First Name,Last Name,Email\n"
LEGACY_NAMES = ["René,Müller", "Zoë,O’Brien", "Ñúñez,Åsa", "JOSÉ,GARCÍA", "Ülkü,Straße"]


def write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def test_a_file_mixing_utf8_and_cp1252_lines_is_refused_naming_both_lines(
    cli: Cli, tmp_path: Path
) -> None:
    export = write(
        tmp_path / "mixed.csv",
        HEADER.encode(),
        b"Ana,Lee,ana@example.org\n",
        "José,García,jose@example.org\n".encode(),
        "Zoë,Müller,zoe@example.org\n".encode("cp1252"),
    )

    result = cli("validate", str(export))

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {export}, line 4: mixes encodings: line 3 is UTF-8 with accented letters but "
        "line 4 is not UTF-8, so any one encoding would garble some names. Export the file "
        "again as CSV UTF-8, or pass --encoding if you are sure of its encoding.\n"
    )


def test_a_push_of_a_mixed_file_sends_nothing(
    cli: Cli, tmp_path: Path, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    export = write(
        tmp_path / "mixed.csv",
        "\ufeff".encode() + b"id," + HEADER.encode(),
        "101,Zoë,Müller,zoe@example.org\n".encode("cp1252"),
        "102,Amélie,Lefèvre,amelie@example.org\n".encode(),
    )

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 1
    assert "mixes encodings: starts with a UTF-8 byte-order mark but line 2 is not" in result.stderr
    assert sandbox.requests() == []


@pytest.mark.parametrize("names", LEGACY_NAMES)
def test_a_file_all_in_cp1252_still_falls_back_with_a_warning(
    cli: Cli, tmp_path: Path, names: str
) -> None:
    export = write(
        tmp_path / "legacy.csv",
        HEADER.encode(),
        b"Ana,Lee,ana@example.org\n",
        f"{names},someone@example.org\n".encode("cp1252"),
        f"{names},other@example.org\n".encode("cp1252"),
    )

    result = cli("validate", str(export), "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert "not valid UTF-8; read it as cp1252" in result.stderr
    assert '"valid": 3' in result.stdout


def test_an_explicit_encoding_reads_a_mixed_file_as_told(cli: Cli, tmp_path: Path) -> None:
    export = write(
        tmp_path / "mixed.csv",
        HEADER.encode(),
        "José,García,jose@example.org\n".encode(),
        "Zoë,Müller,zoe@example.org\n".encode("cp1252"),
    )

    result = cli("validate", str(export), "--encoding", "cp1252")

    assert result.exit_code == 0
    assert result.stderr == ""
