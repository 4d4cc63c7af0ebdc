"""The fast paths of reading and validation give exactly what the plain paths give.

Chunked CSV parsing, the key-column first pass, rows that build their dict lazily, results
that build their ProfileRow lazily, and both ways of finding duplicate hashes.
"""

from __future__ import annotations

import csv
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from communal_sync.intake import duplicates
from communal_sync.intake.duplicates import find_duplicates, index_duplicates, key_columns
from communal_sync.intake.mapping import build_mapping
from communal_sync.intake.row_checks import RowChecker
from communal_sync.intake.validate import RowResult, ValidationOptions, summarize, validate_source
from communal_sync.sources import csv_reader as source_csv
from communal_sync.sources.rows import SourceRow, row_from_cells
from communal_sync.sources.source import Source, open_source

HEADER = ["Member ID", "First Name", "Last Name", "Email", "DOB", "Country"]

# Blank lines, a whitespace-only row, short and long rows, quoted line breaks (CRLF and LF),
# stray spaces, a bad email and date, and duplicates of each key kind.
TRICKY = (
    "Member ID,First Name,Last Name,Email,DOB,Country\r\n"
    "M1,Ann,Lee,ann@example.org,1990-04-03,CA\r\n"
    "\r\n"
    'M2,"Bob\r\nby",Ng,bob@example.org,,Canada\r\n'
    "M3,Cy,Li,CY@EXAMPLE.org\r\n"
    "  ,  ,  \r\n"
    "M4,Di,Ko,di@example.org,2001-02-30,XX,extra\r\n"
    "M1, Eve ,Ma,eve@example.org,,\r\n"
    '"M5",Fay,"Qu\nuote",ann@EXAMPLE.org,,us\r\n'
    ",,,,,\r\n"
    "M6,Gus,Ro,gus at example.org,03/04/2001,\r\n"
    "M7,Hal,Sy,hal@example.org,1950-01-01,GB"
)


