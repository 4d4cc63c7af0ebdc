"""One JSON switch, ``--json``, on every command that prints a report; old spellings still work.

``plan --json`` prints the plan ``plan --out`` saves (so it round-trips through ``apply``);
a run's ``--json`` prints the run report ``--report run.json`` writes; everything meant for
a person goes to stderr meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.paths import DATA, SAMPLE_DATA
from support.push import (
    EXPORT,
    EXPORT_CHANGES,
    assert_users_equal,
    expected_users,
    users_of,
)

from communal_sync.sandbox import Sandbox

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e


def without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "created_at"}


def test_plan_json_is_the_document_plan_out_writes(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"

    result = cli("plan", str(EXPORT), "--json", "--out", str(out), env=sandbox_env)

    assert result.exit_code == 3  # the export's invalid row, on purpose
    printed = json.loads(result.stdout)
    assert printed == json.loads(out.read_text(encoding="utf-8"))
    assert sorted(u["user_id"] for u in printed["users"]) == sorted(EXPORT_CHANGES)
    assert "Plan for " in result.stderr  # the plan a person reads, on stderr


def test_plan_json_written_to_a_file_is_applied_by_apply(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    planned = cli("plan", str(EXPORT), "--json", env=sandbox_env)
    saved = tmp_path / "plan.json"
    saved.write_text(planned.stdout, encoding="utf-8")

    applied = cli("apply", str(saved), "--yes", env=sandbox_env)

    assert applied.exit_code == 3, applied.stderr
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES))


def test_push_json_prints_the_run_report_that_report_json_writes(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "run.json"

    result = cli("push", str(EXPORT), "--yes", "--json", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3
    printed = json.loads(result.stdout)
    assert printed == json.loads(report.read_text(encoding="utf-8"))
    assert printed["run_id"] == 1
    assert printed["result_counts"]["applied"] == len(EXPORT_CHANGES)
    assert "Run 1: 4 users updated, 2 unchanged, 1 invalid" in result.stderr


def test_push_dry_run_json_prints_the_plan(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("push", str(EXPORT), "--dry-run", "--json", env=sandbox_env)

    assert result.exit_code == 3
    assert json.loads(result.stdout)["format_version"] == 1


def test_json_without_yes_leaves_no_room_for_the_question(
    cli: Cli, sandbox_env: dict[str, str], sandbox: Sandbox
) -> None:
    result = cli("push", str(EXPORT), "--json", env=sandbox_env)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --json prints one JSON document on standard output, which leaves no room for "
        "the question: add --yes (or --dry-run).\n"
    )
    assert sandbox.requests() == []


def test_plan_json_is_never_redacted(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("plan", str(EXPORT), "--json", "--redact", env=sandbox_env)

    assert result.exit_code == 2
    assert result.stderr.startswith(
        "Error: --json prints the plan as `apply` takes it, unredacted, so it cannot be "
        "combined with --redact"
    )


def test_apply_and_revert_take_json(cli: Cli, sandbox_env: dict[str, str], tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    cli("plan", str(EXPORT), "--out", str(saved), env=sandbox_env)

    applied = cli("apply", str(saved), "--yes", "--json", env=sandbox_env)
    revert_plan = cli("revert", "1", "--dry-run", "--json", env=sandbox_env)
    reverted = cli("revert", "1", "--yes", "--json", env=sandbox_env)

    assert json.loads(applied.stdout)["result_counts"]["applied"] == len(EXPORT_CHANGES)
    assert sorted(u["user_id"] for u in json.loads(revert_plan.stdout)["users"]) == sorted(
        EXPORT_CHANGES
    )
    assert json.loads(reverted.stdout)["run_id"] == 2


def test_validate_json_and_the_deprecated_format_json_print_the_same(cli: Cli) -> None:
    sample = str(SAMPLE_DATA / "crm-export.csv")

    new = cli("validate", sample, "--json")
    old = cli("validate", sample, "--format", "json")

    assert new.exit_code == old.exit_code == 3
    assert json.loads(new.stdout) == json.loads(old.stdout)


def test_link_json_and_the_deprecated_format_json_print_the_same(cli: Cli) -> None:
    people = str(DATA / "link" / "people.csv")

    new = cli("link", people, "--dry-run", "--json")
    old = cli("link", people, "--dry-run", "--format", "json")

    assert json.loads(new.stdout) == json.loads(old.stdout)


@pytest.mark.parametrize(
    "command",
    [
        ("validate",),
        ("plan",),
        ("push",),
        ("apply",),
        ("revert",),
        ("runs",),
        ("runs", "show"),
        ("link",),
        ("user",),
        ("fields",),
        ("doctor",),
    ],
)
def test_every_report_command_has_json_and_says_it_is_not_log_format(
    cli: Cli, command: tuple[str, ...]
) -> None:
    result = cli(*command, "--help", env={"COLUMNS": "200"})

    assert "--json" in result.stdout
    assert "Not the same as --log-format json" in " ".join(result.stdout.split())
    assert "--format" not in result.stdout.replace("--log-format", "")


def test_json_and_log_format_json_share_nothing_but_the_name(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    result = cli("--log-format", "json", "plan", str(EXPORT), "--json", env=sandbox_env)

    assert json.loads(result.stdout)["format_version"] == 1  # one document on stdout
    events = [json.loads(line) for line in result.stderr.splitlines()]  # events on stderr
    assert "plan" in {event["event"] for event in events}
