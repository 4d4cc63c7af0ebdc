"""No wrong person: a row whose matched user has neither its email nor both its names is not pushed.

End to end through the real CLI against the sandbox (demo organization: user 103 is Chen
Wei <chen.wei@example.org>, 104 Dana Whitfield, 110 Jonas Berg), plus the pure comparison.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.push import (
    assert_users_equal,
    edit_in_communal,
    expected_users,
    puts_by_user,
    users_of,
)

from communal_sync.identity.match import identity_mismatch
from communal_sync.intake.validate import ProfileRow
from communal_sync.plan import UNKNOWN, CurrentValue
from communal_sync.reports import REPORT_FORMATS
from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

HEADER = "id,first_name,last_name,email,preferred_name"
WRONG_ID_ROW = "103,Zoe,Quinn,zoe.quinn@example.org,"
"""A row whose id is Chen Wei's: nothing in common with him."""
GOOD_ROW = "110,Jonas,Berg,jonas.berg@example.org,Jo"
MISMATCH_REASON = (
    "This row is Zoe Quinn <zoe.quinn@example.org>, but the Communal user 103 it matched "
    "(by the id column) is Chen Wei <chen.wei@example.org>: neither the same email nor the "
    "same first and last name, so nothing is planned for this row. Check the id column, or "
    "pass --trust-ids if the file is meant to rename this person."
)


