"""``communal-sync plan`` end to end: the real CLI against the sandbox, reads only.

``tests/data/plan/nightly.csv`` is a night's export after a previous push (simulated by
writing snapshots and links into the state file, as a push would):

    line 2  102 Bruno   only cosmetic differences; snapshot hash stale -> verified unchanged
    line 3  103 Chen    new telephone; never pushed, so city/country are "current unknown"
    line 4  104 Dana    new telephone, and last_name changed both in Communal and in the file
    line 5  105 Elif    no id, matched by external id; new email (an email change)
    line 6  106 Farid   invalid email
    line 7  107 Grace   same row as last push (hash recorded) -> unchanged, no request
    line 8  -   Zed     nobody knows him -> unmatched
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult

from communal_sync import __version__
from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

DATA = Path(__file__).resolve().parent.parent / "data" / "plan"
NIGHTLY = DATA / "nightly.csv"
COSMETIC = DATA / "cosmetic.csv"
ONE_CHANGE = DATA / "one-change.csv"
UPDATED_AT = "2026-01-15T09:30:00.000000Z"
REGION = ("--default-region", "CA")

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

SUMMARY = (
    "3 users to update, 2 unchanged, 1 invalid, 1 unmatched, 1 conflict, "
    "2 first-time writes over values Communal never shows"
)
BODIES = {
    103: {
        "first_name": "Chen",
        "last_name": "Wei",
        "email": "chen.wei@example.org",
        "telephone": "604-555-0199",
        "profile_city": "Vancouver",
        "profile_country": "CA",
    },
    104: {
        "first_name": "Dana",
        "last_name": "Whitfield",
        "email": "dana.whitfield@example.org",
        "telephone": "+1 902 555 0199",
    },
    105: {"first_name": "Elif", "last_name": "Yılmaz", "email": "elif.y@example.org"},
}


def state_path(env: dict[str, str]) -> Path:
    return Path(env["COMMUNAL_SYNC_STATE"])


def seed_previous_push(path: Path, grace_hash: str) -> None:
    """Write what a successful push of last night's export would have left in the state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_state(path) as state:
        state.snapshots.save(
            102,
            user={"id": 102, "profile_city": "Montréal", "profile_country": "CA"},
            pushed={"first_name": "Bruno", "profile_city": "Montréal"},
            source_hash="hash-of-an-older-row",
        )
        state.snapshots.save(
            104,
            user={"id": 104, "profile_city": "Halifax", "profile_country": "CA"},
            pushed={
                "first_name": "Dana",
                "last_name": "Whitfield-Smith",
                "email": "dana.whitfield@example.org",
                "telephone": "+1 902 555 0104",
            },
            source_hash="hash-of-an-older-row",
        )
        state.identity.link(
            105, external_id="M-0005", email_key="elif.yilmaz@example.org", source="push"
        )
        state.snapshots.save(
            105,
            user={"id": 105, "profile_city": "Calgary", "profile_country": "CA"},
            pushed={"email": "elif.yilmaz@example.org"},
            source_hash="hash-of-an-older-row",
            external_id="M-0005",
            pushed_email="elif.yilmaz@example.org",
        )
        state.snapshots.save(
            107,
            user={"id": 107, "profile_city": "St. John's", "profile_country": "CA"},
            pushed={"profile_city": "St. John's"},
            source_hash=grace_hash,
        )


@pytest.fixture
def seeded(cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path) -> Sandbox:
    """The sandbox and state as after last night's push; the request log emptied."""
    first = tmp_path / "first-plan.json"
    result = cli("plan", str(NIGHTLY), *REGION, "--out", str(first), env=sandbox_env)
    assert result.exit_code == 3, result.stdout + result.stderr
    hashes = {u["user_id"]: u["source_hash"] for u in json.loads(first.read_text())["users"]}
    seed_previous_push(state_path(sandbox_env), hashes[107])
    sandbox.clear_requests()
    return sandbox


def requests_made(sandbox: Sandbox) -> list[tuple[str, str]]:
    return sorted((r["method"], r["path"]) for r in sandbox.requests())


def plan_nightly(cli: Cli, env: dict[str, str], *args: str) -> CliResult:
    return cli("plan", str(NIGHTLY), *REGION, *args, env=env)


# --- what is planned, and what is sent ----------------------------------------------------


