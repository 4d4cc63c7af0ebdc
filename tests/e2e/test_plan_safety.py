"""Planning safety end to end: the real CLI against the sandbox, exact outcomes.

- An external key and an email that the identity map gives to two different people make
  the row ambiguous: never an email change that moves one person onto the other's address.
- ``--allow-clear`` accepts only names that can be cleared (``all``, the optional standard
  fields, ``custom:<name>`` of a writable custom field, in any case) and refuses the rest
  with exit 2, before any request.
- A locked custom field whose file value differs from Communal's is reported per user in
  the terminal plan and in every report format (masked with --redact); the exit stays 0.
- No output option (--out, --report, --failed-out, --errors-out) may name the input file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.push import EXPORT, puts_by_user, users_of

from communal_sync.plan import LOCKED_REASON
from communal_sync.planning.diff import CLEAR_NAMES_HINT
from communal_sync.reports.redaction import REDACTED
from communal_sync.sandbox import Sandbox

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

CUSTOM = Path(__file__).resolve().parent.parent / "data" / "custom"
CUSTOM_EXPORT = CUSTOM / "export.csv"
"""101 Amara's locked Membership tier reads "Platinum" (Communal: "Gold"); 102 Bruno's
Dietary needs cell is blank (Communal: "Vegetarian")."""

IDS = (
    "id,email,external_id\n"
    "108,hiro.tanaka@example.org,M-0008\n"
    "109,isabel.moreno@example.org,M-0009\n"
)
HEADER = "external_id,first_name,last_name,email,telephone\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def linked(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    """Load the identity map: M-0008 and hiro's email are 108, M-0009 and isabel's 109."""
    result = cli("link", str(write(tmp_path / "ids.csv", IDS)), env=env)
    assert result.exit_code == 0, result.stdout + result.stderr


def writes(sandbox: Sandbox) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sandbox.requests() if e["method"] != "GET"]


def plan_json(cli: Cli, env: dict[str, str], *args: str, report: Path) -> dict[str, Any]:
    result = cli("plan", *args, "--report", str(report), env=env)
    assert result.exit_code in (0, 3), result.stdout + result.stderr
    document: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return document


# --- 1. an external key and an email of two different people ------------------------------


def test_external_key_of_one_person_and_email_of_another_is_ambiguous_and_never_pushed(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    linked(cli, sandbox_env, tmp_path)
    export = write(
        tmp_path / "crossed.csv",
        HEADER + "M-0008,Hiro,Tanaka,isabel.moreno@example.org,+1 250 555 0108\n",
    )
    before = users_of(sandbox)

    planned = cli("plan", str(export), "--report", str(tmp_path / "r.json"), env=sandbox_env)
    pushed = cli("push", str(export), "--yes", env=sandbox_env)

    assert planned.exit_code == 3, planned.stdout + planned.stderr
    assert (
        planned.stdout.splitlines()[0]
        == f"Plan for {export}: 0 users to update, 0 unchanged, 1 ambiguous"
    )
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["plan"]["users"] == []
    (issue,) = report["plan"]["issues"]
    assert (issue["line"], issue["kind"], issue["field"], issue["value"]) == (
        2,
        "ambiguous",
        "email",
        "isabel.moreno@example.org",
    )
    assert issue["message"] == (
        "This row matches more than one Communal user in the identity map (108, 109); its "
        "external key is user 108's and its email is user 109's: the external key and the "
        "email point to two different people. Correct whichever is wrong in the file, reload "
        "the identity map with `communal-sync link FILE` if it is out of date, or add a "
        "Communal id column to say which."
    )
    assert pushed.exit_code == 3, pushed.stdout + pushed.stderr
    assert writes(sandbox) == []
    assert users_of(sandbox) == before


def test_external_key_with_its_own_or_a_new_email_is_still_matched_by_it(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    linked(cli, sandbox_env, tmp_path)
    export = write(
        tmp_path / "fine.csv",
        HEADER
        + "M-0008,Hiro,Tanaka,hiro.tanaka@example.org,+1 250 555 0999\n"
        + "M-0009,Isabel,Moreno,isabel.new@example.org,\n",
    )

    report = plan_json(cli, sandbox_env, str(export), report=tmp_path / "r.json")

    assert report["summary"] == "2 users to update, 0 unchanged"
    assert [
        (u["user_id"], u["matched_by"], [(c["field"], c["after"]) for c in u["changes"]])
        for u in report["plan"]["users"]
    ] == [
        (108, "external_id", [("telephone", "+1 250 555 0999")]),
        (109, "external_id", [("email", "isabel.new@example.org")]),
    ]
    assert report["plan"]["issues"] == []


# --- 2. --allow-clear names are checked -----------------------------------------------------


@pytest.mark.parametrize("name", ["bogus", "telephon", "custom:"])
def test_allow_clear_of_an_unknown_name_exits_2_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], name: str
) -> None:
    for command in ("plan", "push"):
        result = cli(
            command,
            str(EXPORT),
            "--yes" if command == "push" else "--redact",
            "--allow-clear",
            name,
            env=sandbox_env,
        )

        assert result.exit_code == 2, result.stdout + result.stderr
        assert repr(name) in result.stderr
    assert sandbox.requests() == []


def test_allow_clear_of_an_unknown_field_lists_the_valid_names(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    result = cli("plan", str(EXPORT), "--allow-clear", "telephon", env=sandbox_env)

    assert result.exit_code == 2
    assert " ".join(result.stderr.split()) == (
        f"Error: --allow-clear 'telephon' is not a field that can be cleared. Use one of: "
        f"{CLEAR_NAMES_HINT}."
    )
    assert "middle_name, preferred_name, telephone, date_of_birth" in CLEAR_NAMES_HINT


@pytest.mark.parametrize("name", ["first_name", "last_name", "Email"])
def test_allow_clear_of_a_required_field_is_refused_as_never_cleared(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], name: str
) -> None:
    result = cli("plan", str(EXPORT), "--allow-clear", name, env=sandbox_env)

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert message.startswith(
        f"Error: --allow-clear {name!r}: {name.lower()} is required by Communal, so it is "
        "never cleared. Drop it;"
    )
    assert sandbox.requests() == []


def test_allow_clear_ignores_the_case_of_a_standard_name(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = plan_json(
        cli, sandbox_env, str(EXPORT), "--allow-clear", " Middle_Name ", report=tmp_path / "r.json"
    )

    assert report["plan"]["options"]["allow_clear"] == ["middle_name"]
    assert report["counts"]["clears"] == 1
    (isabel,) = [u for u in report["plan"]["users"] if u["user_id"] == 109]
    assert [(c["field"], c["before"], c["after"]) for c in isabel["changes"]] == [
        ("middle_name", "Lucía", None)
    ]


@pytest.mark.parametrize(
    "spelling", ["custom:dietary needs", "custom:DIETARY NEEDS", "Custom:Dietary needs"]
)
def test_allow_clear_of_a_custom_field_ignores_case_and_clears_it(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, spelling: str
) -> None:
    report = plan_json(
        cli,
        sandbox_env,
        str(CUSTOM_EXPORT),
        "--custom-fields",
        "--allow-clear",
        spelling,
        report=tmp_path / "r.json",
    )
    pushed = cli(
        "push",
        str(CUSTOM_EXPORT),
        "--yes",
        "--custom-fields",
        "--allow-clear",
        spelling,
        env=sandbox_env,
    )

    assert report["plan"]["options"]["allow_clear"] == ["custom:Dietary needs"]
    (bruno,) = [u for u in report["plan"]["users"] if u["user_id"] == 102]
    assert [(c["field"], c["before"], c["after"]) for c in bruno["changes"]] == [
        ("custom:Dietary needs", "Vegetarian", None)
    ]
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    bruno_values = [
        (v["custom_profile_field_id"], v["value"])
        for v in sandbox.state()["custom_profile_field_values"]
        if v["user_id"] == 102
    ]
    assert bruno_values == [(1, "L")], "Vegetarian cleared (the sandbox drops the record)"


def test_allow_clear_of_an_unknown_custom_field_exits_2_listing_the_writable_ones(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli(
        "plan",
        str(CUSTOM_EXPORT),
        "--custom-fields",
        "--allow-clear",
        "custom:t-shrt size",
        env=sandbox_env,
    )

    assert result.exit_code == 2, result.stdout + result.stderr
    assert " ".join(result.stderr.split()) == (
        f"Error: --allow-clear 'custom:t-shrt size' is not a custom profile field in Communal. "
        f"Use one of: {CLEAR_NAMES_HINT} (the writable custom fields are: custom:Dietary "
        "needs, custom:T-shirt size; names ignore case)."
    )
    assert writes(sandbox) == []
    assert not any(e["path"].startswith("/api/users/") for e in sandbox.requests())


def test_allow_clear_of_a_custom_field_without_a_column_is_accepted(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = plan_json(
        cli,
        sandbox_env,
        str(EXPORT),
        "--allow-clear",
        "custom:t-shirt SIZE",
        report=tmp_path / "r.json",
    )

    assert report["plan"]["options"]["allow_clear"] == ["custom:T-shirt size"]
    assert report["counts"]["clears"] == 0


@pytest.mark.parametrize("extra", [(), ("--custom-fields",)])
def test_allow_clear_of_a_locked_custom_field_is_refused(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], extra: tuple[str, ...]
) -> None:
    export = CUSTOM_EXPORT if extra else EXPORT
    result = cli(
        "plan", str(export), *extra, "--allow-clear", "custom:membership TIER", env=sandbox_env
    )

    assert result.exit_code == 2, result.stdout + result.stderr
    assert " ".join(result.stderr.split()) == (
        "Error: --allow-clear 'custom:Membership tier': that custom field is locked in "
        "Communal, so it is never written, nor cleared. Drop it from --allow-clear."
    )
    assert writes(sandbox) == []


def test_allow_clear_of_a_custom_field_with_custom_fields_off_is_refused(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli(
        "plan",
        str(CUSTOM_EXPORT),
        "--no-custom-fields",
        "--allow-clear",
        "custom:Dietary needs",
        env=sandbox_env,
    )

    assert result.exit_code == 2
    assert "custom fields are off" in " ".join(result.stderr.split())
    assert sandbox.requests() == []


# --- 3. locked custom fields are reported per user ------------------------------------------


LOCKED_ONLY = (
    "id,first_name,last_name,email,custom:membership tier\n"
    "101,Amara,Okafor,amara.okafor@example.org,Platinum\n"
)
"""Amara's locked Membership tier, and nothing else that differs."""