def write_export(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "export.csv"
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def plan_line(stdout: str) -> str:
    """The plan's one-line summary ("Plan for ...: ..."), said first and, identically, last
    when anything is listed between."""
    lines = [line for line in stdout.splitlines() if line.startswith("Plan for ")]
    assert len(lines) in (1, 2) and len(set(lines)) == 1, stdout
    return lines[0].split(": ", 1)[1]


e2e = pytest.mark.e2e


@e2e
def test_a_row_whose_id_is_someone_else_exits_3_and_sends_nothing_to_that_user(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    export = write_export(tmp_path, WRONG_ID_ROW, GOOD_ROW)
    report = tmp_path / "run.json"

    result = cli("push", str(export), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert plan_line(result.stdout) == "1 user to update, 0 unchanged, 1 mismatched"
    assert puts_by_user(sandbox) == {110: 1}
    assert_users_equal(users_of(sandbox), expected_users(before, {110: {"preferred_name": "Jo"}}))
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["counts"]["mismatched"] == 1
    assert document["plan"]["issues"] == [
        {
            "line": 2,
            "kind": "mismatched",
            "field": "id",
            "value": "103",
            "message": MISMATCH_REASON,
            "quoted": [
                "Zoe",
                "Quinn",
                "zoe.quinn@example.org",
                "Chen",
                "Wei",
                "chen.wei@example.org",
            ],
        }
    ]
    assert "Rows matched to someone else in Communal" in result.stdout


@e2e
def test_a_shifted_id_whose_row_shares_only_the_first_name_is_mismatched_not_renamed(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """103 is Chen Wei: "Chen Green" with another email is someone else, not a rename."""
    before = users_of(sandbox)
    export = write_export(tmp_path, "103,Chen,Green,chen.green@example.org,", GOOD_ROW)

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert plan_line(result.stdout) == "1 user to update, 0 unchanged, 1 mismatched"
    assert puts_by_user(sandbox) == {110: 1}
    assert_users_equal(users_of(sandbox), expected_users(before, {110: {"preferred_name": "Jo"}}))

    trusted = cli("push", str(export), "--yes", "--trust-ids", env=sandbox_env)

    assert trusted.exit_code == 0, trusted.stdout + trusted.stderr
    assert users_of(sandbox)[103]["name"] == "Chen Green"
    assert users_of(sandbox)[103]["email"] == "chen.green@example.org"


@e2e
def test_both_names_with_a_new_email_are_the_same_person(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_export(tmp_path, "103, chen ,WEI,chen.w@example.org,")

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert puts_by_user(sandbox) == {103: 1}
    assert users_of(sandbox)[103]["email"] == "chen.w@example.org"


@e2e
def test_trust_ids_pushes_the_row_that_renames_the_person(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    export = write_export(tmp_path, WRONG_ID_ROW)

    result = cli("push", str(export), "--yes", "--trust-ids", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert puts_by_user(sandbox) == {103: 1}
    renamed = {
        "first_name": "Zoe",
        "last_name": "Quinn",
        "name": "Zoe Quinn",
        "email": "zoe.quinn@example.org",
    }
    assert_users_equal(users_of(sandbox), expected_users(before, {103: renamed}))


@e2e
def test_an_email_only_change_by_id_is_pushed(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    export = write_export(tmp_path, "104,Dana,Whitfield,dana.new@example.org,")

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert plan_line(result.stdout) == "1 user to update, 0 unchanged"
    assert_users_equal(
        users_of(sandbox), expected_users(before, {104: {"email": "dana.new@example.org"}})
    )


@e2e
def test_new_names_with_the_same_email_in_another_case_are_the_same_person(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_export(tmp_path, "103,Cheng,Way, CHEN.WEI@Example.ORG ,")

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert puts_by_user(sandbox) == {103: 1}
    assert users_of(sandbox)[103]["name"] == "Cheng Way"


@e2e
def test_a_row_matched_through_a_stale_external_id_map_is_mismatched_too(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    id_map = tmp_path / "map.csv"
    id_map.write_text("id,external_id\n103,CRM-7\n", encoding="utf-8")
    assert cli("link", str(id_map), env=sandbox_env).exit_code == 0
    export = write_export(
        tmp_path,
        "CRM-7,Zoe,Quinn,zoe.quinn@example.org",
        header="external_id,first_name,last_name,email",
    )
    report = tmp_path / "plan.csv"

    result = cli("plan", str(export), "--report", str(report), env=sandbox_env)
    trusted = cli("plan", str(export), "--trust-ids", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert plan_line(result.stdout) == "0 users to update, 0 unchanged, 1 mismatched"
    rows = report.read_text(encoding="utf-8-sig").splitlines()
    assert rows[1].startswith('"","2","","external_id","","CRM-7","","This row is Zoe Quinn')
    assert "(by external id CRM-7 through the identity map)" in rows[1]
    assert rows[1].endswith('"mismatched"')
    assert trusted.exit_code == 0, trusted.stdout + trusted.stderr
    assert plan_line(trusted.stdout) == "1 user to update, 0 unchanged"


@e2e
def test_a_mismatched_row_does_not_make_the_real_match_of_that_user_ambiguous(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    id_map = tmp_path / "map.csv"
    id_map.write_text("id,email\n103,chen.wei@example.org\n", encoding="utf-8")
    assert cli("link", str(id_map), env=sandbox_env).exit_code == 0
    export = write_export(tmp_path, WRONG_ID_ROW, ",Chen,Wei,chen.wei@example.org,CJ")

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert plan_line(result.stdout) == "1 user to update, 0 unchanged, 1 mismatched"
    assert puts_by_user(sandbox) == {103: 1}
    assert users_of(sandbox)[103]["preferred_name"] == "CJ"
    assert users_of(sandbox)[103]["email"] == "chen.wei@example.org"


@e2e
@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_redact_masks_both_people_in_the_reason_on_screen_and_in_every_report(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, fmt: str
) -> None:
    export = write_export(tmp_path, WRONG_ID_ROW)
    report = tmp_path / f"plan.{fmt}"

    result = cli("plan", str(export), "--redact", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3
    text = report.read_text(encoding="utf-8")
    for shown in (result.stdout, text):
        assert "mismatched" in shown
        assert "--trust-ids" in shown
        for personal in ("Zoe", "Quinn", "zoe.quinn", "Chen", "Wei", "chen.wei"):
            assert personal not in shown


@e2e
def test_the_plan_event_counts_mismatched_rows(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_export(tmp_path, WRONG_ID_ROW, GOOD_ROW)

    result = cli("--log-format", "json", "plan", str(export), env=sandbox_env)

    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    planned = [e for e in events if e["event"] == "plan"]
    assert len(planned) == 1
    assert planned[0]["mismatched"] == 1
    assert planned[0]["to_update"] == 1
    assert planned[0]["summary"] == "1 user to update, 0 unchanged, 1 mismatched"


@e2e
def test_a_row_skipped_by_its_hash_is_not_read_so_not_checked_and_sends_nothing(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """Renamed in Communal after our push: the unchanged row costs nothing and sends
    nothing; --full-refresh reads the record and reports that it is someone else now."""
    export = write_export(tmp_path, "103,Chen,Wei,chen.wei@example.org,CJ")
    assert cli("push", str(export), "--yes", env=sandbox_env).exit_code == 0
    edit_in_communal(
        sandbox, 103, first_name="Zoe", last_name="Quinn", email="zoe.quinn@example.org"
    )
    sandbox.clear_requests()

    skipped = cli("push", str(export), "--yes", env=sandbox_env)
    refreshed = cli("plan", str(export), "--full-refresh", env=sandbox_env)

    assert skipped.exit_code == 0, skipped.stdout + skipped.stderr
    assert plan_line(skipped.stdout) == "0 users to update, 1 unchanged"
    assert refreshed.exit_code == 3
    assert plan_line(refreshed.stdout) == "0 users to update, 0 unchanged, 1 mismatched"
    assert puts_by_user(sandbox) == {}


# --- the comparison itself ------------------------------------------------------------


def row(first: str, last: str, email: str) -> ProfileRow:
    return ProfileRow(line=2, first_name=first, last_name=last, email=email, id=103)


def record(first: str | None, last: str | None, email: str | None) -> dict[str, CurrentValue]:
    def live(value: str | None) -> CurrentValue:
        return CurrentValue(value, "live")

    return {"first_name": live(first), "last_name": live(last), "email": live(email)}


CHEN = record("Chen", "Wei", "chen.wei@example.org")


@pytest.mark.parametrize(
    ("first", "last", "email", "mismatch"),
    [
        ("Zoe", "Quinn", "zoe@example.org", True),
        ("Chen", "Wei", "chen.new@example.org", False),  # email change
        ("Zoe", "Quinn", "Chen.Wei@EXAMPLE.org", False),  # new names, same mailbox
        (" CHEN ", " wei", "chen.new@example.org", False),  # case and spacing are cosmetic
        ("Chen", "Wei-Lee", "chen.lee@example.org", True),  # only the first name shared
        ("Zoe", "Wei", "zoe@example.org", True),  # only the last name shared
        ("Chen", "Quinn", "zoe@example.org", True),  # one shared first name is not enough
        ("Wei", "Chen", "zoe@example.org", True),  # swapped names share neither field
    ],
)
def test_the_same_person_has_the_same_email_or_both_the_same_names(
    first: str, last: str, email: str, mismatch: bool
) -> None:
    assert identity_mismatch(row(first, last, email), CHEN) is mismatch


def test_unknown_or_blank_fields_are_no_evidence_either_way() -> None:
    nothing_known = {"first_name": UNKNOWN, "last_name": UNKNOWN, "email": UNKNOWN}
    only_email = record(None, "", "chen.wei@example.org")

    assert identity_mismatch(row("Zoe", "Quinn", "zoe@example.org"), nothing_known) is False
    assert identity_mismatch(row("Zoe", "Quinn", "zoe@example.org"), only_email) is True
    assert identity_mismatch(row("Zoe", "Quinn", "chen.wei@example.org"), only_email) is False
    names_only = {**record("Chen", "Wei", None), "email": UNKNOWN}
    assert identity_mismatch(row("Chen", "Wei", "zoe@example.org"), names_only) is False
    assert identity_mismatch(row("Chen", "Quinn", "zoe@example.org"), names_only) is True


def test_names_are_compared_in_unicode_normal_form() -> None:
    decomposed = record("Bruno", "Lefe\u0300vre", "bruno@example.org")

    assert identity_mismatch(row("Bruno", "Lef\u00e8vre", "ann@example.org"), decomposed) is False
