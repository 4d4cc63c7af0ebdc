"""Property-based tests: readers, mapping, normalizers and the diff on generated inputs.

Each property runs 100-200 examples with no deadline, so the file stays within seconds.
A property that holds for the values the product produces is stated for those only (the
normalizers are idempotent on their own outputs).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from communal_sync.errors import ConfigError, InputError
from communal_sync.fields import OPTIONAL_FIELDS, PROFILE_FIELDS, REQUIRED_FIELDS
from communal_sync.intake.mapping import build_mapping
from communal_sync.intake.validate import ValidationOptions, validate_source
from communal_sync.plan import ConflictPolicy, CurrentValue
from communal_sync.planning.diff import build_put_body, diff_fields
from communal_sync.sources.source import open_source
from communal_sync.values.normalize import (
    clean_text,
    email_key,
    normalize_country,
    normalize_date,
    normalize_email,
    phone_key,
)

PROPERTY_EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "150"))
"""Examples per property; raise it (say PROPERTY_EXAMPLES=5000) to hunt for bugs locally."""

PROPERTY_SETTINGS = settings(
    max_examples=PROPERTY_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""What ``csv.reader.line_num`` counts as a line when the file is opened with newline=""."""

# Text that can sit in a UTF-8 file: no surrogates; no NUL (a NUL in the first KiB makes the
# file look binary, which is right, and is covered by the corpus).
cell_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=12,
)
header_name = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij_", min_size=1, max_size=8)


def _written_lines(record: list[str], delimiter: str) -> tuple[str, int]:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerow(record)
    text = buffer.getvalue()
    return text, len(LINE_BREAK.findall(text))


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str]:
    """A header of distinct names, rows of arbitrary text as wide as it, and a delimiter."""
    header = draw(st.lists(header_name, min_size=1, max_size=5, unique=True))
    width = len(header)
    row = st.lists(cell_text, min_size=width, max_size=width).filter(
        lambda cells: any(cell.strip() for cell in cells)
    )
    rows = draw(st.lists(row, max_size=8))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"])) if width > 1 else ","
    return header, rows, delimiter


@PROPERTY_SETTINGS
@given(csv_tables())
def test_csv_reader_round_trips_values_and_lines(table: tuple[Any, Any, str]) -> None:
    header, rows, delimiter = table
    parts, starts, line = [], [], 1
    for record in [header, *rows]:
        text, breaks = _written_lines(record, delimiter)
        parts.append(text)
        starts.append(line)
        line += breaks
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_bytes("".join(parts).encode("utf-8"))
        source = open_source(str(path))
        read = list(source.rows())

    assert source.delimiter == delimiter
    assert source.headers == header
    assert [row.problem for row in read] == [None] * len(rows)
    assert [row.line for row in read] == starts[1:]
    assert [[row.values[name] for name in header] for row in read] == rows