def test_locked_field_difference_is_reported_for_the_user_in_the_terminal_plan(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    result = cli("plan", str(CUSTOM_EXPORT), "--custom-fields", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        f"Plan for {CUSTOM_EXPORT}: 3 users to update, 2 unchanged, 1 locked field not written"
    )
    amara = result.stdout.split("User 101 ")[1].split("User 102 ")[0]
    (row,) = [line for line in amara.splitlines() if "custom:Membership tier" in line]
    assert row.startswith("  custom:Membership tier: Gold → Platinum  [NOT WRITTEN: locked in")


def test_locked_field_difference_is_in_every_report_format(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    reports = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "csv", "md", "html")}
    for path in reports.values():
        result = cli(
            "plan", str(CUSTOM_EXPORT), "--custom-fields", "--report", str(path), env=sandbox_env
        )
        assert result.exit_code == 0, result.stdout + result.stderr

    document = json.loads(reports["json"].read_text(encoding="utf-8"))
    assert document["counts"]["locked_fields"] == 1
    (amara,) = [u for u in document["plan"]["users"] if u["user_id"] == 101]
    assert amara["skipped"] == [
        {
            "field": "custom:Membership tier",
            "source": "Platinum",
            "current": "Gold",
            "reason": LOCKED_REASON,
        }
    ]
    assert amara["source_hash"] is None, "reported again next run, not skipped by its hash"
    rows = list(csv.reader(io.StringIO(reports["csv"].read_text(encoding="utf-8-sig"))))
    assert [r for r in rows if r[3] == "custom:Membership tier"] == [
        [
            "101",
            "2",
            "Amara Okafor",
            "custom:Membership tier",
            "Gold",
            "Platinum",
            "",
            LOCKED_REASON,
            "locked: not written",
        ]
    ]
    markdown = reports["md"].read_text(encoding="utf-8")
    locked_section = markdown.split("## Locked fields (not written)\n")[1].split("## ")[0]
    assert "| 101 | 2 | custom:Membership tier | Gold | Platinum | locked in Communal:" in (
        locked_section
    )
    html = reports["html"].read_text(encoding="utf-8")
    assert (
        "<h2>Locked fields (not written)</h2>\n<table>" in html
        and "<td>custom:Membership tier</td><td>Gold</td><td>Platinum</td>" in html
    )