def test_plan_prints_the_summary_line_and_reads_only_what_can_change(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = plan_nightly(cli, sandbox_env)

    assert result.stdout.splitlines()[0] == f"Plan for {NIGHTLY}: {SUMMARY}"
    assert result.exit_code == 3
    assert requests_made(seeded) == [
        ("GET", "/api/users/102"),
        ("GET", "/api/users/103"),
        ("GET", "/api/users/104"),
        ("GET", "/api/users/105"),
    ]


def test_plan_shows_changes_conflict_email_change_and_row_issues(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str]
) -> None:
    out = plan_nightly(cli, sandbox_env).stdout
    lines = out.splitlines()

    assert "User 103 (Chen Wei, line 3, matched by id)" in lines
    assert "  telephone: (604) 555-0103 → 604-555-0199  [live]" in lines
    assert "User 104 (Dana Whitfield-Boyd, line 4, matched by id)" in lines
    assert (
        "  last_name: Whitfield → Whitfield-Boyd  [CONFLICT: skipped (last pushed Whitfield-Smith)]"
    ) in lines
    assert "User 105 (Elif Yılmaz, line 5, matched by external_id)" in lines
    assert "  email (identity): elif.yilmaz@example.org → elif.y@example.org  [last push]" in lines
    # Chen's city and country, never pushed, are first-time writes: folded, not listed.
    assert "  1 user: first address push (profile_city 1, profile_country 1)" in lines
    assert "Vancouver" not in out
    assert "Invalid rows (not pushed)" in out
    assert "farid.haddad@example" in out
    assert "Unmatched rows (not pushed)" in out
    assert "zed.newman@example.org" in out
    assert "User 102" not in out and "User 107" not in out


def test_plan_changes_nothing_in_the_sandbox_or_the_state(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str]
) -> None:
    before = seeded.state()
    with open_state(state_path(sandbox_env)) as state:
        snapshot_before = state.snapshots.get(104)

    plan_nightly(cli, sandbox_env, "--on-conflict", "source", "--allow-clear", "all")

    assert seeded.state() == before
    assert {method for method, _ in requests_made(seeded)} == {"GET"}
    with open_state(state_path(sandbox_env)) as state:
        assert state.snapshots.get(104) == snapshot_before
        assert state.snapshots.get(103) is None


def test_plan_out_saves_the_plan_to_review_and_apply(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"

    result = plan_nightly(cli, sandbox_env, "--out", str(out))

    assert result.exit_code == 3
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    saved: dict[str, Any] = json.loads(out.read_text())
    assert saved["format_version"] == 1
    assert saved["tool_version"] == __version__
    assert saved["base_url"] == seeded.base_url
    assert saved["input"] == {
        "name": str(NIGHTLY),
        "sha256": hashlib.sha256(NIGHTLY.read_bytes()).hexdigest(),
        "format": "csv",
        "rows": 7,
        "path": str(NIGHTLY.resolve()),
    }
    assert {u["user_id"]: u["body"] for u in saved["users"]} == BODIES
    assert {u["user_id"]: u["updated_at"] for u in saved["users"]} == dict.fromkeys(
        BODIES, UPDATED_AT
    )
    by_id = {u["user_id"]: u for u in saved["users"]}
    assert by_id[105]["email_change"] == {
        "old": "elif.yilmaz@example.org",
        "new": "elif.y@example.org",
    }
    assert by_id[105]["matched_by"] == "external_id"
    assert by_id[104]["conflicts"] == [
        {
            "field": "last_name",
            "base": "Whitfield-Smith",
            "current": "Whitfield",
            "source": "Whitfield-Boyd",
            "resolution": "skipped",
        }
    ]
    assert sorted((u["user_id"], u["verified"]) for u in saved["unchanged"]) == [
        (102, True),
        (107, False),
    ]
    assert [(i["line"], i["kind"]) for i in saved["issues"]] == [(6, "invalid"), (8, "unmatched")]


def test_on_conflict_source_takes_the_file_value(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"

    plan_nightly(cli, sandbox_env, "--on-conflict", "source", "--out", str(out))

    dana = next(u for u in json.loads(out.read_text())["users"] if u["user_id"] == 104)
    assert dana["body"] == {**BODIES[104], "last_name": "Whitfield-Boyd"}
    assert dana["conflicts"][0]["resolution"] == "source"


def test_full_refresh_reads_and_verifies_the_rows_unchanged_since_last_push(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"

    result = plan_nightly(cli, sandbox_env, "--full-refresh", "--out", str(out))

    assert result.stdout.splitlines()[0] == f"Plan for {NIGHTLY}: {SUMMARY}"
    assert [path for _, path in requests_made(seeded)] == [
        f"/api/users/{user_id}" for user_id in (102, 103, 104, 105, 107)
    ]
    unchanged = json.loads(out.read_text())["unchanged"]
    assert sorted((u["user_id"], u["verified"]) for u in unchanged) == [(102, True), (107, True)]


def test_embedded_sandbox_with_an_empty_state(cli: Cli) -> None:
    result = cli("plan", str(NIGHTLY), *REGION, "--sandbox")

    assert result.stdout.splitlines()[0] == (
        f"Plan for {NIGHTLY}: 4 users to update, 0 unchanged, 1 invalid, 2 unmatched, "
        "8 first-time writes over values Communal never shows"
    )
    assert result.exit_code == 3


# --- exit codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "args", "code", "summary"),
    [
        (COSMETIC, ("--detailed-exitcode",), 0, "0 users to update, 1 unchanged"),
        (COSMETIC, (), 0, "0 users to update, 1 unchanged"),
        (ONE_CHANGE, ("--detailed-exitcode",), 5, "1 user to update, 0 unchanged"),
        (ONE_CHANGE, (), 0, "1 user to update, 0 unchanged"),
        (ONE_CHANGE, ("--max-changes", "0", "--detailed-exitcode"), 4, None),
    ],
)
def test_exit_code_says_whether_changes_are_pending(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    file: Path,
    args: tuple[str, ...],
    code: int,
    summary: str | None,
) -> None:
    result = cli("plan", str(file), *REGION, *args, env=sandbox_env)

    assert result.exit_code == code, result.stdout + result.stderr
    if summary is not None:
        assert result.stdout.splitlines()[0] == f"Plan for {file}: {summary}"
    assert {r["method"] for r in sandbox.requests()} == {"GET"}


@pytest.mark.parametrize(("args", "code"), [((), 3), (("--detailed-exitcode",), 3)])
def test_row_problems_exit_3_even_with_changes_pending(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str], args: tuple[str, ...], code: int
) -> None:
    assert plan_nightly(cli, sandbox_env, *args).exit_code == code


def test_max_changes_refuses_the_whole_plan_with_exit_4(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = plan_nightly(cli, sandbox_env, "--max-changes", "1")

    assert result.exit_code == 4
    assert result.stdout.splitlines()[:2] == [
        "Refused: 3 users would change, more than --max-changes 1. Check the export; "
        "raise the limit if this is intended.",
        f"Plan for {NIGHTLY}: {SUMMARY}",
    ]
    assert {method for method, _ in requests_made(seeded)} == {"GET"}


def test_max_changes_percentage_of_matched_users(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str]
) -> None:
    refused = plan_nightly(cli, sandbox_env, "--max-changes", "50%")

    assert refused.exit_code == 4
    assert refused.stdout.startswith(
        "Refused: 3 users would change, more than --max-changes 50% (50% of 5 matched users)."
    )
    assert plan_nightly(cli, sandbox_env, "--max-changes", "60%").exit_code == 3


def test_max_clears_counts_allowed_clears(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "clears.csv"
    export.write_text(
        "Communal ID,First Name,Last Name,E-mail,Mobile,Date of Birth\n"
        "101,Amara,Okafor,amara.okafor@example.org,,\n",
        encoding="utf-8",
    )

    result = cli("plan", str(export), "--allow-clear", "all", "--max-clears", "1", env=sandbox_env)

    assert result.exit_code == 4
    assert result.stdout.splitlines()[:2] == [
        "Refused: 2 fields would be cleared, more than --max-clears 1. Check the export; "
        "raise the limit if this is intended.",
        f"Plan for {export}: 1 user to update, 0 unchanged, 2 fields cleared",
    ]


@pytest.mark.parametrize("limit", ["abc", "-5", "150%"])
def test_bad_max_changes_is_a_usage_error_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], limit: str
) -> None:
    result = cli("plan", str(ONE_CHANGE), "--max-changes", limit, env=sandbox_env)

    assert result.exit_code == 2
    assert "--max-changes" in result.stderr
    assert sandbox.requests() == []


