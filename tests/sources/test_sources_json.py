"""The reader on JSON: arrays, {"data": [...]} wrappers, JSON Lines, and broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from communal_sync.errors import InputError
from communal_sync.sources.source import SourceRow, open_source

DATA = Path(__file__).resolve().parent.parent / "data" / "sources"


def fixture(name: str) -> str:
    return str(DATA / name)


def test_array_rows_start_at_the_line_of_their_opening_brace() -> None:
    source = open_source(fixture("array.json"))

    assert (source.format, source.delimiter) == ("json", None)
    assert source.headers == ["first_name", "email", "telephone"]
    assert list(source.rows()) == [
        SourceRow(2, {"first_name": "Ann", "email": "ann@example.org"}),
        SourceRow(3, {"first_name": "Bob", "telephone": "0123"}),
    ]


def test_data_wrapped_object_reads_the_data_array_and_ignores_the_rest() -> None:
    source = open_source(fixture("wrapped.json"))

    assert source.headers == ["first_name", "last_name"]
    assert list(source.rows()) == [
        SourceRow(5, {"first_name": "Ann"}),
        SourceRow(6, {"first_name": "Bob", "last_name": "Ng"}),
    ]


def test_json_lines_rows_carry_their_line_and_skip_blank_lines() -> None:
    source = open_source(fixture("users.jsonl"))

    assert source.format == "jsonl"
    assert source.headers == ["first_name", "email", "profile_zip"]
    assert [(row.line, row.values) for row in source.rows()] == [
        (1, {"first_name": "Ann", "email": "ann@example.org"}),
        (3, {"first_name": "Bob", "profile_zip": "02134"}),
    ]


def test_numbers_booleans_and_nulls_become_their_json_text() -> None:
    (row,) = open_source(fixture("scalars.json")).rows()

    assert row.values == {
        "id": "42",
        "ratio": "1.5",
        "big": "12345678901234567890",
        "exp": "1e5",
        "active": "true",
        "left": "false",
        "middle_name": "",
        "zip": "02134",
    }
    assert row.problem is None


def test_nested_values_and_non_objects_are_row_problems() -> None:
    rows = list(open_source(fixture("nested.json")).rows())

    assert [(r.line, r.problem, r.problem_field) for r in rows] == [
        (1, "value of 'address' is a nested object", "address"),
        (2, "value of 'tags' is a list", "tags"),
        (3, "row is not an object (got a list)", None),
        (4, "row is not an object (got a string)", None),
        (5, "row is not an object (got a number)", None),
    ]
    assert rows[0].values == {"first_name": "Ann", "address": ""}


def test_malformed_json_line_is_a_problem_and_reading_continues() -> None:
    rows = list(open_source(fixture("malformed.jsonl")).rows())

    assert [(r.line, r.values) for r in rows] == [
        (1, {"first_name": "Ann"}),
        (2, {}),
        (3, {"first_name": "Cy"}),
    ]
    assert rows[1].problem == (
        "line is not valid JSON: Expecting property name enclosed in double quotes (column 22)"
    )


def test_json_line_that_is_not_an_object_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"a": "1"}\n[1, 2]\n"x"\n3\n', encoding="utf-8")

    problems = [row.problem for row in open_source(str(path)).rows()]

    assert problems == [
        None,
        "row is not an object (got a list)",
        "row is not an object (got a string)",
        "row is not an object (got a number)",
    ]


def test_truncated_array_yields_the_complete_rows_then_raises() -> None:
    path = fixture("truncated.json")
    rows = open_source(path).rows()

    assert [next(rows).values["first_name"], next(rows).values["first_name"]] == ["Ann", "Bob"]
    with pytest.raises(InputError) as caught:
        next(rows)
    assert (caught.value.file, caught.value.line) == (path, 4)
    assert "truncated" in str(caught.value)


def test_syntax_error_mid_array_names_the_line_after_yielding_rows_before_it() -> None:
    path = fixture("broken_middle.json")
    source = open_source(path)
    seen: list[str] = []

    with pytest.raises(InputError) as caught:
        for row in source.rows():
            seen.append(row.values["first_name"])

    assert seen == ["Ann"]
    assert str(caught.value) == (
        f"{path}, line 3: the file is not valid JSON here: Expecting ',' delimiter. "
        "Check the export for a truncated or hand-edited file."
    )
    assert source.headers == ["first_name"]


def test_object_without_data_array_is_an_input_error() -> None:
    path = fixture("no_data.json")
    with pytest.raises(InputError) as caught:
        open_source(path)

    assert caught.value.file == path
    assert 'object without a "data" array' in str(caught.value)
    assert "Export a JSON array" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"data": {"a": 1}}', 'the "data" value is not an array'),
        ("[", "ends before the array is closed"),
        ('  "just text"', r"must start with \[ or \{"),
        ('{"data": [{"a": "1"}] ', "ends before the object is closed"),
        ('{"data": [{"a": "1"}], "data": []}', "names the key 'data' twice"),
        ('{"meta": 1, "meta": 2, "data": []}', "names the key 'meta' twice"),
        ('{"data": [{"a": "1"}],}', "Expecting property name"),
        ('[{"a": "1"}]\n[{"a": "2"}]', r"more than one JSON document.*starts here \('\[\{"),
        ('[{"a": "1"}]<html>502', r"line 1: .*more than one JSON document.*'<html>502'"),
        ('[{"a": NaN}]', "NaN is not a JSON value"),
        ('{"meta": [1], "data": [{"a": "1"}], "page": 2}  \n', None),
    ],
)
def test_top_level_shapes(tmp_path: Path, text: str, expected: str | None) -> None:
    path = tmp_path / "shape.json"
    path.write_text(text, encoding="utf-8")

    if expected is None:
        assert [row.values for row in open_source(str(path)).rows()] == [{"a": "1"}]
        return
    with pytest.raises(InputError, match=expected) as caught:
        list(open_source(str(path)).rows())
    assert caught.value.file == str(path)


def test_empty_array_is_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    path.write_text(" [ ] ", encoding="utf-8")

    source = open_source(str(path))

    assert (source.headers, list(source.rows())) == ([], [])


def test_elements_spanning_many_read_chunks_keep_their_lines(tmp_path: Path) -> None:
    long_value = "y" * 200_000
    records = [f'{{"n": {i}, "note": "{long_value if i % 7 == 0 else "s"}"}}' for i in range(40)]
    path = tmp_path / "long.json"
    path.write_text("[\n" + ",\n".join(records) + "\n]\n", encoding="utf-8")

    rows = list(open_source(str(path)).rows())

    assert [row.line for row in rows] == list(range(2, 42))
    assert [row.values["n"] for row in rows] == [str(i) for i in range(40)]
    assert rows[7].values["note"] == long_value


def test_json_with_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b'\xef\xbb\xbf[\r\n {"name": "Zo\xc3\xab"},\r\n {"name": "Al"}\r\n]')

    rows = list(open_source(str(path)).rows())

    assert [(row.line, row.values["name"]) for row in rows] == [(2, "Zoë"), (3, "Al")]


def test_a_key_named_twice_in_a_record_makes_the_row_invalid(tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    path.write_text(
        '{"email": "ana@example.org", "email": "eve@example.org"}\n{"email": "b@example.org"}\n',
        encoding="utf-8",
    )

    rows = list(open_source(str(path)).rows())

    assert rows[0].problem_field == "email"
    assert rows[0].problem is not None and "names the key 'email' twice" in rows[0].problem
    assert (rows[1].problem, rows[1].values) == (None, {"email": "b@example.org"})


def test_a_lone_surrogate_is_kept_visible_and_makes_the_row_invalid(tmp_path: Path) -> None:
    path = tmp_path / "half.json"
    path.write_text('[{"first_name": "A\\ud800da", "x\\udc00": "1"}]', encoding="utf-8")

    (row,) = open_source(str(path)).rows()

    assert row.values == {"first_name": "A\\ud800da", "x\\udc00": "1"}
    assert (row.problem_field, "lone surrogate" in (row.problem or "")) == ("first_name", True)


def test_infinity_in_json_lines_refuses_the_file_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "inf.jsonl"
    path.write_text('{"a": "1"}\n{"a": -Infinity}\n', encoding="utf-8")

    with pytest.raises(InputError, match=r"line 2: -Infinity is not a JSON value"):
        list(open_source(str(path)).rows())


@pytest.mark.parametrize(
    ("name", "text", "what"),
    [
        ("big.json", '[{"a": "' + "x" * 5000 + '"}]', "JSON value"),
        ("big.jsonl", '{"a": "1"}\n{"a": "' + "x" * 5000 + '"}\n', "line"),
    ],
)
def test_a_record_past_the_size_limit_is_refused_naming_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str, what: str
) -> None:
    from communal_sync.sources import json_reader

    monkeypatch.setattr(json_reader, "RECORD_MAX_CHARS", 1000)
    monkeypatch.setattr(json_reader, "READ_CHARS", 512)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    with pytest.raises(InputError, match=f"the {what} that starts here is longer than the limit"):
        list(open_source(str(path)).rows())
