"""The reader: export files (CSV, JSON, JSON Lines, stdin) to raw rows with line numbers."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from communal_sync.errors import ConfigError, InputError
from communal_sync.sources.source import Source, SourceRow, open_source

DATA = Path(__file__).resolve().parent.parent / "data" / "sources"
ANN = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.org", "profile_zip": "02134"}
BOB = {"first_name": "Bob", "last_name": "Ng", "email": "bob@example.org", "profile_zip": ""}


def fixture(name: str) -> str:
    return str(DATA / name)


def read_all(source: Source) -> list[SourceRow]:
    return list(source.rows())


def physical_lines(text: str) -> int:
    """Count lines the way a file opened with newline="" splits them: \\n, \\r\\n, lone \\r."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def lines_and_values(source: Source) -> list[tuple[int, dict[str, str]]]:
    return [(row.line, row.values) for row in source.rows()]


# --- CSV: delimiters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "delimiter"),
    [("comma.csv", ","), ("semicolon.csv", ";"), ("tab.tsv", "\t"), ("pipe.txt", "|")],
)
def test_every_common_delimiter_is_sniffed(name: str, delimiter: str) -> None:
    source = open_source(fixture(name))

    assert source.format == "csv"
    assert source.delimiter == delimiter
    assert source.headers == ["first_name", "last_name", "email", "profile_zip"]
    assert lines_and_values(source) == [(2, ANN), (3, BOB)]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_inside_quoted_header_does_not_fool_the_sniffer(
    tmp_path: Path, delimiter: str
) -> None:
    others = "".join(d for d in ",;\t|" if d != delimiter)
    header = delimiter.join(["email", f'"Name{others}x"', "zip"])
    path = tmp_path / "export.dat"
    path.write_text(f"{header}\na@example.org{delimiter}N{delimiter}01234\n", encoding="utf-8")

    source = open_source(str(path))

    assert source.delimiter == delimiter
    assert source.headers == ["email", f"Name{others}x", "zip"]
    assert read_all(source)[0].values["zip"] == "01234"


def test_one_column_file_defaults_to_comma(tmp_path: Path) -> None:
    path = tmp_path / "emails.csv"
    path.write_text("email\na@example.org\nb@example.org\n", encoding="utf-8")

    source = open_source(str(path))

    assert source.delimiter == ","
    assert [row.values for row in source.rows()] == [
        {"email": "a@example.org"},
        {"email": "b@example.org"},
    ]