# --- reports ------------------------------------------------------------------------------

SHOWN = ("103", "104", "105", "telephone", "last_name", "email")
PERSONAL = ("604-555-0199", "+1 902 555 0199", "Whitfield-Boyd", "elif.y@example.org")


@pytest.mark.parametrize("extension", ["json", "csv", "md", "html"])
def test_report_is_written_privately_in_the_format_of_its_extension(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, extension: str
) -> None:
    report = tmp_path / f"report.{extension}"

    result = plan_nightly(cli, sandbox_env, "--report", str(report))

    assert result.exit_code == 3
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    text = report.read_text(encoding="utf-8")
    for expected in (*SHOWN, *PERSONAL):
        assert expected in text, f"{expected!r} missing from the .{extension} report"
    if extension == "json":
        assert json.loads(text)


@pytest.mark.parametrize("extension", ["json", "csv", "md", "html"])
def test_redacted_report_hides_values_but_keeps_ids_and_fields(
    cli: Cli, seeded: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, extension: str
) -> None:
    report = tmp_path / f"report.{extension}"

    result = plan_nightly(cli, sandbox_env, "--report", str(report), "--redact")

    text = report.read_text(encoding="utf-8")
    for expected in SHOWN:
        assert expected in text, f"{expected!r} missing from the redacted .{extension} report"
    for personal in (*PERSONAL, "zed.newman@example.org", "farid.haddad@example"):
        assert personal not in text, f"{personal!r} shown in the redacted .{extension} report"
        assert personal not in result.stdout


def test_unknown_report_extension_is_a_usage_error(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    result = cli("plan", str(ONE_CHANGE), "--report", str(tmp_path / "report.txt"), env=sandbox_env)

    assert result.exit_code == 2
    assert not (tmp_path / "report.txt").exists()
