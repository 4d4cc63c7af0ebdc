"""The semantic rules found in scenario testing (issue 12), each end to end.

Every test drives the real CLI against the sandbox (demo organization: 101 Amara Okafor,
102 Bruno Lefèvre, 103 Chen Wei, 104 Dana Whitfield, 110 Jonas Berg) and asserts the exact
end state, the exact requests and the exit code. RELIABILITY.md lists each rule with the
test that pins it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.push import (
    assert_users_equal,
    edit_in_communal,
    expected_users,
    puts_by_user,
    request_counts,
    users_of,
)

from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

HEADER = "id,first_name,last_name,email,telephone,preferred_name"


def write_export(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def json_events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


# --- 4. a refused run still writes its report and its run_finished event -----------------


@pytest.mark.parametrize("suffix", [".json", ".md", ".html", ".csv"])
def test_a_run_refused_by_max_changes_writes_its_report_with_the_reason(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, suffix: str
) -> None:
    before = users_of(sandbox)
    export = write_export(
        tmp_path / "export.csv",
        "101,Amara,Okafor,amara.okafor@example.org,,Ama",
        "110,Jonas,Berg,jonas.berg@example.org,,Jo",
    )
    report = tmp_path / f"night{suffix}"

    result = cli(
        "--log-format", "json", "push", str(export), "--yes", "--max-changes", "1",
        "--report", str(report), env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 4, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
    reason = "2 users would change, more than --max-changes 1."
    assert reason in report.read_text(encoding="utf-8-sig")
    (finished,) = [e for e in json_events(result.stderr) if e["event"] == "run_finished"]
    assert finished["run"] is None
    assert finished["status"] == "refused"
    assert finished["exit_code"] == 4
    assert finished["reason"].startswith(reason)
    assert finished["to_update"] == 2
    if suffix == ".json":
        document = json.loads(report.read_text(encoding="utf-8"))
        assert document["plan"]["refused"].startswith(reason)
        assert document["counts"]["to_update"] == 2


def test_a_run_with_no_valid_rows_writes_its_report_with_the_reason(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_export(tmp_path / "export.csv", "101,,Okafor,not-an-email,,")
    report = tmp_path / "night.json"

    result = cli("push", str(export), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 4, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["plan"]["refused"].startswith("The input has no valid rows")
    assert document["counts"]["invalid"] == 1


# --- 6. what decides a plan is part of "unchanged since the last push" -------------------

AMARA = "101,Amara,Okafor,amara.okafor@example.org,{telephone},{preferred}"


def conflicted_amara(cli: Cli, sandbox: Sandbox, env: dict[str, str], tmp_path: Path) -> None:
    """Push Amara's preferred name "Ama", then someone in Communal makes it "Amy"."""
    first = write_export(tmp_path / "first.csv", AMARA.format(telephone="", preferred="Ama"))
    assert cli("push", str(first), "--yes", env=env).exit_code == 0
    edit_in_communal(sandbox, 101, preferred_name="Amy")
    sandbox.clear_requests()


def night(cli: Cli, env: dict[str, str], export: Path, tmp_path: Path, *flags: str) -> Any:
    report = tmp_path / "night.json"
    result = cli("push", str(export), "--yes", "--report", str(report), *flags, env=env)
    return result, json.loads(report.read_text(encoding="utf-8"))


