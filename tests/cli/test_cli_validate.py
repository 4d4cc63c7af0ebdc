"""``communal-sync validate`` end to end: real files in, real exit codes and output out."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.paths import REPO_ROOT

from communal_sync.cli import app
from communal_sync.reports.redaction import REDACTED

Cli = Callable[..., Any]


CRM_CSV = REPO_ROOT / "sample_data" / "crm-export.csv"
CRM_JSON = REPO_ROOT / "sample_data" / "crm-export.json"
DATA = Path(__file__).resolve().parent.parent / "data" / "cli"

CRM_CSV_PROBLEMS = [
    (7, "email"),
    (12, "email"),
    (12, "external_id"),
    (14, "email"),
    (14, "external_id"),
]
CRM_JSON_PROBLEMS = [
    (78, "email"),
    (153, "email"),
    (153, "external_id"),
    (183, "email"),
    (183, "external_id"),
]
CRM_PERSONAL_VALUES = ("farid.haddad@example", "kemi.adeyemi@example.org", "KEMI.ADEYEMI", "M-0011")


def report_of(cli: Cli, *args: str, expect: int, **kwargs: Any) -> dict[str, Any]:
    """Run ``validate ... --format json``, check the exit code, return the parsed report."""
    result = cli("validate", *args, "--format", "json", **kwargs)
    assert result.exit_code == expect, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def problems(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["line"], e["field"]) for e in report["errors"]]


def table_problems(stdout: str) -> list[tuple[int, str]]:
    """(line, field) of each row of the text report's Problems table."""
    found = []
    for text in stdout.splitlines():
        cells = [cell.strip() for cell in text.split("│")[1:-1]]
        if len(cells) == 4 and cells[0].isdigit():
            found.append((int(cells[0]), cells[1]))
    return found


def assert_one_error_line(stderr: str, *fragments: str) -> None:
    """A fatal error is one line on stderr, starting "Error:", naming what is wrong."""
    assert stderr.startswith("Error: "), stderr
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr


# --- the sample export ------------------------------------------------------------------------


def test_sample_csv_text_report_counts_rows_and_lists_problems(cli: Cli) -> None:
    result = cli("validate", str(CRM_CSV))

    assert result.exit_code == 3
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"{CRM_CSV}: 14 rows, 11 valid, 3 invalid"
    assert lines[1] == (
        "Columns not mapped to any Communal field (ignored): 'T-shirt size'. "
        'Map a column with --map "T-shirt size=<field>"; a Communal custom profile field with '
        '--custom-fields (plan, push) or --map "T-shirt size=custom:T-shirt size"; or say it '
        'is not needed with --map "T-shirt size=".'
    )
    assert table_problems(result.stdout) == CRM_CSV_PROBLEMS
    assert "farid.haddad@example" in result.stdout


@pytest.mark.parametrize(
    ("path", "expected_problems"),
    [(CRM_CSV, CRM_CSV_PROBLEMS), (CRM_JSON, CRM_JSON_PROBLEMS)],
    ids=["csv", "json"],
)
def test_sample_json_report_has_counts_errors_and_unmapped_columns(
    cli: Cli, path: Path, expected_problems: list[tuple[int, str]]
) -> None:
    report = report_of(cli, str(path), expect=3)

    assert report["file"] == str(path)
    assert (report["rows"], report["valid"], report["invalid"]) == (14, 11, 3)
    assert report["duplicates"] == 0
    assert report["unmapped_columns"] == ["T-shirt size"]
    assert problems(report) == expected_problems
    first = report["errors"][0]
    assert set(first) >= {"line", "field", "message", "value"}
    assert first["value"] == "farid.haddad@example"
    assert first["message"].startswith("This is not a valid email address")
    other_line = expected_problems[-1][0]
    assert f"also on line {other_line}" in report["errors"][1]["message"]


def test_clean_file_exits_zero_with_no_problems(cli: Cli) -> None:
    result = cli("validate", str(DATA / "clean.csv"))

    assert result.exit_code == 0
    assert result.stdout == f"{DATA / 'clean.csv'}: 2 rows, 2 valid, 0 invalid\n"
    assert result.stderr == ""
    report = report_of(cli, str(DATA / "clean.csv"), expect=0)
    assert report["errors"] == [] and report["unmapped_columns"] == []


# --- redaction --------------------------------------------------------------------------------


