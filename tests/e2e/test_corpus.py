"""The corpus of bad and odd inputs, run through the real CLI.

Each file in ``tests/corpus/`` (and each large one ``make_corpus.py`` writes at test time)
has one row in ``CASES``: the documented exit code of ``validate`` (1 unreadable, 3 some
rows invalid, 0 all valid) and either the exact counts and (line, field) of every problem,
or the fragments of the one-line error. Every run must be free of tracebacks; an
unreadable file must stop ``plan`` before it sends a single request.

A case marked ``bug`` asserts the correct behaviour and is a strict xfail until the
product is fixed: the reason names the function and what happens instead.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from communal_sync.intake.pipeline import IntakeOptions, open_intake
from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
CORPUS_MAX_BYTES = 1024 * 1024
NOT_CORPUS_FILES = {"README.md", "make_corpus.py"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_corpus"] = module
    spec.loader.exec_module(module)
    return module


make_corpus = _load_generator()

Problem = tuple[int, str | None]


@dataclass(frozen=True)
class Counts:
    """What ``validate --format json`` must report for a readable file, exactly."""

    rows: int
    valid: int
    invalid: int
    problems: list[Problem] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class Case:
    """One corpus file, what ``validate`` must do with it, and any known bug."""

    file: str
    exit_code: int
    expected: Counts | tuple[str, ...]
    """Counts for exit 0/3; for exit 1, fragments the one error line must contain."""
    warning: str | None = None
    """A fragment of the one warning line expected on stderr (None: stderr stays empty)."""
    large: bool = False
    """Written by make_corpus.write_large into a temporary directory, not committed."""
    text_mode: bool = True
    """Also run the text report (off where it is needlessly slow for huge files)."""
    bug: str | None = None
    """Set when the product does not do this yet: the reason of a strict xfail."""
    bug_in_plan: bool = True
    """Whether ``bug`` also breaks the ``plan`` check (for unreadable files)."""


def _bug(where: str, what: str) -> str:
    return f"BUG: {where} {what}"


CASES: list[Case] = [
    # --- nothing usable in the file ---------------------------------------------------------
    Case("empty.csv", 1, ("the file is empty (0 bytes).",)),
    Case("blank_lines.csv", 1, ("the file has no data: it contains only blank lines.",)),
    Case("bom_only.csv", 1, ("it contains only a byte-order mark.",)),
    Case("binary_garbage.csv", 1, ("looks like a binary file, not CSV or JSON.",)),
    Case("workbook_as.csv", 1, ("looks like an Excel workbook or another zip archive",)),
    Case("nul_early.csv", 1, ("looks like a binary file",)),
    Case("directory.csv", 1, ("is a directory, not a file.",)),
    Case("missing.csv", 1, ("file not found.",)),
    Case("header_only.csv", 0, Counts(0, 0, 0)),
    Case("bom_header_only.csv", 0, Counts(0, 0, 0)),
    # --- encodings ---------------------------------------------------------------------------
    Case("truncated_utf8.csv", 3, Counts(3, 2, 1, [(4, "email")]), warning="read it as cp1252"),
    Case(
        "truncated_utf8_undefined.csv",
        3,
        Counts(1, 0, 1, [(2, "last_name")]),
        warning="read it as latin-1",
    ),
    # Read as cp1252, the UTF-8 line would be pushed as "JosÃ©": refused, naming both lines.
    Case("mixed_encodings.csv", 1, ("mixes encodings", "line 2 is UTF-8", "line 3 is not")),
    Case("cp1252.csv", 0, Counts(2, 2, 0), warning="not valid UTF-8; read it as cp1252"),
    Case("utf16_no_bom.csv", 0, Counts(2, 2, 0), warning="looks like UTF-16-LE"),
    Case("utf16_bom_tab.txt", 0, Counts(2, 2, 0)),
    Case("utf32_bom.csv", 0, Counts(2, 2, 0)),
    Case(
        "nul_late.csv",
        3,
        Counts(61, 60, 1, [(62, "first_name")]),
    ),
    Case(
        "control_chars.csv",
        3,
        Counts(3, 1, 2, [(2, "first_name"), (3, "first_name")]),
    ),
    # --- CSV structure -----------------------------------------------------------------------
    Case("cr_only.csv", 3, Counts(4, 3, 1, [(4, "email")])),
    Case(
        "mismatched_quotes.csv",
        1,
        (", line 3: a quoted value that starts here is never closed",),
    ),
    Case(
        "unclosed_quote_last_line.csv",
        1,
        (", line 3: a quoted value that starts here is never closed",),
    ),
    Case("ragged_rows.csv", 3, Counts(5, 3, 2, [(4, "email"), (5, None)])),
    Case("header_repeated.csv", 3, Counts(3, 2, 1, [(3, "email")])),
    Case(
        "duplicate_header_names.csv",
        1,
        (", line 1, column 'Email': the header names this column twice (columns 3 and 4).",),
    ),
    Case(
        "synonym_clash.csv",
        1,
        (", line 1: columns 'First Name', 'Given name' all map to first_name.",),
    ),
    Case("missing_required.csv", 1, (", line 1: no column maps to email, which every row needs.",)),
    Case(
        "empty_header_name.csv",
        1,
        (", line 1: column 2 (after 'First Name') of the header has no name.",),
    ),
    Case(
        "trailing_delimiter.csv",
        1,
        (", line 1: column 4 (after 'Email') of the header has no name.",),
    ),
    Case(
        "whitespace_only_values.csv",
        3,
        Counts(2, 1, 1, [(4, "first_name")]),
    ),
    Case("quoted_newlines.csv", 3, Counts(3, 2, 1, [(4, "email")])),
    Case("semicolon_decimal_commas.csv", 0, Counts(3, 3, 0)),
    Case("tab_with_quotes.tsv", 0, Counts(3, 3, 0)),
    Case("pipe_delimited.txt", 3, Counts(2, 1, 1, [(3, "email")])),
    Case("excel_zip_formulas.csv", 0, Counts(2, 2, 0)),
    Case("header_spaces_bom.csv", 0, Counts(2, 2, 0)),
    Case("long_line.csv", 0, Counts(2, 2, 0)),
    Case("name with spaces ünïcødé.csv", 0, Counts(1, 1, 0)),
    # --- values ------------------------------------------------------------------------------
    Case("name_too_long.csv", 3, Counts(2, 1, 1, [(2, "first_name")])),
    Case(
        "bad_values.csv",
        3,
        Counts(
            5,
            2,
            3,
            [(3, "profile_country"), (4, "date_of_birth"), (5, "date_of_birth"), (5, "id")],
        ),
    ),
    Case("duplicate_emails.csv", 3, Counts(3, 1, 2, [(2, "email"), (3, "email")])),
    Case("formula_names.csv", 0, Counts(4, 4, 0)),
    Case("formula_invalid_rows.csv", 3, Counts(3, 1, 2, [(2, "email"), (3, "email")])),
    Case("rtl_zero_width.csv", 3, Counts(5, 4, 1, [(6, "email")])),
    Case(
        "unicode_emails.csv",
        3,
        Counts(8, 4, 4, [(6, "email"), (7, "email"), (8, "email"), (9, "email")]),
    ),
    Case("emoji_names.csv", 0, Counts(3, 3, 0)),
    # --- JSON and JSON Lines -----------------------------------------------------------------
    Case("object_without_data.json", 1, ('the JSON is an object without a "data" array.',)),
    Case("data_not_array.json", 1, (', line 1: the "data" value is not an array.',)),
    Case("nested_row.json", 3, Counts(5, 2, 3, [(3, None), (4, "first_name"), (5, "tags")])),
    Case(
        "scalars_as_text.json", 3, Counts(5, 2, 3, [(3, "email"), (5, "first_name"), (6, "email")])
    ),
    Case("not_object_rows.json", 3, Counts(4, 1, 3, [(2, None), (3, None), (4, None)])),
    Case("one_bad_line.jsonl", 3, Counts(3, 2, 1, [(2, None)])),
    Case("jsonl_blank_and_crlf.jsonl", 3, Counts(3, 2, 1, [(3, "email")])),
    Case("jsonl_array_line.jsonl", 3, Counts(2, 1, 1, [(2, None)])),
    Case("trailing_comma.json", 1, (", line 4: the file is not valid JSON here",)),
    Case("top_level_string.json", 1, (", line 1: the JSON must start with [ or {",)),
    Case("top_level_number.json", 1, (", line 1: the JSON must start with [ or {",)),
    Case("truncated.json", 1, (", line 3: the JSON ends before the array is closed",)),
    Case(
        "empty_array.json",
        0,
        Counts(0, 0, 0),
    ),
    # --- round two: files that are not one JSON document, ids and text that break the store --
    Case(
        "json_two_arrays.json",
        1,
        (", line 4: the file holds more than one JSON document", "starts here ('["),
    ),
    Case(
        "json_trailing_garbage.json",
        1,
        (", line 4: the file holds more than one JSON document", "<html><head><title>502 Bad"),
    ),
    Case(
        "json_data_twice.json",
        1,
        (", line 5: the object around the records names the key 'data' twice",),
    ),
    Case("json_wrapper_truncated.json", 1, ("the JSON ends before the object is closed",)),
    Case("json_duplicate_key.json", 3, Counts(2, 1, 1, [(2, "email")])),
    Case("jsonl_duplicate_key.jsonl", 3, Counts(2, 1, 1, [(2, "email")])),
    Case("json_nan.json", 1, (", line 3: NaN is not a JSON value",)),
    Case("jsonl_infinity.jsonl", 1, (", line 2: Infinity is not a JSON value",)),
    Case("json_lone_surrogate.json", 3, Counts(2, 1, 1, [(2, "first_name")])),
    Case("ids_out_of_range.csv", 3, Counts(5, 1, 4, [(3, "id"), (4, "id"), (5, "id"), (6, "id")])),
    Case("ids_json_numbers.json", 3, Counts(3, 1, 2, [(3, "id"), (4, "id")])),
    Case("ids_invisible.csv", 3, Counts(4, 2, 2, [(3, "id"), (4, "id")])),
    Case(
        "date_impossible_time.csv",
        3,
        Counts(3, 1, 2, [(2, "date_of_birth"), (3, "date_of_birth")]),
    ),
    Case("bidi_names.csv", 0, Counts(3, 3, 0)),
    Case(
        "terminal_escapes.csv",
        3,
        Counts(4, 1, 3, [(2, "first_name"), (3, "first_name"), (4, "first_name")]),
    ),
    Case(
        "confusable_emails.csv",
        3,
        Counts(6, 3, 3, [(2, "email"), (3, "email"), (4, "email")]),
    ),
    Case("formula_header.csv", 3, Counts(2, 1, 1, [(3, "email")])),
    # --- large, generated at test time -------------------------------------------------------
    Case("big_field_unmapped.csv", 0, Counts(2, 2, 0), large=True),
    Case(
        "big_field_name.csv", 3, Counts(2, 1, 1, [(2, "first_name")]), large=True, text_mode=False
    ),
    Case("million_columns.csv", 0, Counts(1, 1, 0), large=True, text_mode=False),
    Case(
        "million_columns_missing.csv",
        1,
        (", line 1: no column maps to last_name, email, which every row needs.",),
        large=True,
        text_mode=False,
    ),
    Case(
        "duplicates_10k.csv",
        3,
        Counts(10_001, 1, 10_000, [(line, "email") for line in range(2, 10_002)]),
        large=True,
        text_mode=False,
    ),
    Case("long_lines.csv", 0, Counts(3, 3, 0), large=True),
    Case(
        "deep_array.json",
        1,
        (", line 1:",),
        large=True,
    ),
    Case(
        "deep_in_array.json",
        1,
        (", line 3:",),
        large=True,
    ),
    Case(
        "deep_beside_data.json",
        1,
        (", line 1:",),
        large=True,
    ),
    Case(
        "deep_line.jsonl",
        3,
        Counts(2, 1, 1, [(2, None)]),
        large=True,
    ),
    Case(
        "deep_object.jsonl",
        3,
        Counts(1, 0, 1, [(1, None)]),
        large=True,
    ),
    Case("huge_email_cell.csv", 3, Counts(2, 1, 1, [(2, "email")]), large=True),
    Case(
        "trailing_nuls.csv",
        3,
        Counts(
            61, 60, 1, [(62, "first_name"), (62, "first_name"), (62, "last_name"), (62, "email")]
        ),
        large=True,
    ),
    Case("long_header_name.csv", 0, Counts(1, 1, 0), large=True),
    Case(
        "header_too_long.csv",
        1,
        (", line 1: the header that starts here is longer than the limit of 16 Mi characters",),
        large=True,
    ),
    Case(
        "line_too_long.csv",
        1,
        (", line 2: the line that starts here is longer than the limit of 128 Mi characters",),
        large=True,
    ),
]

UNREADABLE = [case for case in CASES if case.exit_code == 1]


def _params(cases: list[Case], *, plan: bool = False) -> list[Any]:
    params = []
    for case in cases:
        marks = []
        if case.bug and (case.bug_in_plan or not plan):
            marks.append(pytest.mark.xfail(strict=True, reason=case.bug))
        params.append(pytest.param(case, id=case.file, marks=marks))
    return params


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the large corpus files are written, once per module, on first use."""
    directory = tmp_path_factory.mktemp("large-corpus")
    yield directory
    for path in directory.iterdir():
        path.unlink()


