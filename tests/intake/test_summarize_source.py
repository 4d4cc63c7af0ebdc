"""``summarize_source`` (one read, for ``validate``) gives exactly the summary of the two-pass
``summarize(validate_source(...))``: counts, every error and their order, on every policy."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.bench_exports import PROFILES, write_profile
from support.cli import run_cli

from communal_sync.errors import InputError
from communal_sync.intake.duplicates import DuplicatePolicy
from communal_sync.intake.mapping import build_mapping
from communal_sync.intake.validate import (
    ValidationOptions,
    ValidationSummary,
    summarize,
    summarize_source,
)
from communal_sync.intake.validate import validate_source as two_pass
from communal_sync.sources.rows import SourceRow, key_batches_of
from communal_sync.sources.source import open_source

POLICIES: tuple[DuplicatePolicy, ...] = ("error", "first", "last")
HEADER = ["Communal ID", "External ID", "First Name", "Last Name", "Email", "Country"]


def both(path: Path, policy: DuplicatePolicy) -> tuple[ValidationSummary, ValidationSummary]:
    source = open_source(str(path))
    mapping = build_mapping(source.headers)
    options = ValidationOptions(on_duplicate=policy)
    return summarize_source(source, mapping, options), summarize(
        two_pass(source, mapping, options), mapping
    )


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("profile", PROFILES)
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_one_read_summary_is_the_two_pass_summary_on_every_bench_profile(
    tmp_path_factory: pytest.TempPathFactory, profile: str, policy: DuplicatePolicy, seed: int
) -> None:
    path = tmp_path_factory.mktemp(profile) / "export.csv"
    write_profile(path, profile, 400, seed)

    one, two = both(path, policy)

    assert one == two
    assert one.rows == 400


# Rows drawn from a few values, so that emails, ids and external ids repeat (in other case
# and with spaces too), beside invalid, blank, short and over-long rows.
cells = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["", "", "7", "8", "007", "x", "99999999999999999999"]),
        "external": st.sampled_from(["", "A1", "a1", "B2", " B2 "]),
        "first": st.sampled_from(["Ann", "", " Zoë ", "Ж"]),
        "email": st.sampled_from(
            ["ann@x.org", "ANN@X.ORG ", "bo@x.org", "zoë@x.org", "n/a", "", "a b@x.org"]
        ),
        "country": st.sampled_from(["CA", "canada", "Atlantis", "", "us "]),
        "shape": st.sampled_from(["full"] * 6 + ["blank", "short", "long", "break"]),
    }
)


def write_rows(path: Path, drawn: list[dict[str, str]], delimiter: str = ",") -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(HEADER)
        for row in drawn:
            record = [row["id"], row["external"], row["first"], "Lee", row["email"], row["country"]]
            if row["shape"] == "blank":
                record = ["", " ", "", "", "", ""]
            elif row["shape"] == "short":
                record = record[:5]
            elif row["shape"] == "long":
                record = [*record, "extra"]
            elif row["shape"] == "break":
                record[3] = "Lee\nSmith"  # a quoted line break: the row spans two lines
            writer.writerow(record)


@settings(max_examples=120, deadline=None)
@given(drawn=st.lists(cells, min_size=1, max_size=300), policy=st.sampled_from(POLICIES))
def test_one_read_summary_is_the_two_pass_summary_with_repeated_keys(
    tmp_path_factory: pytest.TempPathFactory, drawn: list[dict[str, str]], policy: DuplicatePolicy
) -> None:
    path = tmp_path_factory.mktemp("dups") / "export.csv"
    write_rows(path, drawn)

    one, two = both(path, policy)

    assert one == two


@pytest.mark.parametrize("policy", POLICIES)
def test_one_read_summary_of_a_json_export_is_the_two_pass_summary(
    tmp_path: Path, policy: DuplicatePolicy
) -> None:
    people = [
        {"email": "ann@x.org", "first_name": "Ann", "last_name": "Lee", "id": "7"},
        {"email": "ANN@x.org", "first_name": "Ann", "last_name": "Lee"},
        {"email": "bo@x.org", "first_name": "", "last_name": "Lee", "id": "7"},
        {"email": "n/a", "first_name": "Cy", "last_name": "Lee"},
        {"email": "bo@x.org", "first_name": "Bo", "last_name": "Lee"},
    ]
    path = tmp_path / "people.json"
    path.write_text(json.dumps(people), encoding="utf-8")

    one, two = both(path, policy)

    assert one == two
    assert (one.rows, one.duplicates + one.invalid) == (
        5,
        {"error": 5, "first": 4, "last": 3}[policy],
    )


class Rewritten:
    """A source whose key columns, read again for the duplicates, have lost a row."""

    name = "people.csv"

    def __init__(self) -> None:
        self.headers = ["First Name", "Last Name", "Email"]
        self._rows = [
            SourceRow(2, {"First Name": "Ann", "Last Name": "Lee", "Email": "a@x.org"}),
            SourceRow(3, {"First Name": "Bo", "Last Name": "Lee", "Email": "A@x.org"}),
        ]

    def rows(self) -> Iterator[SourceRow]:
        return iter(self._rows)

    def key_batches(self, columns: list[str]) -> Iterator[tuple[list[int], list[list[str]]]]:
        return key_batches_of(self._rows[:1], columns)


def test_a_file_rewritten_before_its_duplicates_are_read_again_is_an_input_error() -> None:
    source = Rewritten()
    mapping = build_mapping(source.headers, source_name=source.name)

    with pytest.raises(InputError, match="changed while it was being read"):
        summarize_source(source, mapping, ValidationOptions())


def test_validate_reports_duplicates_and_errors_in_line_order_through_the_cli(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "Email,First Name,Last Name\nann@x.org,Ann,Lee\nbo@x.org,,Lee\n ANN@X.ORG,Ann,Lee\n",
        encoding="utf-8",
    )

    result = run_cli("validate", str(path), "--format", "json", "--on-duplicate", "first")

    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["rows"], report["valid"], report["invalid"], report["duplicates"]) == (
        3,
        1,
        1,
        1,
    )
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "first_name"),
        (4, "email"),
    ]
    assert report["errors"][1]["message"].startswith("Skipped: same email as line 2")


@pytest.mark.parametrize("country", ["AL\x1b", "CA\x01", "\x9bUS", "Canada\x07"])
def test_a_country_with_a_control_character_is_refused_by_the_fast_checks_too(
    tmp_path: Path, country: str
) -> None:
    # Found by the property test: the country's lookup key drops the control character, so
    # the fast checks took "AL\x1b" as Albania while check_fully refuses the cell.
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["First Name", "Last Name", "Email", "Country"])
        writer.writerow(["Ann", "Lee", "ann@x.org", "CA"])
        writer.writerow(["Bo", "Lee", "bo@x.org", country])

    one, two = both(path, "error")

    assert one == two
    assert (one.valid, one.invalid) == (1, 1)
    assert [(e.line, e.field) for e in one.errors] == [(3, "profile_country")]


@settings(max_examples=80, deadline=None)
@given(
    drawn=st.lists(cells, min_size=1, max_size=120),
    delimiter=st.sampled_from([",", ";", "\t"]),
    picks=st.sets(st.integers(0, 119)),
)
def test_the_key_cells_at_some_lines_are_the_key_batches_cells_of_those_rows(
    tmp_path_factory: pytest.TempPathFactory,
    drawn: list[dict[str, str]],
    delimiter: str,
    picks: set[int],
) -> None:
    # The duplicates' second read parses only the grouped rows' records, at their lines:
    # held to the whole read's cells (short rows padded, long ones blank, quoted breaks).
    path = tmp_path_factory.mktemp("cells") / "export.csv"
    write_rows(path, drawn, delimiter)
    source = open_source(str(path))
    columns = ["Email", "Communal ID", "External ID", "No Such Column"]
    whole = [
        (line, [column[k] for column in cells])
        for lines, cells in source.key_batches(columns)
        for k, line in enumerate(lines)
    ]
    wanted = [whole[at] for at in sorted(picks) if at < len(whole)]

    found = source.key_cells_at([line for line, _ in wanted], columns)

    assert found is not None
    assert list(found) == wanted


DUPLICATED = "Email,First Name,Last Name\nann@x.org,Ann,Lee\nbo@x.org,Bo,Lee\nANN@x.org,Ann,Lee\n"


@pytest.mark.parametrize(
    "rewritten",
    [
        "Email,First Name,Last Name\nann@x.org,Ann,Lee\nbo@x.org,Bo,Lee\ncy@x.org,Ann,Lee\n",
        "Email,First Name,Last Name\nann@x.org,Ann,Lee\n",
        "Email,First Name,Last Name\n\nann@x.org,Ann,Lee\nbo@x.org,Bo,Lee\nANN@x.org,Ann,Lee\n",
    ],
    ids=["key changed", "rows cut", "lines moved"],
)
def test_a_csv_rewritten_before_its_duplicates_are_read_again_is_an_input_error(
    tmp_path: Path, rewritten: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(DUPLICATED, encoding="utf-8")
    source = open_source(str(path))
    key_cells_at = source.key_cells_at

    def rewrite_first(
        lines: list[int], columns: list[str]
    ) -> Iterator[tuple[int, list[str]]] | None:
        path.write_text(rewritten, encoding="utf-8")
        return key_cells_at(lines, columns)

    source.key_cells_at = rewrite_first  # type: ignore[method-assign]
    mapping = build_mapping(source.headers, source_name=source.name)

    with pytest.raises(InputError, match="changed while it was being read"):
        summarize_source(source, mapping, ValidationOptions())