def test_redact_hides_values_in_text_but_keeps_lines_and_fields(cli: Cli) -> None:
    result = cli("validate", str(CRM_CSV), "--redact")

    assert result.exit_code == 3
    for value in CRM_PERSONAL_VALUES:
        assert value not in result.stdout
    assert table_problems(result.stdout) == CRM_CSV_PROBLEMS
    assert result.stdout.count(REDACTED) == len(CRM_CSV_PROBLEMS)


def test_redact_hides_values_in_json_but_keeps_lines_and_fields(cli: Cli) -> None:
    report = report_of(cli, str(CRM_CSV), "--redact", expect=3)

    text = json.dumps(report, ensure_ascii=False)
    for value in CRM_PERSONAL_VALUES:
        assert value not in text
    assert problems(report) == CRM_CSV_PROBLEMS
    assert [e["value"] for e in report["errors"]] == [REDACTED] * len(CRM_CSV_PROBLEMS)


@pytest.mark.parametrize("report_format", ["text", "json"])
def test_redact_hides_an_impossible_date_of_birth_in_the_message_too(
    cli: Cli, tmp_path: Path, report_format: str
) -> None:
    path = tmp_path / "dob.csv"
    path.write_text(
        "First Name,Last Name,Email,Date of Birth\nAna,Lee,ana@example.org,1987-02-30\n"
    )

    result = cli("validate", str(path), "--redact", "--format", report_format)

    assert result.exit_code == 3
    assert "date_of_birth" in result.stdout
    assert "1987" not in result.stdout
    assert "month 2" not in result.stdout and "day 30" not in result.stdout


# --- --errors-out -----------------------------------------------------------------------------


def read_csv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(newline="", encoding=encoding) as handle:
        return list(csv.reader(handle))


def test_errors_out_writes_invalid_rows_as_read_plus_error_column(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"

    report = report_of(cli, str(CRM_CSV), "--errors-out", str(bad), expect=3)

    original = read_csv(CRM_CSV, encoding="utf-8-sig")
    written = read_csv(bad)
    assert written[0] == [*original[0], "error"]
    # File lines 7, 12 and 14 are data rows 6, 11 and 13 after the header.
    assert [row[:-1] for row in written[1:]] == [original[6], original[11], original[13]]
    assert written[3][4] == "KEMI.ADEYEMI@example.org "  # exactly as it came in
    for row, line in zip(written[1:], (7, 12, 14), strict=True):
        reasons = [f"{e['field']}: {e['message']}" for e in report["errors"] if e["line"] == line]
        assert row[-1] == "; ".join(reasons)
    assert stat.S_IMODE(os.stat(bad).st_mode) == 0o600


def test_errors_out_file_validates_clean_once_fixed(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    assert cli("validate", str(CRM_CSV), "--errors-out", str(bad)).exit_code == 3
    header, farid, kemi, _kemi_again = read_csv(bad)
    farid[header.index("E-mail")] = "farid.haddad@example.org"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, farid, kemi])

    report = report_of(cli, str(fixed), expect=0)

    assert (report["rows"], report["valid"], report["invalid"]) == (2, 2, 0)
    assert report["unmapped_columns"] == ["T-shirt size", "error"]


def test_errors_out_of_a_clean_file_holds_only_the_header(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bad.csv"

    assert cli("validate", str(DATA / "clean.csv"), "--errors-out", str(out)).exit_code == 0

    assert out.read_text() == "First Name,Last Name,Email,Postal Code,Country,error\n"


def test_errors_out_into_a_missing_folder_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "bad.csv"

    result = cli("validate", str(CRM_CSV), "--errors-out", str(out))

    assert result.exit_code == 2
    assert_one_error_line(result.stderr, str(out))
    assert not out.parent.exists()


# --- duplicates, mapping and config -----------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "counts", "expected_problems"),
    [
        ("error", (14, 11, 3, 0), CRM_CSV_PROBLEMS),
        ("first", (14, 12, 1, 1), [(7, "email"), (14, "email")]),
        ("last", (14, 12, 1, 1), [(7, "email"), (12, "email")]),
    ],
)
def test_on_duplicate_policy_changes_the_counts(
    cli: Cli, policy: str, counts: tuple[int, int, int, int], expected_problems: list[Any]
) -> None:
    report = report_of(cli, str(CRM_CSV), "--on-duplicate", policy, expect=3)

    assert (report["rows"], report["valid"], report["invalid"], report["duplicates"]) == counts
    assert problems(report) == expected_problems


