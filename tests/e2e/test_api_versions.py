"""``--api-version 2026-08-25`` through the real CLI.

The same plan, push and end state as the pinned 2026-03-25, though 2026-08-25 sends null
for every absent date (and its PUT answer adds ``two_factor_enabled``); no warning when
the API answers in the version asked for, and one when it answers in its default.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cli import CliResult
from support.fault_servers import BreakingProxy, Canned, _Handler
from support.paths import SAMPLE_DATA
from support.push import assert_users_equal, users_of

from communal_sync.sandbox import Sandbox

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

EXPORT = SAMPLE_DATA / "crm-export.csv"


def env(sandbox: Sandbox, state: Path) -> dict[str, str]:
    return {
        "COMMUNAL_BASE_URL": sandbox.base_url,
        "COMMUNAL_API_KEY": sandbox.manager_key,
        "COMMUNAL_SYNC_STATE": str(state),
    }


def push(cli: Cli, sandbox: Sandbox, state: Path, *version: str) -> CliResult:
    return cli("push", str(EXPORT), "--custom-fields", "--yes", *version, env=env(sandbox, state))


def test_a_push_as_2026_08_25_plans_and_writes_what_the_pinned_version_does(
    cli: Cli, demo_seed: dict[str, Any], tmp_path: Path
) -> None:
    with Sandbox(demo_seed) as pinned:
        old = push(cli, pinned, tmp_path / "old.db")
        expected = users_of(pinned)
    with Sandbox(demo_seed) as newer:
        new = push(cli, newer, tmp_path / "new.db", "--api-version", "2026-08-25")
        nulls = httpx.get(
            f"{newer.base_url}/users/104",
            headers={"X-Api-Version": "2026-08-25", "Authorization": f"Bearer {newer.manager_key}"},
        )
        versions = {(e["api_version"], e["path"].split("/")[2]) for e in newer.requests()}
        actual = users_of(newer)

    assert nulls.json()["date_of_birth"] is None, "the case this test is about"
    assert (new.exit_code, old.exit_code) == (3, 3), new.stdout + new.stderr
    assert new.stdout == old.stdout
    assert "Warning" not in new.stderr
    assert_users_equal(actual, expected)
    assert {version for version, _ in versions} == {"2026-08-25"}


def test_the_user_command_as_2026_08_25_shows_an_absent_date_as_it_came(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("user", "104", "--json", "--api-version", "2026-08-25", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout)["user"]
    assert (shown["id"], shown["first_name"]) == (104, "Dana")
    assert shown["date_of_birth"] is None
    assert result.stderr == ""


def test_an_answer_in_the_servers_default_version_is_a_warning(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    class DroppingVersion(BreakingProxy):
        """Drops X-Api-Version, as some gateways do: the API answers in its default."""

        def _respond(self, handler: _Handler, body: bytes) -> Canned | None:
            del handler.headers["X-Api-Version"]
            return super()._respond(handler, body)

    with DroppingVersion(sandbox.root_url) as proxy:
        result = cli(
            "user", "101",
            env={**env(sandbox, tmp_path / "s.db"), "COMMUNAL_BASE_URL": proxy.base_url},
        )  # fmt: skip

    assert result.exit_code == 0, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Warning: ")
    assert "default" in line and "2026-03-25" in line, line
