"""Custom profile fields end to end: the real CLI against the sandbox, exact end states.

``export.csv`` (against the demo organization, with ``--custom-fields`` and
``--allow-clear "custom:Dietary needs"``) changes standard fields and two custom fields:

- 101 Amara: telephone; T-shirt size M -> L (update); Dietary needs -> Vegan (create);
  Membership tier is locked, so its "Platinum" is reported and never written.
- 102 Bruno: T-shirt size L unchanged; Dietary needs Vegetarian cleared (blank cell).
- 103 Chen: preferred name; T-shirt size S created (he had no value yet).
- 104 Dana: nothing changes (blank custom cells, no value to clear).
- 113 Nadia: preferred name; T-shirt size and Dietary needs created (no value at all yet).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from communal_sync.api.client import CommunalClient
from communal_sync.applying.apply import apply_plan
from communal_sync.hashing import file_sha256
from communal_sync.intake.pipeline import IntakeOptions, open_intake
from communal_sync.plan import Plan, PlanOptions
from communal_sync.planning.custom_fields import prepare_custom_fields
from communal_sync.planning.planner import build_plan
from communal_sync.sandbox import Faults, Sandbox
from communal_sync.state import open_state

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "data" / "custom"
EXPORT = DATA / "export.csv"
CUSTOM_ON = ("--custom-fields", "--allow-clear", "custom:Dietary needs")
LOCKED_WARNING = (
    "Warning: Custom field 'Membership tier' is locked in Communal: its column is read but "
    "never written."
)
SEED_VALUE_IDS = 4
"""The demo organization's values have ids 1-4; a value created by a test gets a new one."""

Values = list[tuple[int | None, int, int, str]]

SEED_VALUES: Values = [
    (1, 101, 1, "M"),
    (4, 101, 3, "Gold"),
    (2, 102, 1, "L"),
    (3, 102, 2, "Vegetarian"),
]
PUSHED_VALUES: Values = [
    (1, 101, 1, "L"),
    (None, 101, 2, "Vegan"),
    (4, 101, 3, "Gold"),
    (2, 102, 1, "L"),
    (None, 103, 1, "S"),
    (None, 113, 1, "XL"),
    (None, 113, 2, "Halal"),
]
STANDARD_CHANGES = {
    101: {"telephone": "+1 416 555 0199"},
    103: {"preferred_name": "CJ"},
    113: {"preferred_name": "Nad"},
}


def values_of(sandbox: Sandbox) -> Values:
    """(id, user, field, value) per stored value by user and field; a new value's id is None."""
    rows = [
        (
            v["id"] if v["id"] <= SEED_VALUE_IDS else None,
            v["user_id"],
            v["custom_profile_field_id"],
            v["value"],
        )
        for v in sandbox.state()["custom_profile_field_values"]
    ]
    return sorted(rows, key=lambda r: (r[1], r[2]))


def users_of(sandbox: Sandbox) -> dict[int, dict[str, Any]]:
    """Every user by id, every field but the ``updated_at`` each write moves."""
    return {
        u["id"]: {k: v for k, v in u.items() if k != "updated_at"} for u in sandbox.state()["users"]
    }