def test_on_duplicate_last_says_so_in_the_text_summary(cli: Cli) -> None:
    result = cli("validate", str(CRM_CSV), "--on-duplicate", "last")

    first_line = result.stdout.splitlines()[0]
    assert first_line == f"{CRM_CSV}: 14 rows, 12 valid, 1 invalid, 1 duplicates skipped"


BADGES = DATA / "badges.csv"


def test_badges_file_without_mapping_reports_two_unmapped_columns(cli: Cli) -> None:
    report = report_of(cli, str(BADGES), expect=3)

    assert (report["rows"], report["valid"], report["invalid"]) == (3, 2, 1)
    assert problems(report) == [(2, "date_of_birth")]
    assert report["unmapped_columns"] == ["Badge", "Shirt"]


def test_map_option_points_a_column_at_a_field(cli: Cli) -> None:
    report = report_of(
        cli,
        str(BADGES),
        "--map",
        "Badge=external_id",
        "--map",
        "Shirt=custom:T-shirt size",
        expect=3,
    )

    assert (report["rows"], report["valid"], report["invalid"]) == (3, 0, 3)
    assert problems(report) == [(2, "date_of_birth"), (3, "external_id"), (4, "external_id")]
    assert report["unmapped_columns"] == []


def test_map_option_naming_the_automatic_field_changes_nothing(cli: Cli) -> None:
    automatic = report_of(cli, str(CRM_CSV), expect=3)
    explicit = report_of(cli, str(CRM_CSV), "--map", "Member No=external_id", expect=3)

    assert explicit == automatic


def test_map_with_empty_target_ignores_the_column(cli: Cli) -> None:
    report = report_of(cli, str(CRM_CSV), "--map", "Member No=", "--map", "T-shirt size=", expect=3)

    assert report["unmapped_columns"] == []
    assert problems(report) == [(7, "email"), (12, "email"), (14, "email")]


@pytest.mark.parametrize(
    ("item", "exit_code", "fragment"),
    [
        ("Badge", 2, "--map 'Badge' is not in the form Column=field"),
        ("Badge=nonsense", 2, "--map 'Badge=nonsense': unknown field 'nonsense'."),
        ("Bdage=external_id", 1, "names column 'Bdage'"),
    ],
)
def test_bad_map_option_is_one_error_line(
    cli: Cli, item: str, exit_code: int, fragment: str
) -> None:
    result = cli("validate", str(BADGES), "--map", item)

    assert result.exit_code == exit_code
    assert result.stdout == ""
    assert_one_error_line(result.stderr, fragment)


CONFIG_TOML = """\
[mapping]
"Badge" = "external_id"
"Shirt" = "custom:T-shirt size"

[defaults]
date_order = "dmy"
on_duplicate = "last"
"""


def test_config_in_the_current_folder_maps_columns_and_sets_defaults(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "communal-sync.toml").write_text(CONFIG_TOML)
    monkeypatch.chdir(tmp_path)

    report = report_of(cli, str(BADGES), expect=0)

    assert (report["rows"], report["valid"], report["invalid"], report["duplicates"]) == (
        3,
        2,
        0,
        1,
    )
    assert problems(report) == [(3, "external_id")]
    assert report["errors"][0]["message"].startswith("Skipped: same external id as line 4")
    assert report["unmapped_columns"] == []


def test_config_option_reads_that_file_and_flags_win_over_it(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "nightly.toml"
    config.write_text(CONFIG_TOML)

    report = report_of(cli, str(BADGES), "--config", str(config), expect=0)
    assert (report["valid"], report["duplicates"]) == (2, 1)

    stricter = report_of(
        cli, str(BADGES), "--config", str(config), "--on-duplicate", "error", expect=3
    )
    assert problems(stricter) == [(3, "external_id"), (4, "external_id")]


def test_config_file_elsewhere_is_not_read_without_the_option(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "communal-sync.toml").write_text(CONFIG_TOML)
    monkeypatch.chdir(tmp_path)

    report = report_of(cli, str(BADGES), expect=3)

    assert report["unmapped_columns"] == ["Badge", "Shirt"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[defaults]\ndate_ordr = "dmy"\n', "unknown setting 'defaults.date_ordr'"),
        ("[mapping]\nBadge = external_id\n", "line 2: not valid TOML"),
        ('[defaults]\non_duplicate = "newest"\n', "defaults.on_duplicate"),
    ],
    ids=["unknown-key", "bad-toml", "bad-value"],
)
def test_config_mistake_is_fatal_and_names_the_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, fragment: str
) -> None:
    config = tmp_path / "communal-sync.toml"
    config.write_text(text)
    monkeypatch.chdir(tmp_path)

    result = cli("validate", str(BADGES))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_error_line(result.stderr, str(config), fragment)


