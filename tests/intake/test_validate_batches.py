"""Validation's batch path: whole chunks of records checked column by column.

``RowChecker.suspects`` must name exactly the records ``RowChecker.accepts`` refuses (so
every other record of a chunk can be trusted), the readers' batches must hold the same rows
as ``rows()``, and blank rows (however wide) are skipped with later lines unchanged.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from communal_sync.errors import InputError
from communal_sync.intake import column_checks
from communal_sync.intake.mapping import build_mapping
from communal_sync.intake.row_checks import RowChecker
from communal_sync.intake.validate import ValidationOptions, summarize, validate_source
from communal_sync.sources import csv_reader as source_csv
from communal_sync.sources.rows import SourceRow, row_from_cells
from communal_sync.sources.source import open_source

COLUMNS = ["First Name", "Last Name", "Email", "Nickname", "DOB", "Country", "id", "Notes", "X"]
"""Mapped columns of every kind, a custom field ("Notes") and an unmapped one ("X")."""

CELL = st.one_of(
    st.sampled_from(
        ["", " ", "Ann", "Zoë", "Côté", "ann@example.org", "a@B.org", "a..b@x.org", ".a@x.org",
         "a.@x.org", "@x.org", "a@", "a@@x.org", "x@y", "a@x..org", "2001-04-03", "2000-02-29",
         "2001-02-29", "2001-02-30", "1899-12-31", "2999-01-01", "2001-W01-1", "20010403",
         "CA", "Canada", "Narnia", "12", "007", "0", "00", "Zoe\u0301", "a\u00a0b", "O\u2019Neil",
         " two  spaces", "tab\there", "line\nbreak", "x" * 256, f"{'l' * 65}@x.org",
         "ann@exa\u200bmple.org", "\u00e9\u0301", "\x85", "\u00ad"]
    ),
    st.text(max_size=8),
)  # fmt: skip
RECORDS = st.lists(st.lists(CELL, min_size=len(COLUMNS), max_size=len(COLUMNS)), max_size=12)


def checker() -> RowChecker:
    return RowChecker(build_mapping(COLUMNS[:-1], overrides={"Notes": "custom:Notes"}))


@settings(max_examples=400, deadline=None)
@given(RECORDS)
def test_suspects_are_exactly_the_records_accepts_refuses(records: list[list[str]]) -> None:
    check = checker()
    refused = {
        index
        for index, cells in enumerate(records)
        if not check.accepts(row_from_cells(index + 2, COLUMNS, cells))
    }

    assert check.suspects(COLUMNS, records) == refused


@settings(max_examples=100, deadline=None)
@given(st.lists(CELL, min_size=len(COLUMNS), max_size=len(COLUMNS)), st.integers(0, 40))
def test_one_odd_record_among_plain_ones_is_the_only_suspect(cells: list[str], at: int) -> None:
    plain = ["Ann", "Lee", "ann@example.org", "", "1990-04-03", "CA", "12", "team a", "x y"]
    records = [list(plain) for _ in range(41)]
    records[at] = cells
    check = checker()

    expected = set() if check.accepts(row_from_cells(2, COLUMNS, cells)) else {at}
    assert check.suspects(COLUMNS, records) == expected


def test_suspects_needs_every_mapped_column_in_the_header() -> None:
    assert checker().suspects(["First Name", "Email"], [["Ann", "a@x.org"]]) is None


def test_stray_spaces_are_found_in_the_right_records() -> None:
    records = [["Ann", "Lee", "a@x.org", "", "", "", "", "", ""] for _ in range(6)]
    records[1][0] = " Ann"
    records[3][7] = "team  a"
    records[4][1] = "Lee "
    records[5][8] = " unmapped "  # not checked: the column is not mapped

    assert checker().suspects(COLUMNS, records) == {1, 3, 4}


def test_characters_below_u0100_are_in_nfc_and_printable_ones_are_listed() -> None:
    latin1 = "".join(map(chr, range(256)))

    assert all(unicodedata.combining(char) == 0 for char in latin1)
    assert unicodedata.is_normalized("NFC", latin1)
    assert (
        bytes(code for code in range(256) if chr(code).isprintable())
        == column_checks._PRINTABLE_LATIN1
    )


def test_day_shape_accepts_only_real_days_and_never_february_29() -> None:
    day = dt.date(1999, 12, 25)
    while day.year < 2005:
        text = day.isoformat()
        shaped = column_checks._DAY_SHAPE.fullmatch(text) is not None
        assert shaped == (text[5:] != "02-29")
        day += dt.timedelta(days=1)
    for text in ("2001-02-30", "2001-04-31", "2001-13-01", "2001-00-10", "2001-01-00"):
        assert column_checks._DAY_SHAPE.fullmatch(text) is None


TRICKY = (
    "Member ID,First Name,Last Name,Email\r\n"
    "M1,Ann,Lee,ann@example.org\r\n"
    "  ,  ,  ,  \r\n"
    '"M2","Bob\r\nby",Ng,bob@example.org\r\n'
    "\t, \t,\u3000,\r\n"
    "M3,Cy,Li,cy@example.org\r\n"
    " , \r\n"
    "M4, Di,Ko,di@example.org\r\n"
)


@pytest.mark.parametrize("chunk", [1, 2, 3, 128])
def test_whitespace_only_rows_of_any_width_are_skipped_and_later_lines_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(source_csv, "CHUNK_LINES", chunk)
    path = tmp_path / "blank.csv"
    path.write_bytes(TRICKY.encode("utf-8"))
    source = open_source(str(path))

    rows = list(source.rows())
    batched = [row for batch, _ in source.row_batches() for row in batch]
    (key_lines,) = {tuple(line for lines, _ in source.key_batches(["Email"]) for line in lines)}

    assert [row.line for row in rows] == [2, 4, 7, 9]
    assert batched == rows
    assert key_lines == (2, 4, 7, 9)
    results = list(validate_source(source, build_mapping(source.headers), ValidationOptions()))
    assert [(r.line, r.status) for r in results] == [
        (2, "valid"),
        (4, "valid"),
        (7, "valid"),
        (9, "valid"),
    ]
    assert results[3].row is not None and results[3].row.first_name == "Di"


def test_batches_give_records_only_for_chunks_of_full_rows(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("a,b\n1,2\n3,4\n5\n", encoding="utf-8")
    source = open_source(str(path))

    ((rows, records),) = list(source.row_batches())

    assert records is None
    assert [(row.line, row.values) for row in rows] == [
        (2, {"a": "1", "b": "2"}),
        (3, {"a": "3", "b": "4"}),
        (4, {"a": "5", "b": ""}),
    ]


class Changing:
    """A source whose second read finds a row inserted before line 3 (a rewritten file)."""

    name = "changing.csv"

    def __init__(self) -> None:
        self.reads = 0

    def rows(self) -> Iterator[SourceRow]:
        self.reads += 1
        lines = (2, 3, 4) if self.reads == 1 else (2, 4, 5)
        for line in lines:
            yield row_from_cells(line, HEADER, ["Ann", "Lee", f"a{line}@x.org"])


HEADER = ["First Name", "Last Name", "Email"]


def test_a_file_changed_after_the_first_pass_stops_at_the_changed_row() -> None:
    results = validate_source(Changing(), build_mapping(HEADER), ValidationOptions())

    assert next(results).line == 2
    with pytest.raises(InputError, match="changed while it was being read") as caught:
        next(results)
    assert caught.value.line == 4


def test_summary_of_a_large_messy_file_counts_every_row(tmp_path: Path) -> None:
    lines = ["First Name,Last Name,Email,DOB,Notes"]
    for n in range(1000):
        first = (" Ann", "Bob", "", "Zoë", "Ann\u2019s")[n % 5]
        dob = ("1990-04-03", "", "2001-02-30", "2000-02-29", "03/04/2001")[n % 5 - 1]
        lines.append(f"{first},Lee,p{n}@Example.org,{dob},n{n % 7}")
    path = tmp_path / "messy.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    source = open_source(str(path))
    mapping = build_mapping(source.headers, overrides={"Notes": "custom:Notes"})

    results = list(validate_source(source, mapping, ValidationOptions()))
    summary = summarize(results, mapping)

    check = RowChecker(mapping)
    assert [r.status for r in results] == [
        "valid" if check.check_fully(r.source)[0] is not None else "invalid" for r in results
    ]
    # Rows n % 5 == 1 (a plain date) and 4 (a leap day) are valid; 0 (an ambiguous date),
    # 2 (no first name) and 3 (February 30) are not. Every domain needs lower-casing.
    assert [r.status for r in results[:5]] == ["invalid", "valid", "invalid", "invalid", "valid"]
    assert (summary.rows, summary.valid, summary.invalid) == (1000, 400, 600)
    assert results[1].row is not None and results[1].row.email == "p1@example.org"
    assert results[4].row is not None and results[4].row.first_name == "Ann\u2019s"
