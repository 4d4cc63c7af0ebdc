"""The fast path on ordinary dirt gives exactly the full check's verdicts (issue 11).

Accented local parts (zoë.brown@), shouted and spaced emails (`` ZOË@GMAIL.COM ``),
partly blank id columns and a few quoted lines per chunk now stay on the fast paths of
both passes; these tests hold each of them to the plain, full check, on generated values
and on the rows of every ``bench/validate.py`` profile.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.bench_exports import PROFILES, write_profile
from support.cli import run_cli

from communal_sync.intake import duplicates
from communal_sync.intake.column_checks import LATIN_LETTERS, PLAIN_LOCAL
from communal_sync.intake.mapping import build_mapping
from communal_sync.intake.row_checks import RowChecker
from communal_sync.intake.validate import ValidationOptions, summarize, validate_source
from communal_sync.sources.rows import row_from_cells
from communal_sync.sources.source import open_source
from communal_sync.values.confusables import confusable_reason, script_of
from communal_sync.values.normalize import clean_text, email_key, is_valid_email

COLUMNS = ["First Name", "Last Name", "Email", "Country", "id", "Contact ID"]

LOCAL_CHARS = "abzAZ09._-+é ëÉËłŁßÿĳŀſ\u0301\u200b\u200dаοＡ\u00a0\t"
"""ASCII, Latin letters in and out of the fast class, combining and zero-width marks,
Cyrillic and Greek look-alikes, a full-width A, and whitespace."""

EMAIL = st.one_of(
    st.builds(
        lambda edge, local, domain, tail: f"{edge}{local}@{domain}{tail}",
        st.sampled_from(["", " ", "  ", "\t", "\u200b"]),
        st.text(alphabet=LOCAL_CHARS, min_size=0, max_size=10),
        st.sampled_from(["example.org", "EXAMPLE.ORG", "Gmail.com", "x", "exämple.org", ""]),
        st.sampled_from(["", " ", "\t", "  "]),
    ),
    st.sampled_from(["zoë.brown@gmail.com", " ZOË.BROWN@GMAIL.COM ", "josé.li@x.org", "n/a"]),
    st.text(max_size=10),
)
CELL = st.one_of(
    st.sampled_from(["", "Ann", "Zoë", "Маша", " Lee", "CA", "canada", "CAN ", "Narnia"]),
    st.text(max_size=6),
)
ID = st.sampled_from(["", "", "12", "007", "0", " 8", "x", "9" * 19, "1" * 20])


def checker() -> RowChecker:
    return RowChecker(build_mapping(COLUMNS))


def test_latin_letters_of_plain_local_parts_are_clean_latin_and_never_confusable() -> None:
    letters = [chr(c) for c in range(0x80, 0x250) if re.fullmatch(f"[{LATIN_LETTERS}]", chr(c))]

    assert len(letters) == 184  # Latin-1 and Latin Extended-A letters but ĳ Ĳ Ŀ ŀ ŉ ſ
    for letter in letters:
        email = f"a{letter}b@example.org"
        assert unicodedata.normalize("NFKC", letter) == letter, letter
        assert script_of(letter) == "LATIN", letter
        assert clean_text(email) == email
        assert is_valid_email(email) and confusable_reason(email) is None, letter
    for odd in "ĳŀŉſ×÷ª":
        assert PLAIN_LOCAL.fullmatch(f"a{odd}b") is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(CELL, CELL, EMAIL, CELL, ID, CELL), min_size=1, max_size=10))
def test_fast_path_on_dirty_emails_agrees_with_the_full_check(
    records: list[tuple[str, ...]],
) -> None:
    check = checker()
    rows = [row_from_cells(n + 2, COLUMNS, list(cells)) for n, cells in enumerate(records)]

    for row in rows:
        assert check.check(row) == check.check_fully(row)
    refused = {n for n, row in enumerate(rows) if not check.accepts(row)}
    assert check.suspects(COLUMNS, [list(cells) for cells in records]) == refused


@settings(max_examples=300, deadline=None)
@given(st.lists(EMAIL, min_size=1, max_size=40), st.lists(ID, min_size=1, max_size=40))
def test_batch_key_hashes_are_the_hashes_of_each_values_key(
    emails: list[str], ids: list[str]
) -> None:
    email_hashes = duplicates._hash_column(emails, *duplicates._HASHERS["email"])
    id_hashes = duplicates._hash_column(ids, *duplicates._HASHERS["id"])

    assert email_hashes == [duplicates._hash_of(duplicates.email_dup_key(e)) for e in emails]
    assert id_hashes == [duplicates._hash_of(duplicates.id_dup_key(i)) for i in ids]


def test_case_folding_the_whole_address_is_its_email_key() -> None:
    # Why the batch may key a clean address by casefold() alone, domain lower-cased or not.
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        assert char.lower().casefold() == char.casefold()
    assert email_key("ΣΊΣ@ΑΣ.gr") == "ΣΊΣ@ΑΣ.gr".casefold()
    assert email_key("İ@X.ORG") == "İ@X.ORG".casefold()


THREE_CELLS = st.lists(st.text(alphabet='ab ,"\n\r', max_size=5), min_size=3, max_size=3)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60), THREE_CELLS)),
    st.sampled_from(["\n", "\r\n"]),
)
def test_chunks_with_a_few_quoted_lines_read_as_a_plain_csv_reader_does(
    tmp_path_factory: pytest.TempPathFactory,
    quoted: list[tuple[int, list[str]]],
    terminator: str,
) -> None:
    lines = [f"p{n},q{n},r{n}" for n in range(60)]
    for at, cells in quoted:
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="").writerow(cells)
        lines.insert(at, out.getvalue())
    text = "a,b,c" + terminator + terminator.join(lines) + terminator
    path = tmp_path_factory.mktemp("quoted") / "few.csv"
    path.write_bytes(text.encode("utf-8"))

    with path.open(encoding="utf-8", newline="") as handle:
        expected = [
            cells + [""] * (3 - len(cells))
            for cells in list(csv.reader(handle))[1:]
            if any(cell.strip() for cell in cells)
        ]
    rows = list(open_source(str(path)).rows())

    assert [[row.values[c] for c in "abc"] for row in rows] == [cells[:3] for cells in expected]


@pytest.mark.parametrize("profile", PROFILES)
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_fast_path_agrees_with_the_full_check_on_every_bench_profile(
    tmp_path_factory: pytest.TempPathFactory, profile: str, seed: int
) -> None:
    path = tmp_path_factory.mktemp(profile) / "export.csv"
    write_profile(path, profile, 300, seed)
    source = open_source(str(path))
    mapping = build_mapping(source.headers)
    check = RowChecker(mapping)

    for rows, records in source.row_batches():
        for row in rows:
            assert check.check(row) == check.check_fully(row)
        if records is not None:
            refused = {n for n, row in enumerate(rows) if not check.accepts(row)}
            assert check.suspects(rows[0].columns or [], records) == refused
    results = list(validate_source(source, mapping, ValidationOptions()))
    grouped = duplicates.find_duplicates(source.rows(), mapping).groups_by_ordinal
    plain = [
        (None, []) if n in grouped else check.check_fully(result.source)
        for n, result in enumerate(results)
    ]
    assert [r.status == "valid" for r in results] == [data is not None for data, _ in plain]
    assert [r.row for r in results if r.status == "valid"] == [
        check.build(data) for data, _ in plain if data is not None
    ]
    summary = summarize(results, mapping)
    assert summary.rows == 300


@pytest.mark.parametrize("profile", ["messy", "quoted"])
def test_a_messy_export_validates_with_the_expected_counts_through_the_cli(
    tmp_path: Path, profile: str
) -> None:
    path = tmp_path / f"{profile}.csv"
    write_profile(path, profile, 1000, 7)

    result = run_cli("validate", str(path), "--format", "json")

    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["rows"], report["valid"], report["invalid"], report["duplicates"]) == (
        1000,
        987,
        13,
        0,
    )
    fields: dict[str, int] = {}
    for error in report["errors"]:
        fields[error["field"]] = fields.get(error["field"], 0) + 1
    # The same errors as before the fast path took accented and shouted emails.
    assert fields == {"email": 5, "external_id": 2, "first_name": 4, "profile_country": 5}
    assert report["unmapped_columns"] == []