def test_missing_config_option_file_is_fatal_and_named(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    result = cli("validate", str(BADGES), "--config", str(missing))

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, str(missing), "does not exist")


# --- reading: stdin, encodings, formats -------------------------------------------------------


def test_stdin_dash_reads_standard_input(cli: Cli) -> None:
    report = report_of(cli, "-", input=CRM_CSV.read_text(encoding="utf-8-sig"), expect=3)

    assert report["file"] == "<stdin>"
    assert (report["rows"], report["valid"], report["invalid"]) == (14, 11, 3)
    assert problems(report) == CRM_CSV_PROBLEMS


def test_empty_stdin_is_fatal(cli: Cli) -> None:
    result = cli("validate", "-", input="")

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "<stdin>")


@pytest.mark.parametrize("name", ["utf8_bom.csv", "utf16_tab.txt", "cp1252_semicolon.csv"])
def test_each_encoding_reads_the_same_rows(cli: Cli, name: str) -> None:
    result = cli("validate", str(DATA / name), "--format", "json")

    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["rows"], report["valid"], report["invalid"]) == (2, 1, 1)
    assert report["errors"][0]["line"] == 3
    assert report["errors"][0]["value"] == "søren(at)example.org"
    if name.startswith("cp1252"):
        assert report["unmapped_columns"] == ["Fee"]
        assert result.stderr == (
            f"Warning: {DATA / name} is not valid UTF-8; read it as cp1252. "
            "Pass --encoding to override.\n"
        )
    else:
        assert report["unmapped_columns"] == []
        assert result.stderr == ""


def test_encoding_option_reads_cp1252_without_a_warning(cli: Cli) -> None:
    result = cli("validate", str(DATA / "cp1252_semicolon.csv"), "--encoding", "cp1252")

    assert result.exit_code == 3
    assert result.stderr == ""
    assert "søren(at)example.org" in result.stdout


@pytest.mark.parametrize(
    ("encoding", "fragment"),
    [
        ("utf-8", "line 2: the file is not valid utf-8"),
        ("bogus-enc", "Unknown encoding 'bogus-enc'"),
    ],
)
def test_wrong_encoding_option_is_fatal(cli: Cli, encoding: str, fragment: str) -> None:
    result = cli("validate", str(DATA / "cp1252_semicolon.csv"), "--encoding", encoding)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_error_line(result.stderr, fragment)


def test_input_format_overrides_the_file_extension(cli: Cli) -> None:
    path = DATA / "csv_named.json"

    guessed = cli("validate", str(path))
    assert guessed.exit_code == 1
    assert_one_error_line(guessed.stderr, str(path), "the JSON must start with [ or {")

    report = report_of(cli, str(path), "--input-format", "csv", expect=0)
    assert (report["rows"], report["valid"]) == (1, 1)


def test_json_lines_are_sniffed_or_named(cli: Cli) -> None:
    path = DATA / "people.dat"
    sniffed = report_of(cli, str(path), expect=3)
    named = report_of(cli, str(path), "--input-format", "jsonl", expect=3)

    assert sniffed == named
    assert (named["rows"], named["valid"], named["invalid"]) == (2, 1, 1)
    assert problems(named) == [(2, "email")]


# --- unreadable inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_path", "fragment"),
    [
        (lambda tmp: tmp / "missing.csv", "file not found"),
        (lambda tmp: DATA / "empty.csv", "the file is empty"),
        (lambda tmp: DATA / "garbage.csv", "looks like a binary file"),
        (lambda tmp: tmp, "is a directory"),
    ],
    ids=["missing", "empty", "binary", "directory"],
)
def test_unreadable_input_is_one_error_line_naming_the_file(
    cli: Cli, tmp_path: Path, make_path: Callable[[Path], Path], fragment: str
) -> None:
    path = make_path(tmp_path)

    result = cli("validate", str(path))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_error_line(result.stderr, str(path), fragment)