def path_of(case: Case, large_dir: Path) -> Path:
    """The case's file: committed in tests/corpus, or written now into ``large_dir``."""
    if not case.large:
        return CORPUS / case.file
    path = large_dir / case.file
    if not path.exists():
        make_corpus.write_large(case.file, large_dir)
    return path


@dataclass(frozen=True)
class Outcome:
    """A CLI run, kept small enough to cache: the JSON report's values are dropped."""

    exit_code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None


_OUTCOMES: dict[tuple[str, ...], Outcome] = {}


def run_validate(cli: Cli, path: Path, *extra: str) -> Outcome:
    """``validate path *extra``, run once per module for the same arguments."""
    key = (str(path), *extra)
    if key not in _OUTCOMES:
        result = cli("validate", *key)
        report = None
        stdout = result.stdout
        if "json" in extra and result.exit_code != 1:
            report = json.loads(stdout)
            for error in report["errors"]:
                error["value"] = None
            stdout = ""
        _OUTCOMES[key] = Outcome(result.exit_code, stdout[:10_000], result.stderr, report)
    return _OUTCOMES[key]


def assert_one_error_line(stderr: str, name: str, fragments: tuple[str, ...]) -> None:
    """A fatal error: one line on stderr, "Error: <file>...", holding every fragment."""
    assert "Traceback" not in stderr
    assert stderr.startswith(f"Error: {name}"), stderr[:500]
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr[:500]
    for fragment in fragments:
        assert fragment in stderr, stderr[:500]


