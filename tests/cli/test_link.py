"""``communal-sync link FILE``: loading the identity map that matches rows without an id."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from communal_sync.errors import ExitCode
from communal_sync.identity.link import LinkEntry, find_contradictions
from communal_sync.state import acquire_lock, open_state

DATA = Path(__file__).resolve().parent.parent / "data" / "link"

Cli = Callable[..., Any]
"""The ``cli`` fixture: runs the real command and returns a ``CliResult``."""


@pytest.fixture
def state_path() -> Path:
    """The state file the autouse fixture points COMMUNAL_SYNC_STATE at."""
    return Path(os.environ["COMMUNAL_SYNC_STATE"])


def flat(text: str) -> str:
    """Output with every run of whitespace as one space: table titles wrap at any width."""
    return " ".join(text.split())


def emails(state_path: Path, *keys: str) -> dict[str, list[int]]:
    with open_state(state_path) as state:
        return {key: state.identity.lookup_email(key) for key in keys}


def external_ids(state_path: Path, *keys: str) -> dict[str, int | None]:
    with open_state(state_path) as state:
        return {key: state.identity.lookup_external_id(key) for key in keys}


def test_csv_links_people_by_email_and_external_id(cli: Cli, state_path: Path) -> None:
    result = cli("link", str(DATA / "people.csv"))

    assert result.exit_code == ExitCode.OK, result.stderr
    assert "people.csv: Linked 4 people: 3 by email, 3 by external id" in flat(result.stdout)
    assert emails(
        state_path, "amara.okafor@example.org", "bruno.lefevre@example.org", "chen.wei@example.org"
    ) == {
        "amara.okafor@example.org": [101],
        "bruno.lefevre@example.org": [102],
        "chen.wei@example.org": [103],
    }
    assert external_ids(state_path, "M-0001", "M-0002", "M-0004") == {
        "M-0001": 101,
        "M-0002": 102,
        "M-0004": 104,
    }


def test_json_file_links_with_its_field_names(cli: Cli, state_path: Path) -> None:
    result = cli("link", str(DATA / "people.json"))

    assert result.exit_code == ExitCode.OK, result.stderr
    assert "Linked 3 people: 2 by email, 2 by external id" in flat(result.stdout)
    assert emails(state_path, "grace.oneill@example.org", "hiro.tanaka@example.org") == {
        "grace.oneill@example.org": [107],
        "hiro.tanaka@example.org": [108],
    }
    assert external_ids(state_path, "M-0007", "M-0009") == {"M-0007": 107, "M-0009": 109}


def test_linking_the_same_file_again_reports_everything_already_known(
    cli: Cli, state_path: Path
) -> None:
    cli("link", str(DATA / "people.csv"))
    again = cli("link", str(DATA / "people.csv"), "--format", "json")

    report = json.loads(again.stdout)
    assert again.exit_code == ExitCode.OK
    assert (report["people"], report["already_known"], report["moved"]) == (4, 4, 0)


def test_file_without_id_column_exits_1_naming_the_columns_and_the_fix(
    cli: Cli, state_path: Path
) -> None:
    result = cli("link", str(DATA / "no_id.csv"))

    assert result.exit_code == ExitCode.FATAL
    message = " ".join(result.stderr.split())
    assert "no_id.csv, line 1: no column holds the Communal user id" in message
    assert "The columns are: 'First Name', 'Last Name', 'E-mail'." in message
    assert '--map "Column=id"' in message
    assert not state_path.exists()


def test_map_option_names_the_id_column(cli: Cli, state_path: Path, tmp_path: Path) -> None:
    export = tmp_path / "crm.csv"
    export.write_text("Person,Mail\n42,ann@example.org\n", encoding="utf-8")

    result = cli("link", str(export), "--map", "Person=id", "--map", "Mail=email")

    assert result.exit_code == ExitCode.OK, result.stderr
    assert emails(state_path, "ann@example.org") == {"ann@example.org": [42]}


def test_file_with_only_an_id_column_exits_1(cli: Cli, state_path: Path) -> None:
    result = cli("link", str(DATA / "id_only.csv"))

    assert result.exit_code == ExitCode.FATAL
    message = " ".join(result.stderr.split())
    assert "id_only.csv, line 1: no column holds an email or an external id" in message
    assert '--map "Column=email" or --map "Column=external_id"' in message


def test_unreadable_file_exits_1_and_writes_nothing(cli: Cli, state_path: Path) -> None:
    result = cli("link", str(DATA / "truncated.json"))

    assert result.exit_code == ExitCode.FATAL
    assert "truncated.json" in result.stderr
    assert not state_path.exists()


def test_bad_rows_are_refused_with_exit_3_while_good_rows_are_linked(
    cli: Cli, state_path: Path
) -> None:
    result = cli("link", str(DATA / "bad_rows.csv"), "--format", "json")

    assert result.exit_code == ExitCode.ROW_FAILURES
    report = json.loads(result.stdout)
    assert (report["rows"], report["people"], report["refused"]) == (8, 2, 6)
    problems = [(e["line"], e["field"], e["value"]) for e in report["errors"]]
    assert problems == [
        (3, "id", "abc"),
        (4, "id", ""),
        (5, "email", "not-an-email"),
        (6, None, None),
        (7, "id", "99999999999999999999999"),
        (9, "id", "-3"),
    ]
    assert "not a Communal user id" in report["errors"][0]["message"]
    assert "no email or external id" in report["errors"][3]["message"]
    assert emails(state_path, "amara.okafor@example.org", "jonas.berg@example.org") == {
        "amara.okafor@example.org": [101],
        "jonas.berg@example.org": [110],
    }
    # A refused row links nothing, not even its valid external id.
    assert external_ids(state_path, "M-0005", "M-0090", "M-0010") == {
        "M-0005": None,
        "M-0090": None,
        "M-0010": 110,
    }


def test_refused_rows_are_listed_in_the_text_report(cli: Cli) -> None:
    result = cli("link", str(DATA / "bad_rows.csv"))

    assert result.exit_code == ExitCode.ROW_FAILURES
    assert "Linked 2 people: 2 by email, 2 by external id; 6 rows refused" in flat(result.stdout)
    assert "Refused rows (not linked)" in result.stdout
    assert "not-an-email" in result.stdout


def test_contradictory_rows_are_all_refused(cli: Cli, state_path: Path) -> None:
    result = cli("link", str(DATA / "contradictions.csv"), "--format", "json")

    assert result.exit_code == ExitCode.ROW_FAILURES
    report = json.loads(result.stdout)
    refused = sorted({(e["line"], e["field"]) for e in report["errors"]})
    assert refused == [
        (3, "email"),
        (4, "email"),
        (5, "external_id"),
        (6, "external_id"),
        (7, "email"),
        (8, "email"),
    ]
    shared = next(e for e in report["errors"] if e["line"] == 3)
    assert (
        "given to different users in this file: 105 (line 3), 106 (line 4)" in (shared["message"])
    )
    # Two identical rows agree with each other: linked once, not refused.
    assert (report["people"], report["refused"]) == (2, 6)
    assert emails(state_path, "shared@example.org", "isabel.moreno@example.org") == {
        "shared@example.org": [],
        "isabel.moreno@example.org": [],
    }
    assert external_ids(state_path, "M-0042", "M-0009", "M-0010") == {
        "M-0042": None,
        "M-0009": None,
        "M-0010": 110,
    }


def test_one_user_with_two_emails_is_a_contradiction() -> None:
    entries = [
        LinkEntry(2, 109, "isabel.moreno@example.org", None),
        LinkEntry(3, 109, "isabel.m@example.org", None),
        LinkEntry(4, 109, None, "M-0009"),
    ]

    problems = find_contradictions(entries)

    assert [(p.line, p.field) for p in problems] == [(2, "email"), (3, "email")]
    assert problems[0].message.startswith("User 109 is given different emails in this file")


def test_repointed_mappings_are_reported_and_replaced(
    cli: Cli, state_path: Path, tmp_path: Path
) -> None:
    cli("link", str(DATA / "people.csv"))
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "id,email,external_id\n109,amara.okafor@example.org,M-0002\n", encoding="utf-8"
    )

    text = cli("link", str(moved))
    report = json.loads(cli("link", str(moved), "--dry-run", "--format", "json").stdout)

    assert text.exit_code == ExitCode.OK
    shown = flat(text.stdout)
    assert "Linked 1 person: 1 by email, 1 by external id; 2 mappings moved" in shown
    assert "external id M-0002 moved from user 102 to user 109" in shown
    assert "email amara.okafor@example.org moved from user 101 to user 109" in shown
    assert report["moved"] == 0  # already done by the first run
    assert emails(state_path, "amara.okafor@example.org") == {"amara.okafor@example.org": [109]}
    assert external_ids(state_path, "M-0002") == {"M-0002": 109}


def test_moves_in_json_name_both_users(cli: Cli, tmp_path: Path) -> None:
    cli("link", str(DATA / "people.csv"))
    moved = tmp_path / "moved.csv"
    moved.write_text("id,external_id\n109,M-0001\n", encoding="utf-8")

    report = json.loads(cli("link", str(moved), "--format", "json").stdout)

    assert report["moves"] == [
        {"line": 2, "field": "external_id", "value": "M-0001", "from_users": [101], "to_user": 109}
    ]


def test_dry_run_without_a_state_file_creates_none(cli: Cli, state_path: Path) -> None:
    result = cli("link", str(DATA / "people.csv"), "--dry-run")

    assert result.exit_code == ExitCode.OK
    assert "Would link 4 people: 3 by email, 3 by external id; nothing written" in flat(
        result.stdout
    )
    assert not state_path.exists()
    assert not state_path.parent.exists()


def test_dry_run_reports_moves_but_changes_nothing(
    cli: Cli, state_path: Path, tmp_path: Path
) -> None:
    cli("link", str(DATA / "people.csv"))
    moved = tmp_path / "moved.csv"
    moved.write_text("id,external_id\n109,M-0001\n", encoding="utf-8")

    result = cli("link", str(moved), "--dry-run")

    assert result.exit_code == ExitCode.OK
    assert "external id M-0001 moved from user 101 to user 109" in flat(result.stdout)
    assert external_ids(state_path, "M-0001") == {"M-0001": 101}


def test_state_option_and_private_state_file(cli: Cli, tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere" / "ids.db"

    result = cli("link", str(DATA / "people.json"), "--state", str(chosen))

    assert result.exit_code == ExitCode.OK
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
    assert emails(chosen, "grace.oneill@example.org") == {"grace.oneill@example.org": [107]}


def test_held_lock_refuses_with_exit_4_naming_the_pid(cli: Cli, state_path: Path) -> None:
    with acquire_lock(state_path, command="push users.csv"):
        result = cli("link", str(DATA / "people.csv"))

    assert result.exit_code == ExitCode.REFUSED
    assert f"pid {os.getpid()}" in result.stderr
    assert emails(state_path, "amara.okafor@example.org") == {"amara.okafor@example.org": []}


def test_config_mapping_for_columns_this_file_lacks_is_skipped(
    cli: Cli, state_path: Path, tmp_path: Path
) -> None:
    config = tmp_path / "communal-sync.toml"
    config.write_text('[mapping]\n"Student Key" = "external_id"\n"Ref" = "id"\n', encoding="utf-8")
    export = tmp_path / "ids.csv"
    export.write_text("Ref,Email\n77,kim@example.org\n", encoding="utf-8")

    result = cli("link", str(export), "--config", str(config))

    assert result.exit_code == ExitCode.OK, result.stderr
    assert emails(state_path, "kim@example.org") == {"kim@example.org": [77]}


def test_map_option_naming_a_missing_column_is_an_error(cli: Cli) -> None:
    result = cli("link", str(DATA / "people.csv"), "--map", "Student Key=external_id")

    assert result.exit_code == ExitCode.FATAL
    assert "has no such column" in result.stderr


def test_redact_masks_values_in_the_report(cli: Cli, tmp_path: Path) -> None:
    cli("link", str(DATA / "people.csv"))
    moved = tmp_path / "moved.csv"
    moved.write_text("id,email\n109,amara.okafor@example.org\n110,nope\n", encoding="utf-8")

    result = cli("link", str(moved), "--redact")

    assert "amara.okafor" not in result.stdout
    assert "nope" not in result.stdout
    assert "email ••• moved from user 101 to user 109" in flat(result.stdout)


def test_reads_standard_input_and_refuses_a_ragged_row(cli: Cli, state_path: Path) -> None:
    result = cli(
        "link",
        "-",
        "--format",
        "json",
        input="id,email\n5,ann@example.org\n6,bo@example.org,surplus\n",
    )

    report = json.loads(result.stdout)
    assert result.exit_code == ExitCode.ROW_FAILURES
    assert report["file"] == "<stdin>"
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(3, None)]
    assert emails(state_path, "ann@example.org", "bo@example.org") == {
        "ann@example.org": [5],
        "bo@example.org": [],
    }


def test_help_lists_the_options(cli: Cli) -> None:
    result = cli("link", "--help")

    assert result.exit_code == ExitCode.OK
    for option in ("--map", "--state", "--dry-run", "--json", "--input-format", "--encoding"):
        assert option in result.stdout


@pytest.mark.e2e
def test_plan_matches_linked_people_by_email(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text(
        "id,email\n101,amara.okafor@example.org\n103,Chen.Wei@example.org\n", encoding="utf-8"
    )
    export = tmp_path / "export.csv"
    export.write_text(
        "First Name,Last Name,Email,City\n"
        "Amara,Okafor,amara.okafor@example.org,Toronto\n"
        "Chen,Wei,chen.wei@example.org,Vancouver\n"
        "Nobody,Known,nobody@example.org,Ottawa\n",
        encoding="utf-8",
    )

    linked = cli("link", str(ids), env=sandbox_env)
    # Their only changes are first-time city writes, folded unless --show all.
    plan = cli("plan", str(export), "--show", "all", env=sandbox_env)

    assert linked.exit_code == ExitCode.OK, linked.stderr
    shown = flat(plan.stdout)
    assert "2 users to update, 0 unchanged, 1 unmatched" in shown
    assert "User 101 (Amara Okafor, line 2, matched by email)" in shown
    assert "User 103 (Chen Wei, line 3, matched by email)" in shown
    unmatched = shown.split("Unmatched rows (not pushed)", 1)[1]
    assert "nobody@example.org" in unmatched
    assert "amara.okafor" not in unmatched
    assert "chen.wei" not in unmatched