def test_header_mapping_twice_names_both_columns(cli: Cli) -> None:
    path = DATA / "first_name_twice.csv"

    result = cli("validate", str(path))

    assert result.exit_code == 1
    assert_one_error_line(
        result.stderr, str(path), "columns 'First Name', 'Given Name' all map to first_name"
    )


def test_missing_required_column_is_fatal(cli: Cli) -> None:
    path = DATA / "no_last_name.csv"

    result = cli("validate", str(path))

    assert result.exit_code == 1
    assert_one_error_line(result.stderr, str(path), "no column maps to last_name")


@pytest.mark.parametrize(
    "args",
    [["validate"], ["validate", str(CRM_CSV), "--format", "yaml"], ["validate", "--nope", "x"]],
    ids=["no-file", "bad-format", "unknown-option"],
)
def test_command_line_mistakes_exit_2(cli: Cli, args: list[str]) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


# --- help -------------------------------------------------------------------------------------


def command_names() -> list[str]:
    """Every command's name, once every command module is imported: commands register on
    ``app`` only when their module loads (``app.COMMANDS``, ``cli/lazy.py``)."""
    import importlib

    from communal_sync.cli.app import COMMANDS

    for entry in COMMANDS:
        importlib.import_module(entry.module)
    names = []
    for command in app.registered_commands:
        assert command.callback is not None
        names.append(command.name or command.callback.__name__.replace("_", "-"))
    return names


def test_every_command_is_registered() -> None:
    assert {"validate", "user", "fields", "sandbox"} <= set(command_names())


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help_text(cli: Cli, name: str) -> None:
    command = next(
        c
        for c in app.registered_commands
        if (c.name or (c.callback.__name__.replace("_", "-") if c.callback else "")) == name
    )
    doc = command.help or (command.callback.__doc__ if command.callback else None) or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    assert summary, f"`{name}` has no help text"

    result = cli(name, "--help")

    assert result.exit_code == 0
    assert " ".join(summary.split()) in " ".join(result.stdout.split())


def test_top_level_help_lists_every_command_and_the_exit_codes(cli: Cli) -> None:
    result = cli("--help")

    assert result.exit_code == 0
    listed = " ".join(result.stdout.split())
    for name in command_names():
        assert f" {name} " in listed
    assert "3 finished with row failures or invalid rows" in listed
    assert "130 interrupted" in listed


# --- the bounded text report ------------------------------------------------------------------


def _bad_emails_file(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "bad.csv"
    lines = ["first_name,last_name,email"]
    lines += [f"Ana{n},Lee,ana{n}-at-example.org" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_text_report_of_1000_invalid_rows_shows_a_screenful_then_says_how_many_more(
    cli: Cli, tmp_path: Path
) -> None:
    from communal_sync.cli.validate import SHOWN_PROBLEMS

    path = _bad_emails_file(tmp_path, 1000)
    result = cli("validate", str(path))

    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    summary = f"{path}: 1000 rows, 0 valid, 1000 invalid"
    assert lines[0] == summary
    assert lines[-1] == summary
    assert lines[-2] == f"…{1000 - SHOWN_PROBLEMS} more (see --errors-out / --json)"
    shown_problems = table_problems(result.stdout)
    assert shown_problems == [(n, "email") for n in range(2, 2 + SHOWN_PROBLEMS)]
    # a long reason folds onto a second line; unbounded, 1,000 problems were 2,000+ lines
    assert len(lines) <= 2 * SHOWN_PROBLEMS + 10


def test_json_report_and_errors_out_of_1000_invalid_rows_stay_complete(
    cli: Cli, tmp_path: Path
) -> None:
    path = _bad_emails_file(tmp_path, 1000)
    errors_out = tmp_path / "errors.csv"

    report = report_of(cli, str(path), "--errors-out", str(errors_out), expect=3)

    assert problems(report) == [(n, "email") for n in range(2, 1002)]
    with errors_out.open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 1000
    assert written[-1]["email"] == "ana999-at-example.org"


def test_text_report_within_the_bound_has_no_more_line(cli: Cli, tmp_path: Path) -> None:
    from communal_sync.cli.validate import SHOWN_PROBLEMS

    path = _bad_emails_file(tmp_path, SHOWN_PROBLEMS)
    result = cli("validate", str(path))

    assert result.exit_code == 3
    assert "more (see --errors-out" not in result.stdout
    assert len(table_problems(result.stdout)) == SHOWN_PROBLEMS
    assert result.stdout.splitlines()[-1] == result.stdout.splitlines()[0]
