"""What a run says about itself, through the real CLI against the sandbox.

The final ``Run N:`` line, ``runs`` and ``runs show`` name every reason for exit 3 (a
conflict left alone, an invalid or unmatched row), a killed run shows what it journalled,
``runs show`` names the change of each outcome, ``--log-format json`` says which user
failed and why, a 422 reason is said once, a deprecated API version is one warning, and
the confirmation is in good English.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.push import EXPORT, edit_in_communal, env_for

import communal_sync.cli.flow as push_module
from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "data"
CUSTOM_EXPORT = DATA / "custom" / "export.csv"
CUSTOM_ON = ("--custom-fields", "--allow-clear", "custom:Dietary needs")
DUPLICATE_EMAIL = DATA / "secrets" / "duplicate_email.csv"
"""Gives user 101 the email of user 102: the API answers 422."""

HEADER = "id,first_name,last_name,email,telephone,date_of_birth,middle_name,preferred_name"
AMARA = "101,Amara,Okafor,amara.okafor@example.org,{telephone},1984-03-12,,{preferred}"
BRUNO = "102,Bruno,Lefèvre,Bruno.Lefevre@Example.org,514 555 0102,1979-11-02,,"
CHEN = "103,Chen,Wei,chen.wei@example.org,,1991-06-30,,CJ"
NOBODY = "999,Nobody,Known,nobody@example.org,,,,"
DEPRECATED_VERSION = "2026-02-01"
DEPRECATED_SUNSET = "Wed, 01 Jul 2026 00:00:00 GMT"
KILL_AFTER_PUTS = 2
WIDE = {"COLUMNS": "300"}
"""A terminal wide enough that no table cell folds (the fixture's 120 folds the counts)."""


def write_export(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def summary_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("Run ")]
    assert len(lines) == 1, stdout
    return lines[0]


def flat(text: str) -> str:
    """``text`` on one line, table borders and the terminal's wrapping taken out."""
    return " ".join(text.replace("│", " ").split())


def json_events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def runs_json(cli: Cli, env: dict[str, str]) -> list[dict[str, Any]]:
    result = cli("runs", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.fixture
def conflicted(cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path) -> Path:
    """After run 1, 101's telephone was edited in Communal; the file edits it differently
    and also sets her preferred name: one conflict left alone, one real change."""
    export = tmp_path / "export.csv"
    write_export(export, AMARA.format(telephone="+1 416 555 0199", preferred=""), BRUNO, CHEN)
    assert cli("push", str(export), "--yes", env=sandbox_env).exit_code == 0
    edit_in_communal(sandbox, 101, telephone="+1 416 555 7777")
    write_export(export, AMARA.format(telephone="+1 416 555 0100", preferred="Amy"), BRUNO, CHEN)
    return export


# --- 1. the final line, `runs` and `runs show` name every reason for exit 3 -----------------


def test_final_line_names_the_conflict_left_alone_that_makes_the_run_exit_3(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], conflicted: Path
) -> None:
    result = cli("push", str(conflicted), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert "1 user to update, 2 unchanged, 1 conflict" in result.stdout
    assert summary_line(result.stdout) == (
        "Run 2: 1 user updated, 2 unchanged, 1 conflict left alone"
    )
    amara = next(u for u in sandbox.state()["users"] if u["id"] == 101)
    assert (amara["telephone"], amara["preferred_name"]) == ("+1 416 555 7777", "Amy")


def test_runs_store_the_plans_counts_beside_the_apply_outcomes(
    cli: Cli, sandbox_env: dict[str, str], conflicted: Path
) -> None:
    assert cli("push", str(conflicted), "--yes", env=sandbox_env).exit_code == 3

    latest = runs_json(cli, sandbox_env)[0]

    assert (latest["id"], latest["exit_code"], latest["abandoned"]) == (2, 3, False)
    assert {k: latest["counts"].get(k) for k in EXPECTED_COUNTS} == EXPECTED_COUNTS
    table = cli("runs", env=sandbox_env | WIDE).stdout
    assert "1 applied, 2 unchanged, 1 conflict left alone" in table
    shown = flat(cli("runs", "show", "2", env=sandbox_env).stdout)
    assert "exit code 3" in shown
    assert "Counts: 1 applied, 2 unchanged, 1 conflict left alone" in shown


EXPECTED_COUNTS = {
    "applied": 1,
    "already": 0,
    "failed": 0,
    "conflict": 0,
    "pending": 0,
    "to_update": 1,
    "unchanged": 2,
    "invalid": 0,
    "unmatched": 0,
    "unreachable": 0,
    "ambiguous": 0,
    "mismatched": 0,
    "duplicate": 0,
    "email_cycle": 0,
    "conflicts": 1,
    "conflicts_left_alone": 1,
    "clears": 0,
}
"""Run 2 of ``conflicted``: the apply outcomes, then the plan's counts (others may follow)."""


def test_runs_of_invalid_and_unmatched_rows_with_nothing_to_send_show_them(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_export(
        tmp_path / "export.csv", AMARA.format(telephone="", preferred=""), BRUNO, NOBODY
    )
    (tmp_path / "invalid.csv").write_text(
        EXPORT.read_text(encoding="utf-8"), encoding="utf-8"
    )  # pushed twice: the second run has nothing to send but its invalid row
    assert cli("push", str(tmp_path / "invalid.csv"), "--yes", env=sandbox_env).exit_code == 3
    again = cli("push", str(tmp_path / "invalid.csv"), "--yes", env=sandbox_env)
    unmatched = cli("push", str(export), "--yes", env=sandbox_env)

    assert again.exit_code == 3
    assert unmatched.exit_code == 3, unmatched.stdout + unmatched.stderr
    assert summary_line(unmatched.stdout) == "Run 3: 0 users updated, 2 unchanged, 1 unmatched"
    listed = {r["id"]: r["counts"] for r in runs_json(cli, sandbox_env)}
    assert (listed[2]["applied"], listed[2]["unchanged"], listed[2]["invalid"]) == (0, 6, 1)
    assert (listed[3]["applied"], listed[3]["unchanged"], listed[3]["unmatched"]) == (0, 2, 1)
    table = cli("runs", env=sandbox_env | WIDE).stdout
    assert "6 unchanged, 1 invalid" in table
    assert "2 unchanged, 1 unmatched" in table


def test_a_killed_run_shows_what_it_journalled_and_that_it_was_killed(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "killed" / "state.db"
    env = env_for(sandbox, state)
    script = textwrap.dedent(
        f"""
        import os, signal
        from communal_sync.api.client import CommunalClient
        from communal_sync.cli import app

        send = CommunalClient.update_user
        calls = 0

        def update_user(self, user_id, body):
            global calls
            calls += 1
            if calls > {KILL_AFTER_PUTS}:
                os.kill(os.getpid(), signal.SIGKILL)
            return send(self, user_id, body)

        CommunalClient.update_user = update_user
        app(["push", {str(EXPORT)!r}, "--yes", "--concurrency", "1"])
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -9, child.stderr

    (run,) = runs_json(cli, env)
    shown = flat(cli("runs", "show", "1", env=env).stdout)
    shown_json = json.loads(cli("runs", "show", "1", "--json", env=env).stdout)

    assert (run["status"], run["exit_code"], run["abandoned"]) == ("interrupted", None, True)
    counts = run["counts"]
    assert (counts["applied"], counts["failed"], counts["pending"]) == (KILL_AFTER_PUTS, 0, 2)
    assert (counts["to_update"], counts["unchanged"], counts["invalid"]) == (4, 2, 1)
    assert shown_json["counts"] == counts
    assert (shown_json["exit_code"], shown_json["abandoned"]) == (None, True)
    assert "exit code None" not in shown
    assert "killed before it finished (no exit code)" in shown
    assert "Counts: 2 applied, 2 not sent, 2 unchanged, 1 invalid" in shown
    assert f"Resume it with: communal-sync push {EXPORT} --resume" in shown
    table = cli("runs", env=env | WIDE).stdout
    assert "2 applied, 2 not sent, 2 unchanged, 1 invalid" in table
    assert "killed" in table


# --- 2. `runs show` names the change behind each outcome --------------------------------------


def test_runs_show_names_the_profile_update_and_each_custom_value_write(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("push", str(CUSTOM_EXPORT), "--yes", *CUSTOM_ON, env=sandbox_env)
    assert result.exit_code == 0, result.stdout + result.stderr

    shown = json.loads(cli("runs", "show", "1", "--json", env=sandbox_env).stdout)
    table = cli("runs", "show", "1", env=sandbox_env).stdout

    amara = sorted(
        (r["change"], r["operation"], r["status"]) for r in shown["results"] if r["user_id"] == 101
    )
    assert amara == [
        ("custom: Dietary needs", "cpfv:101:2", "applied"),
        ("custom: T-shirt size", "cpfv:101:1", "applied"),
        ("profile", "user:101", "applied"),
    ]
    assert "change" in table
    assert "custom: T-shirt size" in table
    assert "profile" in table


# --- 3 and 4. which user failed and why, said once ---------------------------------------------


def test_json_log_emits_an_outcome_event_naming_the_failed_user_and_why(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("--log-format", "json", "push", str(DUPLICATE_EMAIL), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    events = json_events(result.stderr)
    (outcome,) = [e for e in events if e["event"] == "outcome"]
    assert {k: v for k, v in outcome.items() if k not in ("ts", "reason")} == {
        "event": "outcome",
        "run": 1,
        "user_id": 101,
        "line": 2,
        "status": "failed",
        "http_status": 422,
        "fields": ["email"],
    }
    assert outcome["reason"] == (
        "The API rejected the values for user 101 (422): email: The email has already been "
        "taken. Fix them in the input."
    )
    kinds = [e["event"] for e in events]
    assert kinds.index("outcome") < kinds.index("run_finished")


def test_outcome_event_masks_the_reason_with_redact_but_names_the_fields(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli(
        "--log-format",
        "json",
        "push",
        str(DUPLICATE_EMAIL),
        "--yes",
        "--redact",
        env=sandbox_env,
    )

    assert result.exit_code == 3
    (outcome,) = [e for e in json_events(result.stderr) if e["event"] == "outcome"]
    assert (outcome["user_id"], outcome["reason"], outcome["fields"]) == (101, "•••", ["email"])
    assert "bruno.lefevre" not in result.stderr


def test_json_log_emits_an_outcome_event_for_a_user_changed_since_planning(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    plan = tmp_path / "plan.json"
    assert cli("plan", str(EXPORT), "--out", str(plan), env=sandbox_env).exit_code == 3
    edit_in_communal(sandbox, 101, telephone="+1 416 555 7777")

    result = cli("--log-format", "json", "apply", str(plan), "--yes", env=sandbox_env)

    assert result.exit_code == 3
    outcomes = [e for e in json_events(result.stderr) if e["event"] == "outcome"]
    assert [(e["user_id"], e["line"], e["status"]) for e in outcomes] == [(101, 2, "conflict")]
    assert outcomes[0]["reason"].startswith("Changed in Communal since the plan was made")


def test_a_rejected_value_is_explained_once_in_the_not_updated_table(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("push", str(DUPLICATE_EMAIL), "--yes", env=sandbox_env)

    assert result.exit_code == 3
    assert flat(result.stdout).count("has already been taken") == 1, result.stdout
    assert summary_line(result.stdout) == "Run 1: 0 users updated, 0 unchanged, 1 failed"


# --- 5. a deprecated API version: one warning with both facts ----------------------------------


def test_a_deprecated_api_version_gives_one_warning_with_its_sunset(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("user", "101", "--api-version", DEPRECATED_VERSION, env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    # The API names its newest version; communal-sync adds that it was not written for
    # this one.
    assert warnings == [
        f"Warning: The Communal API warns about version {DEPRECATED_VERSION}: API version "
        f"{DEPRECATED_VERSION} is deprecated and will stop being served on {DEPRECATED_SUNSET}; "
        f"send X-Api-Version: 2026-08-25. It will stop working after {DEPRECATED_SUNSET}. "
        "Pass --api-version with a current version.",
        "Warning: communal-sync is written against Communal API versions 2026-03-25 and "
        f"2026-08-25; {DEPRECATED_VERSION} is sent as asked, and its answers may not be read "
        "correctly.",
    ]


# --- 6. the confirmation ------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "question"), [(1, "to 1 user?"), (2, "to 2 users?")])
def test_the_confirmation_counts_users_in_good_english(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: int,
    question: str,
) -> None:
    amara = AMARA.format(telephone="+1 416 555 0199", preferred="")
    export = write_export(tmp_path / "export.csv", *[amara, CHEN][:rows])
    terminal = SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(push_module, "sys", terminal)

    result = cli("push", str(export), env=sandbox_env, input="n\n")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"Apply these changes {question} [y/N]" in result.stdout
    assert "Nothing was sent." in result.stdout
