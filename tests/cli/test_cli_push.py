"""``push FILE`` end to end against the sandbox: exact end states, confirmations and limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.push import (
    EXPORT,
    EXPORT_CHANGES,
    EXPORT_CLEARS,
    EXPORT_INVALID_LINE,
    EXPORT_UNCHANGED,
    EXPORT_UPDATED,
    assert_users_equal,
    expected_users,
    request_counts,
    users_of,
)

from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e


def summary_line(stdout: str) -> str:
    """The run's one-line summary ("Run N: ...")."""
    lines = [line for line in stdout.splitlines() if line.startswith("Run ")]
    assert len(lines) == 1, stdout
    return lines[0]


def test_push_makes_communal_match_the_export_and_leaves_blank_cells_alone(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    before = users_of(sandbox)

    result = cli("push", str(EXPORT), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr  # line 6 is invalid
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES))
    assert summary_line(result.stdout) == (
        f"Run 1: {EXPORT_UPDATED} users updated, {EXPORT_UNCHANGED} unchanged, 1 invalid"
    )
    puts = {e["path"]: e["body"] for e in sandbox.requests() if e["method"] == "PUT"}
    assert puts == {
        "/api/users/101": {
            "first_name": "Amara",
            "last_name": "Okafor",
            "email": "amara.okafor@example.org",
            "telephone": "+1 416 555 0199",
        },
        "/api/users/103": {
            "first_name": "Chen",
            "last_name": "Wei",
            "email": "chen.wei@example.org",
            "preferred_name": "CJ",
        },
        "/api/users/104": {
            "first_name": "Dana",
            "last_name": "Whitfield-Boyd",
            "email": "dana.whitfield@example.org",
            "date_of_birth": "1990-05-17",
        },
        "/api/users/110": {
            "first_name": "Jonas",
            "last_name": "Berg",
            "email": "jonas.berg@example.org",
            "preferred_name": "Jo",
        },
    }


def test_allow_clear_lets_a_blank_cell_clear_that_field_only(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    before = users_of(sandbox)

    result = cli("push", str(EXPORT), "--yes", "--allow-clear", "middle_name", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert before[109]["middle_name"] == "Lucía"
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES, EXPORT_CLEARS))
    put_109 = [
        e["body"]
        for e in sandbox.requests()
        if e["method"] == "PUT" and e["path"] == "/api/users/109"
    ]
    assert put_109 == [
        {
            "first_name": "Isabel",
            "last_name": "Moreno",
            "email": "isabel.moreno@example.org",
            "middle_name": None,
        }
    ]


def test_a_clean_export_exits_0(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    lines = EXPORT.read_text(encoding="utf-8").splitlines()
    clean = tmp_path / "clean.csv"
    clean.write_text(
        "\n".join(line for n, line in enumerate(lines, 1) if n != EXPORT_INVALID_LINE) + "\n",
        encoding="utf-8",
    )
    before = users_of(sandbox)

    result = cli("push", str(clean), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES))
    assert summary_line(result.stdout) == "Run 1: 4 users updated, 2 unchanged"


def test_a_second_push_of_the_same_file_sends_nothing(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    before = users_of(sandbox)
    assert cli("push", str(EXPORT), "--yes", env=sandbox_env).exit_code == 3
    sandbox.clear_requests()

    again = cli("push", str(EXPORT), "--yes", env=sandbox_env)

    assert again.exit_code == 3  # the invalid row is still invalid
    assert sandbox.requests() == []
    assert summary_line(again.stdout) == (
        f"Run 2: 0 users updated, {EXPORT_UPDATED + EXPORT_UNCHANGED} unchanged, 1 invalid"
    )
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES))


def test_push_without_a_terminal_or_yes_refuses_and_sends_nothing(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    before = users_of(sandbox)

    result = cli("push", str(EXPORT), env=sandbox_env)

    assert result.exit_code == 4
    assert "add --yes" in result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert_users_equal(users_of(sandbox), before)


def test_dry_run_only_reads(cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]) -> None:
    before = users_of(sandbox)

    result = cli("push", str(EXPORT), "--dry-run", env=sandbox_env)

    assert result.exit_code == 3  # the plan has an invalid row
    assert set(request_counts(sandbox)) == {"GET"}
    assert "Plan for" in result.stdout
    assert_users_equal(users_of(sandbox), before)
    with open_state(Path(sandbox_env["COMMUNAL_SYNC_STATE"])) as store:
        assert store.journal.list_runs() == []


def test_dry_run_with_detailed_exitcode_says_changes_are_pending(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    clean = tmp_path / "one.csv"
    clean.write_text(
        "id,first_name,last_name,email\n101,Amara,Okafor-Reid,amara.okafor@example.org\n",
        encoding="utf-8",
    )

    result = cli("push", str(clean), "--dry-run", "--detailed-exitcode", env=sandbox_env)

    assert result.exit_code == 5
    assert set(request_counts(sandbox)) == {"GET"}


def test_a_safety_limit_refuses_the_whole_run_before_any_write(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    before = users_of(sandbox)

    result = cli("push", str(EXPORT), "--yes", "--max-changes", "1", env=sandbox_env)

    assert result.exit_code == 4, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert_users_equal(users_of(sandbox), before)


def test_failed_out_writes_the_rows_not_pushed_with_the_reason(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    failed = tmp_path / "failed.csv"

    result = cli("push", str(EXPORT), "--yes", "--failed-out", str(failed), env=sandbox_env)

    assert result.exit_code == 3
    rows = failed.read_text(encoding="utf-8").splitlines()
    assert rows[0] == (
        "id,first_name,last_name,email,telephone,date_of_birth,middle_name,preferred_name,error"
    )
    assert len(rows) == 2
    assert rows[1].startswith("105,Elif,Yılmaz,elif.yilmaz@example,")
    assert "email: " in rows[1]


def test_push_writes_a_json_report_of_the_outcomes(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "run.json"

    result = cli("push", str(EXPORT), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3
    assert report.is_file()
    text = report.read_text(encoding="utf-8")
    assert sandbox.manager_key not in text
    json.loads(text)  # valid JSON


def test_resume_refuses_standard_input_which_it_cannot_recognize(cli: Cli, tmp_path: Path) -> None:
    result = cli("push", "-", "--yes", "--resume", "--sandbox", "--state", str(tmp_path / "s.db"))

    assert result.exit_code == 2
    assert "--resume needs the same file again" in result.stderr


def test_a_state_file_is_refused_against_another_api(cli: Cli, tmp_path: Path) -> None:
    """The identity map and skip-hashes of one organization must not steer another's push."""
    from communal_sync.state import open_state

    state = tmp_path / "s.db"
    with open_state(state) as store:
        store.binding.bind("https://api.getcommunal.com/api")

    result = cli("push", str(EXPORT), "--yes", "--sandbox", "--state", str(state))

    assert result.exit_code == 4
    assert "holds the identity map and history of https://api.getcommunal.com/api" in (
        result.stderr
    )
