"""Opening an input: format choice, stdin, and every way a file can be unreadable."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest

from communal_sync.errors import ConfigError, ExitCode, InputError
from communal_sync.sources.source import STDIN_NAME, open_source

DATA = Path(__file__).resolve().parent.parent / "data" / "sources"


def fixture(name: str) -> str:
    return str(DATA / name)


# --- format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("comma.csv", "csv"),
        ("tab.tsv", "csv"),
        ("pipe.txt", "csv"),
        ("array.json", "json"),
        ("users.jsonl", "jsonl"),
        ("records.dat", "jsonl"),  # sniffed: one object, a line break, another object
        ("array.dat", "json"),  # sniffed: "[" after leading spaces
        ("lines.json", "jsonl"),  # .json naming JSON Lines content: the content wins
    ],
)
def test_format_comes_from_extension_then_content(name: str, expected: str) -> None:
    assert open_source(fixture(name)).format == expected


def test_single_line_object_without_extension_is_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "one"
    path.write_text('{"first_name": "Ann"}\n', encoding="utf-8")

    source = open_source(str(path))

    assert source.format == "jsonl"
    assert [row.values for row in source.rows()] == [{"first_name": "Ann"}]


def test_unknown_extension_with_text_is_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.out"
    path.write_text("email;name\na@x.org;A\n", encoding="utf-8")

    source = open_source(str(path))

    assert (source.format, source.delimiter) == ("csv", ";")


def test_input_format_overrides_extension_and_content() -> None:
    source = open_source(fixture("array.dat"), input_format="jsonl")

    assert source.format == "jsonl"
    assert [row.problem for row in source.rows()] == ["row is not an object (got a list)"]


def test_unknown_input_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"Unknown input format 'xml'\. Use csv, json or jsonl\."):
        open_source(fixture("comma.csv"), input_format="xml")


# --- stdin -----------------------------------------------------------------------------


def test_stdin_is_spooled_so_rows_can_be_read_twice() -> None:
    stdin = io.BytesIO(b"first_name,email\nAnn,ann@example.org\nBob,bob@example.org\n")

    with open_source("-", stdin=stdin) as source:
        first = [(row.line, row.values["first_name"]) for row in source.rows()]
        second = [(row.line, row.values["first_name"]) for row in source.rows()]
        assert source.name == STDIN_NAME
        spooled = source._path

    assert first == second == [(2, "Ann"), (3, "Bob")]
    assert not spooled.exists()


def test_stdin_format_is_sniffed() -> None:
    source = open_source("-", stdin=io.BytesIO(b'{"a": 1}\n{"a": 2}\n'))

    assert source.format == "jsonl"
    assert [row.values for row in source.rows()] == [{"a": "1"}, {"a": "2"}]
    source.close()


def test_spooled_stdin_is_deleted_when_the_source_is_dropped() -> None:
    source = open_source("-", stdin=io.BytesIO(b"a\n1\n"))
    spooled = source._path
    rows = source.rows()
    del source

    assert [row.values for row in rows] == [{"a": "1"}]  # the generator keeps it alive
    del rows
    assert not spooled.exists()


def test_empty_stdin_is_an_input_error_and_leaves_no_temporary_file() -> None:
    spool_dir = Path(tempfile.gettempdir())
    before = set(spool_dir.glob("communal-sync-stdin-*"))
    with pytest.raises(InputError, match=r"^<stdin>: the file is empty \(0 bytes\)\."):
        open_source("-", stdin=io.BytesIO(b""))

    assert set(spool_dir.glob("communal-sync-stdin-*")) == before


# --- unreadable inputs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.csv", "file not found"),
        ("empty.csv", "the file is empty (0 bytes)"),
        ("bom_only.csv", "it contains only a byte-order mark"),
        ("blank_lines.csv", "it contains only blank lines"),
        ("binary.csv", "looks like a binary file, not CSV or JSON"),
        ("workbook.xlsx", "looks like an Excel workbook"),
    ],
)
def test_unreadable_file_is_an_input_error_naming_the_file(name: str, expected: str) -> None:
    path = fixture(name)
    with pytest.raises(InputError) as caught:
        open_source(path)

    error = caught.value
    assert error.file == path
    assert str(error).startswith(f"{path}: ")
    assert expected in str(error)
    assert error.hint
    assert error.exit_code == ExitCode.FATAL


def test_directory_is_an_input_error() -> None:
    with pytest.raises(InputError, match="is a directory, not a file"):
        open_source(str(DATA))


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file"
)
def test_unreadable_permissions_are_an_input_error_for_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    path.chmod(0)

    with pytest.raises(InputError, match="permission denied"):
        open_source(str(path))


def test_only_blank_lines_beyond_the_sample_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n" * 100_000, encoding="utf-8")

    with pytest.raises(InputError, match="no header row: it contains only blank lines"):
        open_source(str(path))


def test_permission_denied_is_an_input_error_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.csv"
    path.write_text("a\n1\n", encoding="utf-8")

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError) as caught:
        open_source(str(path))

    assert str(caught.value) == (
        f"{path}: cannot be read: permission denied. "
        "Check the file's permissions, or copy it somewhere you can read."
    )


@pytest.mark.parametrize("name", ["comma.csv", "array.json", "users.jsonl"])
def test_file_removed_after_opening_is_an_input_error_when_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes((DATA / name).read_bytes())
    source = open_source(str(path))
    path.unlink()

    with pytest.raises(InputError, match="file not found"):
        list(source.rows())