def assert_stderr_for(case: Case, stderr: str, name: str) -> None:
    """Readable files: no output on stderr except the one expected warning."""
    assert "Traceback" not in stderr
    if case.warning is None:
        assert stderr == ""
    else:
        assert stderr.startswith(f"Warning: {name}"), stderr
        assert stderr.count("\n") == 1 and case.warning in stderr, stderr


def problems_of(report: dict[str, Any]) -> list[Problem]:
    return [(error["line"], error["field"]) for error in report["errors"]]


# --- the table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params(CASES))
def test_validate_gives_documented_exit_code_and_exact_counts(
    cli: Cli, large_dir: Path, case: Case
) -> None:
    path = path_of(case, large_dir)
    name = str(path)
    outcome = run_validate(cli, path, "--format", "json")

    assert outcome.exit_code == case.exit_code, outcome.stderr[:500]
    if isinstance(case.expected, tuple):
        assert_one_error_line(outcome.stderr, name, case.expected)
        assert outcome.stdout == ""
    else:
        assert_stderr_for(case, outcome.stderr, name)
        assert outcome.report is not None
        counts = case.expected
        assert outcome.report["file"] == name
        assert (
            outcome.report["rows"],
            outcome.report["valid"],
            outcome.report["invalid"],
            outcome.report["duplicates"],
        ) == (counts.rows, counts.valid, counts.invalid, counts.duplicates)
        assert problems_of(outcome.report) == counts.problems

    if not case.text_mode:
        return
    text = run_validate(cli, path)
    assert text.exit_code == case.exit_code
    if isinstance(case.expected, tuple):
        assert text.stderr == outcome.stderr
        assert text.stdout == ""
    else:
        assert_stderr_for(case, text.stderr, name)
        counts = case.expected
        first_line = text.stdout.splitlines()[0]
        assert first_line == (
            f"{name}: {counts.rows} rows, {counts.valid} valid, {counts.invalid} invalid"
        )


