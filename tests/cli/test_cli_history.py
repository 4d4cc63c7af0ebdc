"""``runs``, ``runs show`` and ``apply plan.json`` end to end against the sandbox."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.push import (
    EXPORT,
    EXPORT_CHANGES,
    assert_users_equal,
    edit_in_communal,
    expected_users,
    request_counts,
    users_of,
)

from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A private copy of the export, so a test may change it after planning."""
    return Path(shutil.copy(EXPORT, tmp_path / "export.csv"))


@pytest.fixture
def saved_plan(cli: Cli, sandbox_env: dict[str, str], export: Path, tmp_path: Path) -> Path:
    out = tmp_path / "plan.json"
    result = cli("plan", str(export), "--out", str(out), env=sandbox_env)
    assert result.exit_code == 3, result.stdout + result.stderr  # one invalid row
    return out


def summary_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("Run "))


# --- runs -----------------------------------------------------------------------------------


def test_runs_lists_each_run_with_its_counts_and_exit_code(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    assert cli("push", str(EXPORT), "--yes", env=sandbox_env).exit_code == 3
    assert cli("push", str(EXPORT), "--yes", env=sandbox_env).exit_code == 3

    result = cli("runs", "--json", env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [(r["id"], r["kind"], r["status"], r["exit_code"]) for r in runs] == [
        (2, "push", "finished", 3),  # the invalid row is still invalid
        (1, "push", "finished", 3),
    ]
    assert runs[1]["input"] == str(EXPORT)
    outcomes = ("applied", "already", "failed", "conflict", "pending")
    assert {k: runs[1]["counts"][k] for k in outcomes} == {
        "applied": 4,
        "already": 0,
        "failed": 0,
        "conflict": 0,
        "pending": 0,
    }
    assert (runs[1]["counts"]["unchanged"], runs[1]["counts"]["invalid"]) == (2, 1)
    assert runs[0]["counts"]["applied"] == 0
    table = cli("runs", env=sandbox_env)
    assert table.exit_code == 0
    assert "4 applied" in table.stdout


def test_runs_show_gives_each_users_outcome(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    assert cli("push", str(EXPORT), "--yes", env=sandbox_env).exit_code == 3

    result = cli("runs", "show", "1", "--json", env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["run"] == 1
    assert shown["status"] == "finished"
    outcomes = sorted(
        (r["user_id"], r["line"], r["status"], r["http_status"]) for r in shown["results"]
    )
    assert outcomes == [
        (101, 2, "applied", 200),
        (103, 4, "applied", 200),
        (104, 5, "applied", 200),
        (110, 8, "applied", 200),
    ]
    table = cli("runs", "show", "1", env=sandbox_env)
    assert table.exit_code == 0
    assert "exit code 3" in table.stdout


def test_runs_show_of_an_unknown_run_is_a_usage_error(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    result = cli("runs", "show", "99", env=sandbox_env)

    assert result.exit_code == 2
    assert "There is no run 99" in result.stderr
    assert "communal-sync runs" in result.stderr


# --- apply plan.json ------------------------------------------------------------------------


def test_apply_applies_exactly_the_saved_plan(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], saved_plan: Path
) -> None:
    before = users_of(sandbox)
    sandbox.clear_requests()

    result = cli("apply", str(saved_plan), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr  # the plan holds an invalid row
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES))
    puts = sorted(e["path"] for e in sandbox.requests() if e["method"] == "PUT")
    assert puts == [f"/api/users/{user_id}" for user_id in sorted(EXPORT_CHANGES)]
    assert summary_line(result.stdout) == "Run 1: 4 users updated, 2 unchanged, 1 invalid"


def test_apply_twice_writes_nothing_the_second_time(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], saved_plan: Path
) -> None:
    before = users_of(sandbox)
    assert cli("apply", str(saved_plan), "--yes", env=sandbox_env).exit_code == 3
    sandbox.clear_requests()

    again = cli("apply", str(saved_plan), "--yes", env=sandbox_env)

    assert again.exit_code == 3
    assert request_counts(sandbox)["PUT"] == 0
    assert summary_line(again.stdout) == (
        "Run 2: 0 users updated, 4 already applied, 2 unchanged, 1 invalid"
    )
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES))


def test_apply_refuses_a_plan_whose_input_changed_since_planning(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], saved_plan: Path, export: Path
) -> None:
    before = users_of(sandbox)
    with export.open("a", encoding="utf-8") as handle:
        handle.write("112,Liam,Murphy,liam.murphy@example.org,,,,\n")
    sandbox.clear_requests()

    result = cli("apply", str(saved_plan), "--yes", env=sandbox_env)

    assert result.exit_code == 4
    assert "has changed since this plan was made" in result.stderr
    assert sandbox.requests() == []
    assert_users_equal(users_of(sandbox), before)


def test_apply_from_another_directory_still_checks_the_planned_input(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    planned = cli("plan", export.name, "--out", "plan.json", env=sandbox_env)
    assert planned.exit_code == 3, planned.stdout + planned.stderr
    saved_plan = tmp_path / "plan.json"
    with export.open("a", encoding="utf-8") as handle:
        handle.write("112,Liam,Murphy,liam.murphy@example.org,,,,\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    sandbox.clear_requests()

    result = cli("apply", str(saved_plan), "--yes", env=sandbox_env)

    assert result.exit_code == 4, result.stdout + result.stderr
    assert "has changed since this plan was made" in result.stderr
    assert sandbox.requests() == []


def test_apply_skips_as_conflict_a_user_changed_in_communal_since_planning(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], saved_plan: Path
) -> None:
    edit_in_communal(sandbox, 101, telephone="+1 416 555 7777")
    before = users_of(sandbox)
    sandbox.clear_requests()

    result = cli("apply", str(saved_plan), "--yes", env=sandbox_env)

    assert result.exit_code == 3
    others = {k: v for k, v in EXPORT_CHANGES.items() if k != 101}
    assert_users_equal(users_of(sandbox), expected_users(before, others))
    assert users_of(sandbox)[101]["telephone"] == "+1 416 555 7777"
    assert "/api/users/101" not in {e["path"] for e in sandbox.requests() if e["method"] == "PUT"}
    assert "Changed in Communal since the plan was made" in result.stdout
    assert summary_line(result.stdout) == (
        "Run 1: 3 users updated, 2 unchanged, 1 conflict, 1 invalid"
    )
    shown = json.loads(cli("runs", "show", "1", "--json", env=sandbox_env).stdout)
    assert {r["user_id"]: r["status"] for r in shown["results"]}[101] == "conflict"


def test_apply_refuses_a_file_that_is_not_a_plan(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    bogus = tmp_path / "plan.json"
    bogus.write_text('{"users": []}', encoding="utf-8")

    result = cli("apply", str(bogus), "--yes", env=sandbox_env)

    assert result.exit_code == 1
    assert "is not a communal-sync plan" in result.stderr
    assert sandbox.requests() == []