def with_changes(
    users: dict[int, dict[str, Any]], changes: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    expected = {user_id: dict(fields) for user_id, fields in users.items()}
    for user_id, fields in changes.items():
        expected[user_id].update(fields)
    return expected


def writes(sandbox: Sandbox) -> list[tuple[str, str, Any]]:
    return sorted(
        (e["method"], e["path"], json.dumps(e["body"], sort_keys=True, ensure_ascii=False))
        for e in sandbox.requests()
        if e["method"] != "GET"
    )


def paths(sandbox: Sandbox) -> list[str]:
    return sorted(f"{e['method']} {e['path']}" for e in sandbox.requests())


def summary_line(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("Run ")]
    return line


def body(**fields: Any) -> str:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def trio(user_id: int) -> dict[str, str]:
    first, last, email = {
        101: ("Amara", "Okafor", "amara.okafor@example.org"),
        103: ("Chen", "Wei", "chen.wei@example.org"),
        113: ("Nadia", "Rahman", "nadia.rahman@example.org"),
    }[user_id]
    return {"first_name": first, "last_name": last, "email": email}


def value_body(user_id: int, field_id: int, value: str) -> str:
    return body(value=value, user_id=user_id, custom_profile_field_id=field_id)


def test_push_writes_standard_and_custom_fields_and_reports_them(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    users_before = users_of(sandbox)
    assert values_of(sandbox) == SEED_VALUES

    result = cli(
        "push",
        str(EXPORT),
        "--yes",
        *CUSTOM_ON,
        "--report",
        str(tmp_path / "r.json"),
        env=sandbox_env,
    )

    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary_line(result.stdout) == "Run 1: 4 users updated, 1 unchanged"
    assert LOCKED_WARNING in result.stderr.splitlines()
    assert users_of(sandbox) == with_changes(users_before, STANDARD_CHANGES)
    assert values_of(sandbox) == PUSHED_VALUES
    assert writes(sandbox) == sorted(
        [
            ("PUT", "/api/users/101", body(**trio(101), telephone="+1 416 555 0199")),
            ("PUT", "/api/users/103", body(**trio(103), preferred_name="CJ")),
            ("PUT", "/api/users/113", body(**trio(113), preferred_name="Nad")),
            ("PUT", "/api/custom_profile_field_values/1", value_body(101, 1, "L")),
            ("PUT", "/api/custom_profile_field_values/3", value_body(102, 2, "")),
            ("POST", "/api/custom_profile_field_values", value_body(101, 2, "Vegan")),
            ("POST", "/api/custom_profile_field_values", value_body(103, 1, "S")),
            ("POST", "/api/custom_profile_field_values", value_body(113, 1, "XL")),
            ("POST", "/api/custom_profile_field_values", value_body(113, 2, "Halal")),
        ]
    )
    assert {e["status"] for e in sandbox.requests()} == {200}

    report = json.loads((tmp_path / "r.json").read_text())
    custom_changes = {
        u["user_id"]: [
            (c["field"], c["before"], c["after"])
            for c in u["changes"]
            if c["field"].startswith("custom:")
        ]
        for u in report["plan"]["users"]
    }
    assert custom_changes == {
        101: [("custom:T-shirt size", "M", "L"), ("custom:Dietary needs", None, "Vegan")],
        102: [("custom:Dietary needs", "Vegetarian", None)],
        103: [("custom:T-shirt size", None, "S")],
        113: [("custom:T-shirt size", None, "XL"), ("custom:Dietary needs", None, "Halal")],
    }
    operations = {
        u["user_id"]: [(w["name"], w["value_id"], w["value"]) for w in u["custom_writes"]]
        for u in report["plan"]["users"]
    }
    assert operations == {
        101: [("T-shirt size", 1, "L"), ("Dietary needs", None, "Vegan")],
        102: [("Dietary needs", 3, None)],
        103: [("T-shirt size", None, "S")],
        113: [("T-shirt size", None, "XL"), ("Dietary needs", None, "Halal")],
    }
    assert sorted((o["user_id"], o["status"]) for o in report["outcomes"]) == [
        (101, "applied"),
        (102, "applied"),
        (103, "applied"),
        (113, "applied"),
    ]


def test_second_push_of_the_same_file_reads_only_the_user_with_a_locked_difference(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    assert cli("push", str(EXPORT), "--yes", *CUSTOM_ON, env=sandbox_env).exit_code == 0
    sandbox.clear_requests()

    result = cli("push", str(EXPORT), "--yes", *CUSTOM_ON, env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        f"Plan for {EXPORT}: 0 users to update, 4 unchanged, 1 locked field not written"
    )
    assert summary_line(result.stdout) == "Run 2: 0 users updated, 4 unchanged"
    # --custom-fields must read the definitions to know which headers are custom fields;
    # every other row's hash is recorded, so no other user and no value is read or written.
    # Amara's locked Membership tier still differs, so her row is compared (and reported)
    # again rather than skipped.
    assert paths(sandbox) == [
        "GET /api/custom_profile_field_values?filter%5Buser_id%5D=101",
        "GET /api/custom_profile_fields",
        "GET /api/users/101",
    ]
    assert values_of(sandbox) == PUSHED_VALUES


def test_no_custom_fields_sends_no_custom_field_request_at_all(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    users_before = users_of(sandbox)

    result = cli(
        "push", str(DATA / "export_mapped.csv"), "--yes", "--no-custom-fields", env=sandbox_env
    )

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        f"Plan for {DATA / 'export_mapped.csv'}: 1 user to update, 1 unchanged"
    )
    assert paths(sandbox) == ["GET /api/users/101", "GET /api/users/113", "PUT /api/users/101"]
    assert values_of(sandbox) == SEED_VALUES
    assert users_of(sandbox) == with_changes(users_before, {101: {"preferred_name": "Ama"}})


def test_custom_header_resolves_ignoring_case_without_any_flag(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("push", str(DATA / "export_mapped.csv"), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert values_of(sandbox) == [
        (1, 101, 1, "XS"),
        (None, 101, 2, "Vegan"),
        (4, 101, 3, "Gold"),
        (2, 102, 1, "L"),
        (3, 102, 2, "Vegetarian"),
        (None, 113, 1, "XL"),  # Nadia's blank dietary cell creates nothing
    ]


def test_config_turns_header_matching_on_and_the_flag_turns_it_off(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    config = str(DATA / "headers_on.toml")

    on = cli(
        "plan", str(EXPORT), "--config", config, "--out", str(tmp_path / "on.json"), env=sandbox_env
    )
    on_requests = paths(sandbox)
    sandbox.clear_requests()
    off = cli(
        "plan",
        str(EXPORT),
        "--config",
        config,
        "--no-custom-fields",
        "--out",
        str(tmp_path / "off.json"),
        env=sandbox_env,
    )

    assert (on.exit_code, off.exit_code) == (0, 0), on.stderr + off.stderr
    assert "GET /api/custom_profile_fields" in on_requests
    assert [p for p in paths(sandbox) if "custom_profile" in p] == []
    planned_on = Plan.model_validate_json((tmp_path / "on.json").read_text())
    planned_off = Plan.model_validate_json((tmp_path / "off.json").read_text())
    assert (planned_on.options.custom_fields, planned_off.options.custom_fields) == (
        "headers",  # what the config asked for, recorded in the saved plan
        "off",
    )
    assert [(u.user_id, len(u.custom_writes)) for u in planned_on.users] == [
        (101, 2),
        (103, 1),
        (113, 2),
    ]
    assert [(u.user_id, u.custom_writes) for u in planned_off.users] == [
        (101, ()),
        (103, ()),
        (113, ()),
    ]
    assert planned_off.unmapped_columns == ("T-shirt size", "Dietary needs", "Membership tier")


def test_unknown_custom_field_stops_before_anything_but_the_definitions_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli(
        "push",
        str(EXPORT),
        "--yes",
        "--map",
        "T-shirt size=custom:T shirt size",
        env=sandbox_env,
    )

    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert (
        "'T shirt size' is not a custom profile field in Communal. The custom fields there "
        "are: 'Dietary needs', 'Membership tier', 'T-shirt size'."
    ) in message
    assert paths(sandbox) == ["GET /api/custom_profile_fields"]
    assert values_of(sandbox) == SEED_VALUES


def test_revert_restores_the_custom_values(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    users_before = users_of(sandbox)
    assert cli("push", str(EXPORT), "--yes", *CUSTOM_ON, env=sandbox_env).exit_code == 0

    result = cli("revert", "1", "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary_line(result.stdout) == "Run 2: 4 users updated, 0 unchanged"
    assert users_of(sandbox) == users_before
    assert values_of(sandbox) == [
        (1, 101, 1, "M"),
        (4, 101, 3, "Gold"),
        (2, 102, 1, "L"),
        (None, 102, 2, "Vegetarian"),  # cleared by the push, so created again
    ]


def test_custom_value_edited_in_communal_since_the_push_stands(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    """102's T-shirt size was confirmed, not written, by the first push: it is still the base."""
    assert cli("push", str(EXPORT), "--yes", *CUSTOM_ON, env=sandbox_env).exit_code == 0
    edited = httpx.put(
        f"{sandbox.base_url}/custom_profile_field_values/2",
        json={"value": "XXL", "user_id": 102, "custom_profile_field_id": 1},
        headers={"Authorization": f"Bearer {sandbox.manager_key}"},
    )
    assert edited.status_code == 200
    sandbox.clear_requests()

    result = cli("push", str(DATA / "export_next.csv"), "--yes", *CUSTOM_ON, env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert writes(sandbox) == [
        (
            "PUT",
            "/api/users/102",
            body(
                first_name="Bruno",
                last_name="Lefèvre",
                email="bruno.lefevre@example.org",
                telephone="514-555-0199",
            ),
        )
    ]
    assert (2, 102, 1, "XXL") in values_of(sandbox)


def test_push_resume_after_a_post_that_landed_unjournalled_does_not_create_twice(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    export = str(DATA / "chen_shirt.csv")
    state_path = Path(sandbox_env["COMMUNAL_SYNC_STATE"])
    state_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        CommunalClient(sandbox.manager_key, base_url=sandbox.base_url) as api,
        open_state(state_path) as store,
    ):
        intake = open_intake(export, IntakeOptions())
        intake.mapping, custom = prepare_custom_fields(intake.mapping, api, "mapped")
        plan = build_plan(
            intake,
            state=store,
            client=api,
            options=PlanOptions(),
            base_url=sandbox.base_url,
            input_sha256=file_sha256(Path(export)),
            custom=custom,
        )
        run_id = store.journal.start_run(
            "push",
            input_name=export,
            input_sha256=file_sha256(Path(export)),
            plan_json=plan.model_dump_json(),
        )
        sandbox.set_faults(Faults(drop_after_apply_rate=1.0))
        sandbox.clear_requests()
        apply_plan(plan, client=api, store=store, run_id=run_id)  # then the process "dies"
    assert [(e["method"], e["fault"]) for e in sandbox.requests()] == [("POST", "drop_after_apply")]
    sandbox.set_faults(Faults())
    sandbox.clear_requests()

    result = cli("push", export, "--resume", "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"Resuming run {run_id}" in result.stdout
    assert paths(sandbox) == ["GET /api/custom_profile_field_values?filter%5Buser_id%5D=103"]
    assert [v for v in values_of(sandbox) if v[1:3] == (103, 1)] == [(None, 103, 1, "S")]
    with open_state(state_path) as store:
        journal = [(r.operation, r.status) for r in store.journal.results(run_id)]
        assert ("cpfv:103:1", "applied") in journal
        assert store.journal.get_run(run_id).status == "finished"


def test_apply_leaves_alone_a_custom_value_edited_since_planning(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """Amara's T-shirt size was planned M -> L; someone sets XXL first: apply must not clobber."""
    plan = tmp_path / "plan.json"
    assert cli("plan", str(EXPORT), *CUSTOM_ON, "--out", str(plan), env=sandbox_env).exit_code == 0
    edited = httpx.put(
        f"{sandbox.base_url}/custom_profile_field_values/1",
        json={"value": "XXL", "user_id": 101, "custom_profile_field_id": 1},
        headers={"Authorization": f"Bearer {sandbox.manager_key}"},
    )
    assert edited.status_code == 200

    result = cli("apply", str(plan), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert "changed in Communal since the plan was made" in result.stdout
    assert (1, 101, 1, "XXL") in values_of(sandbox)


def test_two_columns_for_one_custom_field_in_any_spelling_are_refused(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "two.csv"
    export.write_text(
        "id,First Name,Last Name,Email,Shirt,Tee\n101,Amara,Okafor,amara.okafor@example.org,L,M\n"
    )

    result = cli(
        "plan", str(export), "--map", "Shirt=custom:T-shirt size",
        "--map", "Tee=custom:t-shirt SIZE", env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 1
    assert "'Shirt', 'Tee' all map to custom:T-shirt size" in result.stderr
    assert [e["method"] for e in sandbox.requests()] == ["GET"]