def test_locked_field_values_are_masked_with_redact(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    outputs = []
    for fmt in ("json", "csv", "md", "html"):
        path = tmp_path / f"r.{fmt}"
        result = cli(
            "plan",
            str(CUSTOM_EXPORT),
            "--custom-fields",
            "--redact",
            "--report",
            str(path),
            env=sandbox_env,
        )
        assert result.exit_code == 0
        outputs += [result.stdout, path.read_text(encoding="utf-8-sig")]

    for text in outputs:
        assert "Platinum" not in text and "Gold" not in text
        assert "custom:Membership tier" in text
    document = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    (amara,) = [u for u in document["plan"]["users"] if u["user_id"] == 101]
    assert [(s["source"], s["current"]) for s in amara["skipped"]] == [(REDACTED, REDACTED)]


def test_user_with_only_a_locked_difference_is_reported_every_run_and_exits_0(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write(tmp_path / "tier.csv", LOCKED_ONLY)

    first = cli("push", str(export), "--yes", env=sandbox_env)
    again = cli("plan", str(export), "--detailed-exitcode", env=sandbox_env)

    assert first.exit_code == 0, first.stdout + first.stderr
    assert writes(sandbox) == []
    assert again.exit_code == 0, again.stdout + again.stderr
    for result in (first, again):
        assert result.stdout.splitlines()[0] == (
            f"Plan for {export}: 0 users to update, 0 unchanged, 1 locked field not written"
        )
    tier = [v["value"] for v in sandbox.state()["custom_profile_field_values"] if v["id"] == 4]
    assert tier == ["Gold"]


@pytest.mark.parametrize("cell", ["Gold", " Gold ", ""])
def test_locked_field_equal_to_communal_or_blank_is_not_reported(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, cell: str
) -> None:
    export = write(tmp_path / "tier.csv", LOCKED_ONLY.replace("Platinum", cell))

    report = plan_json(cli, sandbox_env, str(export), report=tmp_path / "r.json")

    assert report["summary"] == "0 users to update, 1 unchanged"
    assert report["plan"]["users"] == []


# --- 4. no output may replace the input -----------------------------------------------------


def copy_of_export(tmp_path: Path) -> Path:
    path = tmp_path / "fx.csv"
    path.write_bytes(EXPORT.read_bytes())
    return path


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("plan", "--report"),
        ("plan", "--out"),
        ("push", "--report"),
        ("push", "--failed-out"),
        ("validate", "--errors-out"),
    ],
)
def test_output_option_naming_the_input_file_exits_2_and_leaves_it_intact(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, command: str, flag: str
) -> None:
    export = copy_of_export(tmp_path)
    extra = ("--yes",) if command == "push" else ()

    result = cli(command, str(export), *extra, flag, str(export), env=sandbox_env)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert " ".join(result.stderr.split()) == (
        f"Error: {flag} {str(export)!r} is the input file {str(export)!r}: writing it would "
        f"destroy the input. Give {flag} another file name."
    )
    assert export.read_bytes() == EXPORT.read_bytes()
    assert sandbox.requests() == []