def test_the_same_file_under_another_on_conflict_policy_is_planned_again(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    conflicted_amara(cli, sandbox, sandbox_env, tmp_path)
    export = write_export(tmp_path / "export.csv", AMARA.format(telephone="", preferred="Ami"))

    kept, kept_report = night(cli, sandbox_env, export, tmp_path, "--on-conflict", "communal")

    assert kept.exit_code == 0, kept.stdout + kept.stderr
    assert kept_report["counts"]["conflicts"] == 1
    assert puts_by_user(sandbox) == {}
    assert users_of(sandbox)[101]["preferred_name"] == "Amy"

    taken, taken_report = night(cli, sandbox_env, export, tmp_path, "--on-conflict", "source")

    assert taken.exit_code == 0, taken.stdout + taken.stderr
    assert taken_report["counts"]["to_update"] == 1
    assert puts_by_user(sandbox) == {101: 1}
    assert users_of(sandbox)[101]["preferred_name"] == "Ami"


@pytest.mark.parametrize("other_change", ["", "+1 416 555 0199"], ids=["alone", "with-a-phone"])
def test_a_conflict_kept_as_communal_has_it_is_reported_every_night_either_way(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, other_change: str
) -> None:
    conflicted_amara(cli, sandbox, sandbox_env, tmp_path)
    export = write_export(
        tmp_path / "export.csv", AMARA.format(telephone=other_change, preferred="Ami")
    )
    before = users_of(sandbox)

    for _ in range(2):
        result, report = night(cli, sandbox_env, export, tmp_path, "--on-conflict", "communal")
        assert result.exit_code == 0, result.stdout + result.stderr
        assert report["counts"]["conflicts"] == 1
        assert report["counts"]["unchanged"] == 0

    # Each night reads Amara again; only the first one has a phone to send.
    gets = [r for r in sandbox.requests() if r["method"] == "GET" and r["path"] == "/api/users/101"]
    assert len(gets) >= 2
    assert puts_by_user(sandbox) == ({101: 1} if other_change else {})
    expected = {"telephone": other_change} if other_change else {}
    assert_users_equal(users_of(sandbox), expected_users(before, {101: expected}))


# --- 8. telephones without a configured region ---------------------------------------------


def put_bodies(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r["body"] for r in sandbox.requests() if r["method"] == "PUT"]


def test_a_national_phone_equal_to_communals_e164_number_plans_nothing(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """101's Communal number is +1 416 555 0101; no --default-region, no country column."""
    before = users_of(sandbox)
    export = write_export(
        tmp_path / "export.csv",
        "101,Amara,Okafor,amara.okafor@example.org,(416) 555-0101,",
        "102,Bruno,Lefèvre,bruno.lefevre@example.org,+1 514 555 0102,",
    )

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "0 users to update, 2 unchanged" in result.stdout
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before


def test_phone_format_e164_sends_a_changed_number_read_in_the_rows_own_country(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    export = write_export(
        tmp_path / "export.csv",
        "103,Chen,Wei,chen.wei@example.org,020 7946 0018,GB",
        header="id,first_name,last_name,email,telephone,profile_country",
    )

    result = cli("push", str(export), "--yes", "--phone-format", "e164", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert puts_by_user(sandbox) == {103: 1}
    (body,) = put_bodies(sandbox)
    assert body["telephone"] == "+442079460018"
    assert_users_equal(
        users_of(sandbox),
        expected_users(before, {103: {"telephone": "+442079460018", "profile_country": "GB"}}),
    )


def test_as_is_sends_the_files_text_and_a_digits_only_comparison_is_said(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """102's Communal number is national (514-555-0102), and so is the file's: no region."""
    export = write_export(
        tmp_path / "export.csv", "102,Bruno,Lefèvre,bruno.lefevre@example.org,514 555 0199,"
    )
    report = tmp_path / "night.json"

    result = cli("push", str(export), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    (body,) = put_bodies(sandbox)
    assert body["telephone"] == "514 555 0199"
    assert users_of(sandbox)[102]["telephone"] == "514 555 0199"
    (user,) = json.loads(report.read_text(encoding="utf-8"))["plan"]["users"]
    (change,) = [c for c in user["changes"] if c["field"] == "telephone"]
    assert "compared by its digits only" in change["note"]


# --- 9. a member key and its own record ------------------------------------------------------

MEMBER_KEY_OF_DANA = "sandbox-member-key"
"""The demo organization's member key is user 104's (Dana Whitfield)."""
DANA = "104,Dana,Whitfield,dana.whitfield@example.org,,Dee"


def test_a_member_key_on_a_file_of_several_people_stops_while_planning_saying_what_to_do(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    export = write_export(
        tmp_path / "export.csv", DANA, "110,Jonas,Berg,jonas.berg@example.org,,Jo"
    )
    env = {**sandbox_env, "COMMUNAL_API_KEY": MEMBER_KEY_OF_DANA}

    result = cli("push", str(export), "--yes", env=env)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert "user 110 (403)" in line
    assert line.endswith("use a manager key, or a file that holds only the key's own row.")


def test_a_member_key_on_a_file_of_its_own_row_pushes_it(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    before = users_of(sandbox)
    export = write_export(tmp_path / "export.csv", DANA)
    env = {**sandbox_env, "COMMUNAL_API_KEY": MEMBER_KEY_OF_DANA}

    result = cli("push", str(export), "--yes", env=env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert puts_by_user(sandbox) == {104: 1}
    assert_users_equal(users_of(sandbox), expected_users(before, {104: {"preferred_name": "Dee"}}))


# --- 5. an id column that contradicts the identity map ---------------------------------------

KEYED = "id,external_id,first_name,last_name,email,preferred_name"


def test_an_id_column_contradicting_the_identity_map_is_reported_and_the_map_kept(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    first = write_export(
        tmp_path / "first.csv", "101,CRM-1,Amara,Okafor,amara.okafor@example.org,", header=KEYED
    )
    assert cli("push", str(first), "--yes", env=sandbox_env).exit_code == 0
    before = users_of(sandbox)
    sandbox.clear_requests()
    export = write_export(
        tmp_path / "export.csv", "102,CRM-1,Bruno,Lefèvre,bruno.lefevre@example.org,Bru",
        header=KEYED,
    )  # fmt: skip
    report = tmp_path / "night.json"

    result = cli("push", str(export), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
    (issue,) = json.loads(report.read_text(encoding="utf-8"))["plan"]["issues"]
    assert issue["kind"] == "ambiguous"
    assert issue["message"].startswith(
        "This row's id column says user 102, but the identity map gives its external id "
        "CRM-1 to user 101: nothing is planned for it, and the map is left as it is."
    )
    with open_state(Path(sandbox_env["COMMUNAL_SYNC_STATE"])) as store:
        assert store.identity.lookup_external_id("CRM-1") == 101

    # Amara's own row, by her external key alone, is still hers (not "ambiguous").
    hers = write_export(
        tmp_path / "hers.csv", ",CRM-1,Amara,Okafor,amara.okafor@example.org,Ama", header=KEYED
    )
    pushed = cli("push", str(hers), "--yes", env=sandbox_env)

    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert puts_by_user(sandbox) == {101: 1}
    assert users_of(sandbox)[101]["preferred_name"] == "Ama"


# --- 2. a snapshot is not Communal's current value ---------------------------------------

ADDRESS_HEADER = "id,first_name,last_name,email,profile_address"
AMARA_AT = "101,Amara,Okafor,amara.okafor@example.org,{address}"
AMARA_BODY = {"first_name": "Amara", "last_name": "Okafor", "email": "amara.okafor@example.org"}
SNAPSHOT_NOTE = r"last pushed by us on \d{4}-\d{2}-\d{2}; Communal may differ"


def flat(text: str) -> str:
    """Terminal output with its wrapping (and a help panel's borders) undone, to find a
    sentence in a table cell."""
    return " ".join(text.replace("│", " ").split())


def test_an_address_change_over_our_snapshot_says_communal_may_differ_everywhere(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    first = write_export(
        tmp_path / "first.csv", AMARA_AT.format(address="12 Queen St W"), header=ADDRESS_HEADER
    )
    assert cli("push", str(first), "--yes", env=sandbox_env).exit_code == 0
    edit_in_communal(sandbox, 101, profile_address="99 King St E")  # GET cannot show it
    before = users_of(sandbox)
    sandbox.clear_requests()
    export = write_export(
        tmp_path / "export.csv", AMARA_AT.format(address="5 Bloor St"), header=ADDRESS_HEADER
    )
    reports = {s: tmp_path / f"night.{s}" for s in ("json", "csv", "md", "html")}
    for suffix in ("csv", "md", "html"):  # the dry run's reports, one format each
        planned = cli("plan", str(export), "--report", str(reports[suffix]), env=sandbox_env)
        assert planned.exit_code == 0, planned.stdout + planned.stderr
    assert request_counts(sandbox)["PUT"] == 0
    sandbox.clear_requests()

    result = cli("push", str(export), "--yes", "--report", str(reports["json"]), env=sandbox_env)

    # The tool cannot see the edit, so it is no conflict: the file's value is sent (exit 0),
    # and every output says the "now" value is our own last push, not Communal's.
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_users_equal(
        users_of(sandbox), expected_users(before, {101: {"profile_address": "5 Bloor St"}})
    )
    puts = [e for e in sandbox.requests() if e["method"] == "PUT"]
    assert [(e["path"], e["body"]) for e in puts] == [
        ("/api/users/101", AMARA_BODY | {"profile_address": "5 Bloor St"})
    ]
    assert request_counts(sandbox)["PUT"] == 1
    summary = "1 address change over values we cannot read"
    assert summary in flat(result.stdout)
    assert re.search(SNAPSHOT_NOTE, flat(result.stdout))
    document = json.loads(reports["json"].read_text(encoding="utf-8"))
    assert document["counts"]["unverified_changes"] == 1
    assert summary in document["summary"]
    (change,) = document["plan"]["users"][0]["changes"]
    assert (change["field"], change["before"], change["after"], change["provenance"]) == (
        "profile_address", "12 Queen St W", "5 Bloor St", "snapshot"
    )  # fmt: skip
    assert re.search(SNAPSHOT_NOTE, change["note"])
    for suffix in ("csv", "md", "html"):
        text = reports[suffix].read_text(encoding="utf-8-sig")
        assert re.search(SNAPSHOT_NOTE, text), suffix
        if suffix != "csv":
            assert summary in text, suffix


def test_on_conflict_help_states_the_rule_for_fields_communal_never_shows(cli: Cli) -> None:
    result = cli("push", "--help")

    assert result.exit_code == 0
    assert "Addresses, which Communal never shows, are compared with what we last pushed" in (
        flat(result.stdout)
    )


# --- 3. revert does not restore a guess as fact ------------------------------------------


def snapshot_overwrite(cli: Cli, sandbox: Sandbox, env: dict[str, str], tmp_path: Path) -> None:
    """Run 1 pushes Amara's address; Communal edits it; run 2 overwrites it over our snapshot."""
    first = write_export(
        tmp_path / "first.csv", AMARA_AT.format(address="12 Queen St W"), header=ADDRESS_HEADER
    )
    assert cli("push", str(first), "--yes", env=env).exit_code == 0
    edit_in_communal(sandbox, 101, profile_address="99 King St E")
    second = write_export(
        tmp_path / "second.csv", AMARA_AT.format(address="5 Bloor St"), header=ADDRESS_HEADER
    )
    assert cli("push", str(second), "--yes", env=env).exit_code == 0
    sandbox.clear_requests()


def test_revert_leaves_alone_a_field_whose_before_image_was_only_our_snapshot(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    snapshot_overwrite(cli, sandbox, sandbox_env, tmp_path)
    before = users_of(sandbox)
    report = tmp_path / "revert.md"

    result = cli("revert", "2", "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
    assert before[101]["profile_address"] == "5 Bloor St"
    said = flat(result.stdout + result.stderr)
    assert "User 101: profile_address before run 2 is unknown" in said
    assert "--restore-unverified" in said


def test_revert_dry_run_report_names_the_unverified_field_per_user(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    snapshot_overwrite(cli, sandbox, sandbox_env, tmp_path)
    report = tmp_path / "revert.md"

    result = cli("revert", "2", "--dry-run", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    text = flat(report.read_text(encoding="utf-8"))
    assert "User 101: profile_address before run 2 is unknown" in text


def test_revert_restore_unverified_puts_back_the_last_known_value_and_says_so(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    snapshot_overwrite(cli, sandbox, sandbox_env, tmp_path)
    before = users_of(sandbox)

    result = cli("revert", "2", "--yes", "--restore-unverified", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    # Our last-known value, not the "99 King St E" Communal really held before run 2.
    assert_users_equal(
        users_of(sandbox), expected_users(before, {101: {"profile_address": "12 Queen St W"}})
    )
    puts = [e for e in sandbox.requests() if e["method"] == "PUT"]
    assert [(e["path"], e["body"]) for e in puts] == [
        ("/api/users/101", AMARA_BODY | {"profile_address": "12 Queen St W"})
    ]
    assert "restoring profile_address to the value last pushed by us" in flat(
        result.stdout + result.stderr
    )


def test_revert_restores_the_read_fields_of_a_user_and_leaves_only_the_unverified_alone(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    header = "id,first_name,last_name,email,telephone,profile_address"
    amara = "101,Amara,Okafor,amara.okafor@example.org,{telephone},{address}"
    first = write_export(
        tmp_path / "first.csv", amara.format(telephone="", address="12 Queen St W"), header=header
    )
    assert cli("push", str(first), "--yes", env=sandbox_env).exit_code == 0
    second = write_export(
        tmp_path / "second.csv",
        amara.format(telephone="+1 416 555 0199", address="5 Bloor St"),
        header=header,
    )
    assert cli("push", str(second), "--yes", env=sandbox_env).exit_code == 0
    before = users_of(sandbox)
    sandbox.clear_requests()

    result = cli("revert", "2", "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    # The telephone was read live before run 2: restored. The address was our snapshot: kept.
    assert_users_equal(
        users_of(sandbox), expected_users(before, {101: {"telephone": "+1 416 555 0101"}})
    )
    assert users_of(sandbox)[101]["profile_address"] == "5 Bloor St"
    puts = [e for e in sandbox.requests() if e["method"] == "PUT"]
    assert [(e["path"], e["body"]) for e in puts] == [
        ("/api/users/101", AMARA_BODY | {"telephone": "+1 416 555 0101"})
    ]
    assert "User 101: profile_address before run 2 is unknown" in flat(
        result.stdout + result.stderr
    )