def write(tmp_path: Path, text: str = TRICKY, name: str = "tricky.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def plain_rows(path: Path) -> list[tuple[int, dict[str, str], str | None]]:
    """What iter_csv_rows gives, computed the plain way: one csv.reader record at a time."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        width = len(header)
        end = reader.line_num
        rows = []
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):  # blank, or only whitespace
                continue
            values = dict(zip(header, cells + [""] * (width - len(cells)), strict=False))
            problem = None
            if len(cells) > width:
                problem = f"row has {len(cells)} cells but the header has {width}"
            rows.append((start, values, problem))
    return rows


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 512])
def test_chunked_rows_match_a_plain_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(source_csv, "CHUNK_LINES", chunk)
    path = write(tmp_path)

    rows = list(open_source(str(path)).rows())

    assert [(r.line, r.values, r.problem) for r in rows] == plain_rows(path)
    assert [r.line for r in rows] == [2, 4, 6, 8, 9, 10, 13, 14]


@pytest.mark.parametrize("chunk", [1, 2, 3, 512])
def test_key_batches_give_the_lines_and_cells_of_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(source_csv, "CHUNK_LINES", chunk)
    source = open_source(str(write(tmp_path)))
    columns = ["Email", "Member ID", "Absent"]

    lines, cells = [], []
    for batch_lines, batch_columns in source.key_batches(columns):
        lines += batch_lines
        cells += list(zip(*batch_columns, strict=True))

    expected = [
        (
            row.line,
            ("", "", "") if row.problem else (row.values["Email"], row.values["Member ID"], ""),
        )
        for row in source.rows()
    ]
    assert list(zip(lines, cells, strict=True)) == expected


def test_unclosed_quote_after_a_chunk_boundary_is_still_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_csv, "CHUNK_LINES", 2)
    path = write(tmp_path, 'a,b\n1,2\n3,4\n5,"6\n7,8\n9,10\n')
    source = open_source(str(path))

    with pytest.raises(Exception, match="never closed") as caught:
        list(source.rows())
    assert getattr(caught.value, "line", None) == 4
    with pytest.raises(Exception, match="never closed"):
        list(source.key_batches(["a"]))


def test_row_from_cells_builds_values_lazily_and_behaves_like_a_row() -> None:
    row = row_from_cells(7, ["a", "b"], ["1", "2"])

    assert row.cells == ["1", "2"] and row.problem is None and row.problem_field is None
    assert row.values == {"a": "1", "b": "2"}
    assert row.values is row.values
    assert row == SourceRow(7, {"a": "1", "b": "2"})
    assert row != SourceRow(8, {"a": "1", "b": "2"})
    assert repr(row) == repr(SourceRow(7, {"a": "1", "b": "2"}))
    assert pickle.loads(pickle.dumps(row)) == row
    with pytest.raises(AttributeError):
        row.line = 3  # type: ignore[misc]


class RowsOnly:
    """A source with only rows(): validation takes its generic path."""

    def __init__(self, source: Source) -> None:
        self.name = source.name
        self._source = source

    def rows(self) -> Iterator[SourceRow]:
        return self._source.rows()


def generated(tmp_path: Path, rows: int = 3000) -> Path:
    """A messy export with every kind of row, including duplicates of each key kind."""
    lines = [",".join([*HEADER, "id"])]
    for n in range(rows):
        email = f"p{n}@example.org" if n % 97 else f"P{n // 2}@Example.org"
        member = f"M{n}" if n % 89 else f"M{n // 3}"
        first = ("Zoë", " Ann", "", "Bob", "Cy")[n % 5] if n % 7 else "Ann"
        dob = ("1990-04-03", "", "2001-02-30", "03/04/2001", "1899-12-31")[n % 5]
        country = ("CA", "Canada", "", "Narnia", "gb")[n % 5]
        user = str(n % 400 + 1) if n % 3 else ""
        lines.append(",".join([member, first, "Lee", email, dob, country, user]))
    return write(tmp_path, "\n".join(lines) + "\n", "generated.csv")


@pytest.mark.parametrize("policy", ["error", "first", "last"])
def test_fast_and_generic_paths_give_the_same_results(tmp_path: Path, policy: str) -> None:
    source = open_source(str(generated(tmp_path)))
    mapping = build_mapping(source.headers)
    options = ValidationOptions(on_duplicate=policy)  # type: ignore[arg-type]

    fast = list(validate_source(source, mapping, options))
    generic = list(validate_source(RowsOnly(source), mapping, options))

    assert fast == generic
    assert {r.status for r in fast} == {"valid", "invalid"} | (
        {"duplicate"} if policy != "error" else set()
    )
    summary = summarize(fast, mapping)
    assert summary.rows == 3000 and summary.valid + summary.invalid + summary.duplicates == 3000


def test_lazy_row_equals_the_checked_and_built_row(tmp_path: Path) -> None:
    source = open_source(str(generated(tmp_path, 200)))
    mapping = build_mapping(source.headers)
    checker = RowChecker(mapping)
    results = list(validate_source(source, mapping, ValidationOptions()))

    valid = [r for r in results if r.status == "valid"]
    assert valid
    for result in valid:
        data, errors = checker.check_fully(result.source)
        assert errors == [] and data is not None
        assert result.row == checker.build(data)
        assert result.row is result.row
    with pytest.raises(AttributeError):
        valid[0].status = "invalid"  # type: ignore[misc]
    assert RowResult(2, valid[0].source, valid[0].row, (), "valid") == valid[0]


def test_sorting_and_counting_find_the_same_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = open_source(str(generated(tmp_path)))
    mapping = build_mapping(source.headers)
    columns = key_columns(mapping)
    assert list(columns) == ["email", "id", "external_id"]

    counted = index_duplicates(source.key_batches(list(columns.values())), list(columns))
    monkeypatch.setattr(duplicates, "COUNT_MAX_ROWS", 10)
    sorted_ = index_duplicates(source.key_batches(list(columns.values())), list(columns))
    generic = find_duplicates(source.rows(), mapping)

    assert counted.groups_by_ordinal == sorted_.groups_by_ordinal == generic.groups_by_ordinal
    assert list(counted.lines) == list(generic.lines)
    kinds = {group.kind for groups in counted.groups_by_ordinal.values() for group in groups}
    assert kinds == {"email", "id", "external_id"}


def test_messy_keys_are_hashed_like_their_dup_keys() -> None:
    emails = ["a@x.org", " A@X.ORG", "a@x.org\t", "", "n/a", "Zoë@x.org", "b@x.org"]
    email_hashes = duplicates._hash_column(emails, *duplicates._HASHERS["email"])
    ids = ["7", "007", " 8", "", "x", "0"]
    id_hashes = duplicates._hash_column(ids, *duplicates._HASHERS["id"])

    assert email_hashes == [duplicates._hash_of(duplicates.email_dup_key(e)) for e in emails]
    assert id_hashes == [duplicates._hash_of(duplicates.id_dup_key(i)) for i in ids]
    assert email_hashes[0] == email_hashes[1] == email_hashes[2]


CELL_TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "Ann", "ann@example.org", "a@B.org", "a..b@x.org", "x@y", "2001-04-03",
         "2001-02-30", "2001-W01-1", "CA", "Narnia", "12", "0", "Zoe\u0301", "a\u00a0b",
         " two  spaces", "tab\there", "x" * 256, f"{'l' * 65}@x.org", "ann@exa\u200bmple.org"]
    ),
    st.text(max_size=12),
)  # fmt: skip
CELL_COLUMNS = ["First Name", "Last Name", "Email", "Nickname", "DOB", "Country", "id", "Notes"]


@settings(max_examples=300, deadline=None)
@given(st.lists(CELL_TEXT, min_size=len(CELL_COLUMNS), max_size=len(CELL_COLUMNS)))
def test_fast_path_on_cells_agrees_with_full_check(cells: list[str]) -> None:
    checker = RowChecker(build_mapping(CELL_COLUMNS, overrides={"Notes": "custom:Notes"}))
    row = row_from_cells(2, CELL_COLUMNS, cells)

    assert checker.check(row) == checker.check_fully(row)


def test_results_pickle_with_their_row(tmp_path: Path) -> None:
    source = open_source(str(generated(tmp_path, 50)))
    mapping = build_mapping(source.headers)
    results = list(validate_source(source, mapping, ValidationOptions()))

    assert pickle.loads(pickle.dumps(results)) == results