@PROPERTY_SETTINGS
@given(
    st.binary(max_size=300),
    st.sampled_from(["x.csv", "x.json", "x.jsonl", "x.tsv", "x.dat"]),
    st.sampled_from([b"", b"First Name,Last Name,Email\n", b"[", b'{"data": [', b"\xef\xbb\xbf"]),
)
def test_arbitrary_bytes_raise_only_input_or_config_errors(
    data: bytes, name: str, prefix: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(prefix + data)
        try:
            source = open_source(str(path))
            list(source.rows())
            mapping = build_mapping(source.headers, source_name=source.name)
            results = list(validate_source(source, mapping, ValidationOptions()))
        except (InputError, ConfigError) as error:
            assert str(error)
            assert "\n" not in str(error).replace(folder, "")
            return
    assert all(r.status in ("valid", "invalid", "duplicate") for r in results)


json_value = st.one_of(
    st.text(max_size=6),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
json_record = st.dictionaries(
    st.sampled_from(["first_name", "last_name", "email", "note"]), json_value, max_size=4
)


def _as_text(value: object) -> str:
    """What the JSON reader keeps of a plain value: strings as is, the rest as JSON text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


@PROPERTY_SETTINGS
@given(
    st.lists(json_record, max_size=5),
    st.sampled_from([",", ",\n", " ,\r\n  ", "\n,\n"]),
    st.booleans(),
    st.integers(min_value=0, max_value=400),
)
def test_json_array_reads_every_row_on_its_line_or_fails_whole(
    records: list[dict[str, Any]], separator: str, wrapped: bool, cut: int
) -> None:
    """A JSON export gives each record on its starting line; a cut file never loses rows quietly."""
    head = '{"meta": {"n": 1},\n "data": [\n' if wrapped else "[\n"
    text, starts = head, []
    for number, item in enumerate(records):
        if number:
            text += separator
        starts.append(text.count("\n") + 1)
        text += json.dumps(item, ensure_ascii=False)
    text += "\n]}" if wrapped else "\n]"
    complete = cut >= len(text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.json"
        path.write_text(text[:cut] if not complete else text, encoding="utf-8")
        try:
            read = list(open_source(str(path)).rows())
        except InputError:
            assert not complete
            return
    assert [row.line for row in read] == starts
    for row, item in zip(read, records, strict=True):
        plain = {k: v for k, v in item.items() if not isinstance(v, list)}
        assert {k: row.values[k] for k in plain} == {k: _as_text(v) for k, v in plain.items()}
        assert (row.problem is None) == (len(plain) == len(item))


field_targets = st.sampled_from(
    [*PROFILE_FIELDS, "id", "external_id", "custom:Size", "", "not a field", "custom:", "E-mail"]
)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.one_of(cell_text, st.sampled_from(["First Name", "Surname", "E-mail", "Zip"])),
        unique=True,
    ),
    st.dictionaries(st.one_of(cell_text, st.sampled_from(["First Name", "email"])), field_targets),
)
def test_mapping_any_header_raises_only_input_or_config_errors(
    headers: list[str], overrides: dict[str, str]
) -> None:
    try:
        mapping = build_mapping(headers, overrides=overrides)
    except (InputError, ConfigError) as error:
        assert str(error)
        return
    placed = [*mapping.columns, *mapping.unmapped, *mapping.ignored]
    assert sorted(placed) == sorted(headers)
    if headers:  # no header at all (JSON with no record keys): rows report themselves
        assert set(REQUIRED_FIELDS) <= set(mapping.columns.values())
    assert len(set(mapping.columns.values())) == len(mapping.columns)


any_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            " Ann\u00a0 Lee ",
            "Ann@X.ORG",
            "  ann.lee@Example.org\u200b",
            "İstanbul@Örnek.com.tr",
            "ß@STRASSE.de",
            "\ufb01@x.org",
            "e\u0301",
            "+1 (514) 555-0100",
            "514.555.0100",
            "0044 20 7946 0958",
            "Canada",
            "can",
            "U.S.A.",
            "Côte d'Ivoire",
            "St Kitts & Nevis",
            "1984-03-12",
            "12/03/1984",
            "3 March 1984",
            "March 3, 1984",
            "19840312",
            "12.03.1984",
        ]
    ),
)


@PROPERTY_SETTINGS
@given(any_text)
def test_clean_text_and_emails_are_idempotent(text: str) -> None:
    assert clean_text(clean_text(text)) == clean_text(text)
    assert normalize_email(normalize_email(text)) == normalize_email(text)
    assert email_key(email_key(text)) == email_key(text)
    assert email_key(normalize_email(text)) == email_key(text)


@PROPERTY_SETTINGS
@given(any_text)
def test_country_and_date_are_idempotent_on_their_outputs(text: str) -> None:
    code = normalize_country(text)
    if code is not None:
        assert normalize_country(code) == code
    for order in (None, "dmy", "mdy"):
        iso = normalize_date(text, order=order)
        if iso is not None:
            assert normalize_date(iso, order=order) == iso


@PROPERTY_SETTINGS
@given(any_text, st.sampled_from([None, "CA", "GB", "FR"]))
def test_phone_key_ignores_cosmetic_cleaning(text: str, region: str | None) -> None:
    assert phone_key(clean_text(text), region) == phone_key(text, region)


PHONE_REGIONS = [None, "CA", "GB", "FR"]


@PROPERTY_SETTINGS
@given(st.text(alphabet="0123456789", min_size=7, max_size=12), st.sampled_from(PHONE_REGIONS))
def test_phone_key_ignores_how_a_number_is_punctuated(digits: str, region: str | None) -> None:
    """The same digits written with spaces, dashes, dots or brackets compare equal."""
    spaced = " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    dashed = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    dotted = ".".join(digits[i : i + 4] for i in range(0, len(digits), 4))
    key = phone_key(digits, region)

    assert phone_key(spaced, region) == key
    assert phone_key(dashed, region) == key
    assert phone_key(dotted, region) == key


# --- the diff ---------------------------------------------------------------------------------

field_value = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.sampled_from(
        [
            "",
            "  ",
            "Ann",
            "ann ",
            "Ann@Example.org",
            "ann@example.org",
            "+1 514 555 0100",
            "(514) 555-0100",
            "CA",
            "Canada",
            "1984-03-12",
            "12 March 1984",
        ]
    ),
)
record = st.fixed_dictionaries({}, optional=dict.fromkeys(PROFILE_FIELDS, field_value))
provenance = st.sampled_from(["live", "snapshot"])
policies: st.SearchStrategy[ConflictPolicy] = st.sampled_from(["skip", "source", "communal"])
clears = st.sampled_from([(), ("all",), OPTIONAL_FIELDS[:3]])
regions = st.sampled_from([None, "CA"])


@PROPERTY_SETTINGS
@given(record, st.one_of(st.none(), record), provenance, policies, clears, regions)
def test_source_equal_to_current_gives_no_change(
    values: dict[str, str | None],
    base: dict[str, str | None] | None,
    known_as: Any,
    policy: ConflictPolicy,
    allow_clear: tuple[str, ...],
    region: str | None,
) -> None:
    current = {name: CurrentValue(value, known_as) for name, value in values.items()}
    # A blank source cell with clearing allowed asks for a clear of a set field, so the
    # source "equals" the current record only where the current value is set or clears are off.
    source = {
        name: value
        for name, value in values.items()
        if not allow_clear or (value is not None and clean_text(value))
    }

    diff = diff_fields(
        source, current, base, on_conflict=policy, allow_clear=allow_clear, region=region
    )

    assert diff.changes == ()
    assert diff.conflicts == ()


@PROPERTY_SETTINGS
@given(record, record, st.one_of(st.none(), record), policies, clears, regions)
def test_applying_a_plan_then_planning_again_changes_nothing(
    source: dict[str, str | None],
    live: dict[str, str | None],
    base: dict[str, str | None] | None,
    policy: ConflictPolicy,
    allow_clear: tuple[str, ...],
    region: str | None,
) -> None:
    current = {name: CurrentValue(live.get(name), "live") for name in PROFILE_FIELDS}
    first = diff_fields(
        source, current, base, on_conflict=policy, allow_clear=allow_clear, region=region
    )
    body = build_put_body(first, current)
    assume(body is None or all(body[name] is not None for name in REQUIRED_FIELDS))

    after = {name: value.value for name, value in current.items()}
    after.update(body or {})
    pushed_base = {**(base or {}), **first.asserted}
    second = diff_fields(
        source,
        {name: CurrentValue(value, "live") for name, value in after.items()},
        pushed_base,
        on_conflict=policy,
        allow_clear=allow_clear,
        region=region,
    )

    assert second.changes == ()
    assert build_put_body(second, current) is None