def test_output_naming_the_input_by_another_path_or_a_link_is_refused(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export = copy_of_export(tmp_path)
    (tmp_path / "sub").mkdir()
    symlink = tmp_path / "link.csv"
    symlink.symlink_to(export)
    hardlink = tmp_path / "hard.csv"
    os.link(export, hardlink)
    monkeypatch.chdir(tmp_path)
    spellings = ["fx.csv", "./sub/../fx.csv", str(symlink), str(hardlink)]

    codes = [
        cli("plan", str(export), "--report", spelling, env=sandbox_env).exit_code
        for spelling in spellings
    ]

    assert codes == [2, 2, 2, 2]
    assert export.read_bytes() == EXPORT.read_bytes()
    assert sandbox.requests() == []


def test_report_beside_the_input_and_standard_input_are_still_fine(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = copy_of_export(tmp_path)

    beside = cli("plan", str(export), "--report", str(tmp_path / "fx.csv.csv"), env=sandbox_env)
    piped = cli(
        "plan",
        "-",
        "--report",
        str(tmp_path / "r.json"),
        env=sandbox_env,
        input=EXPORT.read_text(encoding="utf-8"),
    )

    assert beside.exit_code == 3, beside.stdout + beside.stderr  # 105's email is invalid
    assert (tmp_path / "fx.csv.csv").read_text(encoding="utf-8-sig").startswith('"user_id"')
    assert export.read_bytes() == EXPORT.read_bytes()
    assert piped.exit_code == 3, piped.stdout + piped.stderr
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["counts"]["invalid"] == 1
    assert puts_by_user(sandbox) == {}


@pytest.mark.parametrize("target", ["plan", "export"])
@pytest.mark.parametrize("flag", ["--report", "--failed-out"])
def test_apply_refuses_an_output_naming_its_plan_or_the_plans_export(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, flag: str, target: str
) -> None:
    export = copy_of_export(tmp_path)
    plan = tmp_path / "plan.json"
    assert cli("plan", str(export), "--out", str(plan), env=sandbox_env).exit_code == 3
    saved = plan.read_bytes()
    sandbox.clear_requests()
    victim = plan if target == "plan" else export

    result = cli("apply", str(plan), "--yes", flag, str(victim), env=sandbox_env)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "writing it would destroy the input" in " ".join(result.stderr.split())
    assert plan.read_bytes() == saved
    assert export.read_bytes() == EXPORT.read_bytes()
    assert sandbox.requests() == []


def test_two_outputs_naming_one_file_are_refused(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = copy_of_export(tmp_path)
    shared = tmp_path / "out.json"

    result = cli(
        "plan", str(export), "--out", str(shared), "--report", str(shared), env=sandbox_env
    )

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "--out and --report both name" in " ".join(result.stderr.split())
    assert not shared.exists()
    assert sandbox.requests() == []


def test_an_output_naming_the_state_file_is_refused(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = copy_of_export(tmp_path)
    state = tmp_path / "state.db"
    assert cli("push", str(export), "--yes", "--state", str(state), env=sandbox_env).exit_code == 3
    before = state.read_bytes()

    result = cli(
        "push", str(export), "--yes", "--state", str(state), "--report", str(state),
        env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "is the state file" in result.stderr
    assert state.read_bytes() == before


def test_an_output_naming_the_state_file_from_the_environment_is_refused_on_every_command(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = copy_of_export(tmp_path)
    state = tmp_path / "env-state.db"
    env = {**sandbox_env, "COMMUNAL_SYNC_STATE": str(state)}
    plan = tmp_path / "plan.json"
    assert cli("plan", str(export), "--out", str(plan), env=env).exit_code == 3
    assert cli("push", str(export), "--yes", env=env).exit_code == 3
    before = state.read_bytes()
    commands = [
        ("push", str(export), "--yes", "--failed-out", str(state)),
        ("apply", str(plan), "--yes", "--failed-out", str(state)),
        ("apply", str(plan), "--yes", "--report", str(state.with_name("env-state.db.lock"))),
        ("revert", "1", "--yes", "--report", str(state)),
    ]

    for command in commands:
        result = cli(*command, env=env)
        assert result.exit_code == 2, (command, result.stdout + result.stderr)
        assert "is the state file" in result.stderr, command

    assert state.read_bytes() == before
