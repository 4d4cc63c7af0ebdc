"""``revert RUN`` end to end: restore the before-images exactly, dry-run, and conflicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from support.push import (
    EXPORT,
    EXPORT_CHANGES,
    EXPORT_CLEARS,
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
def pushed(cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]) -> dict[int, dict[str, Any]]:
    """Push the export (clearing 109's middle name too); return the users as before it."""
    before = users_of(sandbox)
    result = cli("push", str(EXPORT), "--yes", "--allow-clear", "middle_name", env=sandbox_env)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert_users_equal(users_of(sandbox), expected_users(before, EXPORT_CHANGES, EXPORT_CLEARS))
    sandbox.clear_requests()
    return before


def test_revert_restores_every_value_the_run_overwrote(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], pushed: dict[int, dict[str, Any]]
) -> None:
    result = cli("revert", "1", "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert_users_equal(users_of(sandbox), pushed)
    reverted = sorted(
        int(e["path"].rsplit("/", 1)[1]) for e in sandbox.requests() if e["method"] == "PUT"
    )
    assert reverted == sorted({*EXPORT_CHANGES, *EXPORT_CLEARS})
    runs = json.loads(cli("runs", "--json", env=sandbox_env).stdout)
    assert [(r["id"], r["kind"], r["status"]) for r in runs] == [
        (2, "revert", "finished"),
        (1, "push", "finished"),
    ]


def test_revert_dry_run_shows_the_plan_and_writes_nothing(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], pushed: dict[int, dict[str, Any]]
) -> None:
    after_push = users_of(sandbox)

    result = cli("revert", "1", "--dry-run", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert "Whitfield-Boyd" in result.stdout
    assert "Lucía" in result.stdout
    assert_users_equal(users_of(sandbox), after_push)


def test_revert_leaves_alone_a_field_changed_again_since_the_run(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], pushed: dict[int, dict[str, Any]]
) -> None:
    edit_in_communal(sandbox, 101, telephone="+1 416 555 4242")
    edit_in_communal(sandbox, 104, last_name="Boyd")
    sandbox.clear_requests()

    result = cli("revert", "1", "--yes", env=sandbox_env)

    # 3: the conflicts were left alone and reported, which needs the administrator's eye.
    assert result.exit_code == 3, result.stdout + result.stderr
    expected = dict(pushed)
    expected[101] = {**pushed[101], "telephone": "+1 416 555 4242"}
    # 104's last name stays as edited; its date of birth, untouched since, is restored.
    expected[104] = {**pushed[104], "last_name": "Boyd", "name": "Dana Boyd"}
    assert_users_equal(users_of(sandbox), expected)
    assert "conflict" in result.stdout.lower()
    assert "/api/users/101" not in {e["path"] for e in sandbox.requests() if e["method"] == "PUT"}


def test_revert_of_an_unknown_run_is_a_usage_error(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("revert", "7", "--yes", env=sandbox_env)

    assert result.exit_code == 2
    assert "There is no run 7" in result.stderr
    assert sandbox.requests() == []


def test_revert_compares_telephones_in_the_region_the_run_was_planned_with(
    cli: Cli, tmp_path: Any
) -> None:
    """The reverted run read "(416) 555-0101" in region CA; Communal stores E.164. Someone
    already put the old number back ("+14165550101"): in region CA that is the value the
    revert would restore, so it plans nothing for it and sends nothing."""
    seed = {
        "api_keys": [{"key": "k", "user_id": 1, "manager": True}],
        "users": [
            {"id": 1, "first_name": "Sam", "last_name": "Admin", "email": "admin@example.org"},
            {
                "id": 7,
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.org",
                "telephone": "(416) 555-0101",
            },
        ],
    }
    export = tmp_path / "phones.csv"
    export.write_text(
        "id,first_name,last_name,email,Mobile\n7,Ada,Lovelace,ada@example.org,(416) 555-0199\n"
    )
    with Sandbox(seed, telephone_region="CA") as sandbox:
        env = {
            "COMMUNAL_BASE_URL": sandbox.base_url,
            "COMMUNAL_API_KEY": "k",
            "COMMUNAL_SYNC_STATE": str(tmp_path / "state.db"),
        }
        pushed = cli("push", str(export), "--yes", "--default-region", "CA", env=env)
        assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
        assert users_of(sandbox)[7]["telephone"] == "+14165550199"
        edit_in_communal(sandbox, 7, telephone="+14165550101")
        sandbox.clear_requests()

        report = tmp_path / "revert.json"
        result = cli("revert", "1", "--yes", "--report", str(report), env=env)

        assert result.exit_code == 0, result.stdout + result.stderr
        document = json.loads(report.read_text())
        assert document["plan"]["options"]["default_region"] == "CA"
        assert document["counts"]["to_update"] == 0
        assert [e for e in sandbox.requests() if e["method"] == "PUT"] == []
        assert users_of(sandbox)[7]["telephone"] == "+14165550101"