@pytest.mark.parametrize("case", _params(UNREADABLE, plan=True))
def test_plan_of_an_unreadable_file_sends_no_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], large_dir: Path, case: Case
) -> None:
    path = path_of(case, large_dir)

    result = cli("plan", str(path), env=sandbox_env)

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, str(path), ())
    assert sandbox.requests() == []


# --- messages beyond the table ------------------------------------------------------------------


def test_duplicate_message_names_ten_other_lines_and_counts_the_rest(
    cli: Cli, large_dir: Path
) -> None:
    case = next(c for c in CASES if c.file == "duplicates_10k.csv")
    outcome = run_validate(cli, path_of(case, large_dir), "--format", "json")

    assert outcome.report is not None
    first = outcome.report["errors"][0]
    assert first["line"] == 2
    assert first["message"].startswith(
        "The same email is also on lines 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 9989 more: "
    )


def test_missing_column_error_stays_short_for_a_million_columns(cli: Cli, large_dir: Path) -> None:
    case = next(c for c in CASES if c.file == "million_columns_missing.csv")
    outcome = run_validate(cli, path_of(case, large_dir), "--format", "json")

    assert outcome.exit_code == 1
    assert len(outcome.stderr) < 2_000


def test_text_report_shortens_a_huge_invalid_value(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "huge_name.csv"
    path.write_text(f"First Name,Last Name,Email\n{'x' * 300_000},Lee,ana.lee@example.org\n")

    result = cli("validate", str(path))

    assert result.exit_code == 3
    assert "first_name is 300000 characters long" in result.stdout
    assert len(result.stdout) < 20_000


def test_errors_out_neutralizes_formula_cells(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "errors.csv"

    result = cli("validate", str(CORPUS / "formula_invalid_rows.csv"), "--errors-out", str(out))

    assert result.exit_code == 3
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows[1:]] == [
        '\'=HYPERLINK("http://x","y")',
        "'+cmd|' /C calc'!A0",
    ]


def test_error_for_a_file_name_with_a_newline_is_one_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "export\nfinal.csv"

    result = cli("validate", str(path))

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "file not found." in result.stderr


def test_empty_standard_input_is_one_line_error(cli: Cli) -> None:
    result = cli("validate", "-", input="")

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "<stdin>", ("the file is empty (0 bytes).",))


