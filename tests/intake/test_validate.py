"""Row validation: every rule, every error of a row, duplicates under each policy."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from communal_sync.errors import InputError
from communal_sync.intake.mapping import ColumnMapping, build_mapping
from communal_sync.intake.profile_row import trusted_row
from communal_sync.intake.row_checks import RowChecker
from communal_sync.intake.validate import (
    DuplicatePolicy,
    ProfileRow,
    RowError,
    RowResult,
    ValidationOptions,
    summarize,
    validate_source,
)
from communal_sync.sources.rows import SourceRow
from communal_sync.sources.source import open_source
from communal_sync.values.dates import DateOrder

DATA = Path(__file__).resolve().parent.parent / "data" / "validate"
HEADERS = ["First Name", "Last Name", "Email"]


class FakeSource:
    """A Source with rows given in memory; line numbers start at 2 (after the header)."""

    name = "people.csv"

    def __init__(self, headers: Sequence[str], rows: Sequence[Mapping[str, str] | SourceRow]):
        self.headers = list(headers)
        self._rows = [
            row if isinstance(row, SourceRow) else SourceRow(number, dict(row))
            for number, row in enumerate(rows, start=2)
        ]

    def rows(self) -> Iterator[SourceRow]:
        return iter(self._rows)


def person(
    first: str = "Ann", last: str = "Lee", email: str = "ann@example.org", **more: str
) -> dict[str, str]:
    return {"First Name": first, "Last Name": last, "Email": email, **more}


def run(
    rows: Sequence[Mapping[str, str] | SourceRow],
    headers: Sequence[str] | None = None,
    *,
    on_duplicate: DuplicatePolicy = "error",
    date_order: DateOrder | None = None,
) -> list[RowResult]:
    headers = list(headers or (rows[0].keys() if isinstance(rows[0], Mapping) else HEADERS))
    source = FakeSource(headers, rows)
    mapping = build_mapping(headers, source_name=source.name)
    options = ValidationOptions(on_duplicate=on_duplicate, date_order=date_order)
    return list(validate_source(source, mapping, options))


def one(row: Mapping[str, str], *, date_order: DateOrder | None = None) -> RowResult:
    (result,) = run([row], date_order=date_order)
    return result


def messages(result: RowResult) -> list[tuple[str | None, str]]:
    return [(e.field, e.message) for e in result.errors]


# -- the example file ---------------------------------------------------------------------


def test_example_file_end_to_end() -> None:
    source = open_source(str(DATA / "people.csv"))
    mapping = build_mapping(
        source.headers, overrides={"T-shirt": "custom:T-shirt size"}, source_name=source.name
    )
    results = list(validate_source(source, mapping, ValidationOptions(date_order="dmy")))
    assert [(r.line, r.status) for r in results] == [
        (2, "invalid"),
        (3, "valid"),
        (4, "invalid"),
        (5, "valid"),
        (6, "invalid"),
    ]
    bob = results[1].row
    assert bob == ProfileRow(
        line=3,
        first_name="Bob",
        last_name="Smith",
        email="Bob@example.org",
        date_of_birth="2001-04-03",
        profile_country="CA",
        external_id="M002",
        custom={"T-shirt size": None},
    )
    assert [e.field for e in results[2].errors] == [
        "first_name",
        "email",
        "date_of_birth",
        "profile_country",
    ]
    assert [(e.field, e.message.split(":")[0]) for e in results[0].errors] == [
        ("email", "The same email is also on line 6"),
        ("external_id", "The same external id is also on line 6"),
    ]
    summary = summarize(results, mapping)
    assert (summary.rows, summary.valid, summary.invalid, summary.duplicates) == (5, 2, 3, 0)
    assert len(summary.errors) == 8
    assert summary.unmapped_columns == []


def test_json_records_with_missing_keys_validate() -> None:
    source = open_source(str(DATA / "people.json"))
    mapping = build_mapping(source.headers, source_name=source.name)
    results = list(validate_source(source, mapping, ValidationOptions()))
    assert [r.status for r in results] == ["valid", "invalid", "valid"]
    assert results[0].row is not None and results[0].row.id == 12
    assert results[2].row is not None and results[2].row.profile_country is None
    assert 'map it with --map "id=external_id"' in results[1].errors[0].message


# -- values ---------------------------------------------------------------------------------


def test_valid_row_is_cleaned_and_normalized() -> None:
    result = one(
        person(
            first="  Zoe\u0301 ",
            last="Lee\u200b",
            email=" Ann@Example.ORG ",
            **{
                "Mobile": " (514)  555-0100 ",
                "Birthdate": "March 1, 1990",
                "Country": "u.s.a.",
                "Zip": "02134",
                "Address 2": "",
                "Communal ID": "0042",
            },
        )
    )
    assert result.status == "valid" and result.errors == ()
    assert result.row == ProfileRow(
        line=2,
        first_name="Zoé",
        last_name="Lee",
        email="Ann@example.org",
        telephone="(514) 555-0100",
        date_of_birth="1990-03-01",
        profile_country="US",
        profile_zip="02134",
        profile_address_line_2=None,
        id=42,
    )
    assert unicodedata.is_normalized("NFC", result.row.first_name)


def test_blank_optional_cells_are_none_not_clears() -> None:
    row = one(person(Mobile="", City="  ")).row
    assert row is not None
    assert row.telephone is None and row.profile_city is None


def test_custom_fields_are_collected_by_name() -> None:
    headers = [*HEADERS, "custom:Allergies", "custom:Team"]
    row = run([person(**{"custom:Allergies": " nuts ", "custom:Team": ""})], headers)[0].row
    assert row is not None
    assert row.custom == {"Allergies": "nuts", "Team": None}


def test_trusted_row_equals_validated_model() -> None:
    row = one(person(Mobile="555", DOB="2001-04-03", Country="CA", **{"Communal ID": "7"})).row
    assert row is not None
    again = ProfileRow.model_validate(row.model_dump())
    assert row == again
    assert row.model_dump() == again.model_dump()
    assert list(row.model_dump()) == list(ProfileRow.model_fields)
    assert row.model_fields_set >= {"line", "first_name", "telephone", "id"}
    with pytest.raises(ValueError, match="frozen"):
        row.email = "x@y.org"  # type: ignore[misc]
    assert trusted_row(dict(row.model_dump()), set(row.model_fields_set)) == row


# -- rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["First Name", "Last Name", "Email"])
def test_required_fields_must_not_be_blank(field: str) -> None:
    result = one({**person(), field: "   "})
    assert result.status == "invalid" and result.row is None
    (error,) = result.errors
    assert "is blank: every row needs" in error.message
    assert f"Fill in column {field!r}" in error.message


@pytest.mark.parametrize("email", ["ann", "ann@example", "ann lee@example.org", "a@b@c.org"])
def test_bad_email_is_invalid(email: str) -> None:
    result = one(person(email=email))
    assert messages(result) == [
        (
            "email",
            "This is not a valid email address: it needs one @ and a domain such as "
            "example.org, with no spaces. Correct it in the file.",
        )
    ]


@pytest.mark.parametrize("column", ["First Name", "Last Name", "Middle Name", "Nickname"])
def test_names_longer_than_255_are_invalid(column: str) -> None:
    result = one({**person(), column: "x" * 256})
    assert result.status == "invalid"
    assert "is 256 characters long; Communal allows at most 255" in result.errors[0].message
    assert one({**person(), column: "x" * 255}).status == "valid"


def test_unknown_country_names_value_and_example() -> None:
    result = one(person(Country="Narnia"))
    assert messages(result) == [
        (
            "profile_country",
            "This is not a country communal-sync knows: write an ISO code or the English "
            "name, for example CA or Canada.",
        )
    ]


def test_ambiguous_date_says_how_to_settle_it() -> None:
    result = one(person(DOB="03/04/2001"))
    assert result.status == "invalid"
    assert 'set date_order = "dmy" or "mdy" in communal-sync.toml' in result.errors[0].message
    assert one(person(DOB="03/04/2001"), date_order="mdy").row.date_of_birth == "2001-03-04"  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["0", "-3", "12.0", "abc", "1e3", "٣"])
def test_id_must_be_a_positive_integer(value: str) -> None:
    result = one(person(id=value))
    assert result.status == "invalid"
    assert result.errors[0].field == "id"
    assert 'map it with --map "id=external_id"' in result.errors[0].message


def test_every_error_of_a_row_is_collected_in_column_order() -> None:
    result = one(
        {
            "Country": "Atlantis",
            "First Name": "",
            "Last Name": "x" * 300,
            "Email": "nope",
            "DOB": "2001-02-30",
            "id": "x",
        }
    )
    assert [e.field for e in result.errors] == [
        "profile_country",
        "first_name",
        "last_name",
        "email",
        "date_of_birth",
        "id",
    ]
    assert all(e.line == 2 for e in result.errors)


def test_read_problem_makes_row_invalid_with_its_message() -> None:
    bad = SourceRow(2, person(email="nope"), "row has 5 cells but the header has 3")
    result = run([bad], HEADERS)[0]
    assert result.status == "invalid"
    assert messages(result) == [(None, "row has 5 cells but the header has 3")]


def test_field_problem_is_reported_with_the_other_errors() -> None:
    bad = SourceRow(
        2, person(first="{...}", email="nope"), "value is a nested object", "First Name"
    )
    result = run([bad], HEADERS)[0]
    assert messages(result)[0] == ("first_name", "value is a nested object")
    assert [e.field for e in result.errors] == ["first_name", "email"]


# -- duplicates -----------------------------------------------------------------------------


DUPES = [
    person(email="ann@example.org"),
    person(first="Bob", email="bob@example.org"),
    person(first="Ann2", email="ANN@Example.org "),
    person(first="Cy", email="cy@example.org"),
    person(first="Ann3", email="ann@example.org"),
]


def test_duplicates_policy_error_marks_every_row_of_the_group() -> None:
    results = run(DUPES)
    assert [r.status for r in results] == ["invalid", "valid", "invalid", "valid", "invalid"]
    assert results[0].errors == (
        RowError(
            2,
            "email",
            "ann@example.org",
            "The same email is also on lines 4, 6: each person must appear once. "
            "Remove the extra rows, or choose one with --on-duplicate first|last.",
        ),
    )
    assert "is also on lines 2, 6" in results[2].errors[0].message
    assert "is also on lines 2, 4" in results[4].errors[0].message


def test_duplicates_policy_first_keeps_the_first() -> None:
    results = run(DUPES, on_duplicate="first")
    assert [r.status for r in results] == ["valid", "valid", "duplicate", "valid", "duplicate"]
    assert results[0].row is not None and results[0].row.first_name == "Ann"
    assert results[2].row is None
    assert results[2].errors[0].message == (
        "Skipped: same email as line 2, and on_duplicate = 'first' keeps the first of them."
    )
    summary = summarize(results, build_mapping(HEADERS))
    assert (summary.valid, summary.invalid, summary.duplicates) == (3, 0, 2)


def test_duplicates_policy_last_keeps_the_last() -> None:
    results = run(DUPES, on_duplicate="last")
    assert [r.status for r in results] == ["duplicate", "valid", "duplicate", "valid", "valid"]
    assert results[4].row is not None and results[4].row.first_name == "Ann3"
    assert "same email as line 6" in results[0].errors[0].message


def test_duplicate_ids_and_external_ids_are_found() -> None:
    headers = [*HEADERS, "id", "Member ID"]
    rows = [
        person(email="a@x.org", id="7", **{"Member ID": "M1"}),
        person(email="b@x.org", id="007", **{"Member ID": "m1"}),
        person(email="c@x.org", id="8", **{"Member ID": "M1"}),
    ]
    results = run(rows, headers)
    assert [[e.field for e in r.errors] for r in results] == [
        ["id", "external_id"],
        ["id"],
        ["external_id"],
    ]


def test_invalid_placeholder_emails_are_not_duplicates_of_each_other() -> None:
    results = run([person(email="n/a"), person(email="n/a")])
    assert [[e.message.split(" ")[1] for e in r.errors] for r in results] == [
        ["is"],
        ["is"],
    ]


def test_skipped_duplicate_that_is_also_invalid_is_reported_invalid() -> None:
    results = run([person(), person(first="")], on_duplicate="first")
    assert [r.status for r in results] == ["valid", "invalid"]


def test_many_duplicate_lines_are_abbreviated() -> None:
    results = run([person() for _ in range(15)])
    assert "is also on lines 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 4 more" in (
        results[0].errors[0].message
    )


def test_file_changing_between_passes_is_an_input_error() -> None:
    class Shrinking(FakeSource):
        calls = 0

        def rows(self) -> Iterator[SourceRow]:
            self.calls += 1
            return iter(self._rows if self.calls == 1 else self._rows[:1])

    source = Shrinking(HEADERS, [person(), person(email="b@x.org")])
    with pytest.raises(InputError, match="changed while it was being read"):
        list(validate_source(source, build_mapping(HEADERS), ValidationOptions()))


# -- the fast path and the full rules agree -------------------------------------------------

ALL_COLUMNS = [*HEADERS, "Middle Name", "Phone", "DOB", "Country", "id", "custom:Team"]
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "Ann",
            "ann@example.org",
            "Ann@EXAMPLE.org",
            "x@y",
            "2001-04-03",
            "2001-02-30",
            "03/04/2001",
            "1850-01-01",
            "CA",
            "Canada",
            "Narnia",
            "12",
            "0",
            "Zoe\u0301",
            "Zoé",
            "a\u00a0b",
            "  two  spaces ",
            "tab\there",
            "x" * 256,
            "ann@exa\u200bmple.org",
        ]
    ),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, min_size=len(ALL_COLUMNS), max_size=len(ALL_COLUMNS)))
def test_fast_path_agrees_with_full_check(cells: list[str]) -> None:
    mapping: ColumnMapping = build_mapping(ALL_COLUMNS)
    checker = RowChecker(mapping)
    source_row = SourceRow(2, dict(zip(ALL_COLUMNS, cells, strict=True)))
    assert checker.check(source_row) == checker.check_fully(source_row)