def test_delimiter_tie_is_broken_by_the_data_rows(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("a;b,c\n1;2,3\n4;5,6\n", encoding="utf-8")
    # One ';' and one ',' in the header: the data rows split both ways, so order decides.
    assert open_source(str(path)).delimiter == ","
    path.write_text("a;b,c\n1;2\n4;5\n", encoding="utf-8")
    assert open_source(str(path)).delimiter == ";"


# --- CSV: line numbers and line ends ---------------------------------------------------


def test_quoted_newlines_keep_the_line_where_each_record_starts() -> None:
    source = open_source(fixture("quoted_newlines.csv"))

    assert lines_and_values(source) == [
        (2, {"first_name": "Ann", "last_name": "Lee", "profile_address": "12 Main St\r\nApt 3"}),
        (5, {"first_name": "Bob", "last_name": "Ng", "profile_address": '1 Elm\r\n\r\nRear, "B"'}),
        (8, {"first_name": "Cy", "last_name": "Oh", "profile_address": "3 Oak"}),
    ]


def test_cr_only_line_ends_are_lines() -> None:
    source = open_source(fixture("cr_only.csv"))

    assert lines_and_values(source) == [
        (2, {"first_name": "Ann", "last_name": "Lee", "profile_address": "12 Main St\rApt 3"}),
        (4, {"first_name": "Bob", "last_name": "Ng", "profile_address": "1 Elm"}),
    ]


def test_blank_lines_and_all_empty_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("\n\nname,email\n\nAnn,a@x.org\n   \n,\n\nBob,b@x.org\n\n", encoding="utf-8")

    source = open_source(str(path))

    assert source.headers == ["name", "email"]
    assert [(row.line, row.values["name"]) for row in source.rows()] == [(5, "Ann"), (9, "Bob")]


# --- CSV: encodings --------------------------------------------------------------------


def test_utf8_bom_is_dropped_and_header_cells_are_stripped() -> None:
    source = open_source(fixture("bom.csv"))

    assert source.encoding == "utf-8-sig"
    assert source.headers == ["First Name", "Email"]
    assert source.warnings == []
    assert read_all(source)[0].values == {"First Name": "Zoë", "Email": "zoe@example.org"}


def test_excel_unicode_text_is_utf16_with_tabs() -> None:
    source = open_source(fixture("excel_unicode.txt"))

    assert (source.encoding, source.delimiter) == ("utf-16", "\t")
    assert source.headers == ["First Name", "Last Name", "E-mail"]
    assert lines_and_values(source) == [
        (2, {"First Name": "José", "Last Name": "Müller", "E-mail": "jose@example.org"})
    ]


def test_invalid_utf8_falls_back_to_cp1252_with_a_warning() -> None:
    path = fixture("cp1252.csv")
    source = open_source(path)

    assert source.encoding == "cp1252"
    assert source.warnings == [
        f"{path} is not valid UTF-8; read it as cp1252. Pass --encoding to override."
    ]
    assert [row.values["last_name"] for row in source.rows()] == ["Müller", "Café “Ltd”"]
    assert read_all(source)[0].values["first_name"] == "Jürgen"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes(b"name\nA\x81\xe9\n")

    source = open_source(str(path))

    assert source.encoding == "latin-1"
    assert "read it as latin-1" in source.warnings[0]
    assert read_all(source)[0].values == {"name": "A\x81é"}


def test_explicit_encoding_overrides_detection() -> None:
    source = open_source(fixture("cp1252.csv"), encoding="latin-1")

    assert source.encoding == "latin-1"
    assert source.warnings == []
    assert read_all(source)[1].values["last_name"] == "Café \x93Ltd\x94"


def test_wrong_explicit_encoding_is_an_input_error_at_the_bad_line() -> None:
    path = fixture("cp1252.csv")
    with pytest.raises(InputError) as caught:
        source = open_source(path, encoding="utf-8")
        read_all(source)

    assert (caught.value.file, caught.value.line) == (path, 2)
    assert "not valid utf-8" in str(caught.value)
    assert "--encoding" in str(caught.value)


def test_unknown_encoding_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown encoding 'utf-9'"):
        open_source(fixture("comma.csv"), encoding="utf-9")


def test_utf16_without_bom_is_detected_with_a_warning() -> None:
    path = fixture("utf16_no_bom.csv")
    source = open_source(path)

    assert source.encoding == "utf-16-le"
    assert source.warnings == [
        f"{path} has no byte-order mark but looks like UTF-16-LE; read it as utf-16-le. "
        "Pass --encoding to override."
    ]
    assert lines_and_values(source) == [(2, {"first_name": "Ann", "email": "ann@example.org"})]


def test_utf16_big_endian_without_bom_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "be.csv"
    path.write_bytes("name\nAnn\n".encode("utf-16-be"))

    assert open_source(str(path)).encoding == "utf-16-be"


# --- CSV: row and header shape ---------------------------------------------------------


def test_ragged_rows_pad_short_rows_and_flag_long_ones() -> None:
    rows = read_all(open_source(fixture("ragged.csv")))

    assert rows == [
        SourceRow(2, {"a": "1", "b": "2", "c": "3"}),
        SourceRow(3, {"a": "4", "b": "5", "c": ""}),
        SourceRow(4, {"a": "6", "b": "7", "c": "8"}, "row has 4 cells but the header has 3"),
    ]


def test_duplicate_header_is_an_input_error_naming_the_column() -> None:
    path = fixture("duplicate_header.csv")
    with pytest.raises(InputError) as caught:
        open_source(path)

    error = caught.value
    assert (error.file, error.line, error.field) == (path, 1, "email")
    assert str(error) == (
        f"{path}, line 1, column 'email': the header names this column twice "
        "(columns 1 and 3). Rename or delete one of them."
    )


def test_empty_header_name_is_an_input_error() -> None:
    path = fixture("empty_header.csv")
    with pytest.raises(InputError) as caught:
        open_source(path)

    assert (caught.value.file, caught.value.line) == (path, 1)
    assert "column 2 (after 'email') of the header has no name" in str(caught.value)
    assert "Name every column" in str(caught.value)


def test_header_only_file_has_headers_and_no_rows() -> None:
    source = open_source(fixture("header_only.csv"))

    assert source.headers == ["first_name", "last_name", "email"]
    assert read_all(source) == []


def test_huge_cell_is_read_whole(tmp_path: Path) -> None:
    big = "x" * (2 * 1024 * 1024)
    path = tmp_path / "big.csv"
    path.write_text(f"name,note\nAnn,{big}\n", encoding="utf-8")

    assert read_all(open_source(str(path)))[0].values["note"] == big


def test_unclosed_quote_at_the_end_is_an_input_error_after_the_good_rows() -> None:
    path = fixture("unclosed_quote.csv")
    rows = open_source(path).rows()

    assert next(rows).values == {"first_name": "Ann", "last_name": "Lee"}
    with pytest.raises(InputError) as caught:
        list(rows)
    assert (caught.value.file, caught.value.line) == (path, 3)
    assert "never closed" in str(caught.value)


def test_fast_path_rows_equal_rows_built_normally() -> None:
    row = read_all(open_source(fixture("comma.csv")))[0]

    assert row == SourceRow(2, ANN)
    assert (row.problem, row.problem_field) == (None, None)
    with pytest.raises(AttributeError):
        row.line = 3  # type: ignore[misc]


# --- rows(): lazy and re-readable ------------------------------------------------------


def test_rows_is_a_lazy_generator_that_can_run_twice_and_interleaved() -> None:
    source = open_source(fixture("comma.csv"))

    assert inspect.isgenerator(source.rows())
    first, second = source.rows(), source.rows()
    assert next(first).line == 2
    assert next(second).line == 2
    assert next(first).line == 3
    assert [row.line for row in source.rows()] == [2, 3]


@pytest.mark.parametrize("name", ["array.json", "users.jsonl"])
def test_json_rows_are_lazy_generators(name: str) -> None:
    source = open_source(fixture(name))

    assert inspect.isgenerator(source.rows())
    assert read_all(source) == read_all(source)


def test_header_with_empty_first_cell_is_sniffed_before_the_empty_name_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.dat"
    path.write_text("\n\n\tname\temail\n1\tA\ta@x.org\n", encoding="utf-8")

    with pytest.raises(InputError, match="column 1 of the header has no name") as caught:
        open_source(str(path))
    assert caught.value.line == 3


CELL = st.text(alphabet=st.sampled_from('ab ,;|\t"\n\r\u00e9'), max_size=6)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    records=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=8),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_any_written_csv_reads_back_with_the_lines_its_records_start_on(
    tmp_path: Path, records: list[list[str]], terminator: str, delimiter: str
) -> None:
    def record(cells: list[str]) -> str:
        # csv.writer leaves "\n" unquoted when the terminator is "\r": quote by hand.
        quoted = [
            '"' + cell.replace('"', '""') + '"'
            if set(cell) & {delimiter, '"', "\r", "\n"}
            else cell
            for cell in cells
        ]
        return delimiter.join(quoted) + terminator

    text = record(["one", "two", "three"])
    expected: list[tuple[int, dict[str, str]]] = []
    line = 2
    for cells in records:
        if any(cell.strip() for cell in cells):  # a row of blanks and whitespace is skipped
            expected.append((line, dict(zip(["one", "two", "three"], cells, strict=True))))
        text += record(cells)
        line += physical_lines(record(cells))
    path = tmp_path / "written.csv"
    path.write_bytes(text.encode("utf-8"))

    source = open_source(str(path))

    assert source.delimiter == delimiter
    assert lines_and_values(source) == expected