def test_values_survive_validation_exactly() -> None:
    """Leading zeros, Excel's ="00123", right-to-left text and formulas are kept as text."""
    names = {
        "excel_zip_formulas.csv": ("profile_zip", ['="00123"', '="04567"']),
        "formula_names.csv": (
            "first_name",
            ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3"],
        ),
        "rtl_zero_width.csv": ("last_name", ["العلي", "\u05db\u05d4\u05df\u200f", "Lee", "Smith"]),
    }
    for file, (field_name, expected) in names.items():
        intake = open_intake(str(CORPUS / file), IntakeOptions())
        rows = [r.row for r in intake.results() if r.row is not None]
        assert [getattr(row, field_name) for row in rows] == expected, file


def test_emoji_zwj_sequence_in_a_name_survives_validation() -> None:
    intake = open_intake(str(CORPUS / "emoji_names.csv"), IntakeOptions())
    rows = [r.row for r in intake.results() if r.row is not None]

    assert [row.first_name for row in rows] == ["Ana 😀", "👩\u200d💻", "Cara"]


# --- the corpus itself --------------------------------------------------------------------------


def corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.name not in NOT_CORPUS_FILES)


def test_every_committed_file_has_a_case_and_a_readme_note() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    listed = {c.file for c in CASES}
    for name in corpus_files():
        assert name in listed, f"{name} has no case in CASES"
        assert f"`{name}`" in readme, f"{name} is not in tests/corpus/README.md"
    for case in CASES:
        assert f"`{case.file}`" in readme, f"{case.file} is not in tests/corpus/README.md"


def test_committed_corpus_stays_under_one_megabyte() -> None:
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())

    assert total < CORPUS_MAX_BYTES


def test_generated_small_files_match_the_generator(tmp_path: Path) -> None:
    written = make_corpus.write_small(tmp_path)

    for path in written:
        assert (CORPUS / path.name).read_bytes() == path.read_bytes(), path.name


def test_corpus_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.file for c in CASES}) == len(CASES)
