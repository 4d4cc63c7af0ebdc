"""``communal-sync doctor`` against a sandbox over loopback: one line per check, exit 0 or 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.push import MEMBER_KEY

from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]


def lines(result: CliResult) -> list[str]:
    return result.stdout.splitlines()


def test_a_manager_key_passes_every_check(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    state = sandbox_env["COMMUNAL_SYNC_STATE"]

    result = cli("doctor", env=sandbox_env)

    assert result.exit_code == 0, result.stdout
    assert lines(result) == [
        "ok      config file: none (no ./communal-sync.toml); built-in defaults apply. "
        "`communal-sync init SAMPLE.csv` writes one.",
        "ok      API key: set, from COMMUNAL_API_KEY.",
        f"ok      base URL: {sandbox.base_url} (from COMMUNAL_BASE_URL).",
        "ok      key accepted: GET /custom_profile_fields answered 200.",
        "ok      API version: 2026-03-25, as asked; not deprecated.",
        "ok      role: manager: the API allowed a manager-only filter (GET /program_signups "
        "with filter[signup_status]); the key may update every user.",
        f"ok      state file: {state} (not created yet: the first push creates it).",
        "Everything is in place.",
    ]
    assert not Path(state).exists(), "doctor must not create the state file"
    assert sandbox.manager_key not in result.stdout + result.stderr


def test_only_read_requests_are_sent(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    cli("doctor", env=sandbox_env)

    assert {entry["method"] for entry in sandbox.requests()} == {"GET"}


def test_a_member_key_is_a_problem_and_exits_1(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("doctor", env={**sandbox_env, "COMMUNAL_API_KEY": MEMBER_KEY})

    assert result.exit_code == 1
    assert (
        "problem role: member: the API refused (403) a manager-only filter. A member key may "
        "read and update only its own user; use a manager key to sync other people."
    ) in lines(result)
    assert lines(result)[-1] == "1 problem: fix it and run `communal-sync doctor` again."
    assert MEMBER_KEY not in result.stdout + result.stderr


def test_a_wrong_key_is_not_accepted(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("doctor", env={**sandbox_env, "COMMUNAL_API_KEY": "not-a-real-key"})

    assert result.exit_code == 1
    assert (
        "problem key accepted: no: the API answered 401 to GET /custom_profile_fields. The key "
        "is wrong or revoked: check COMMUNAL_API_KEY or --api-key-file."
    ) in lines(result)
    assert "not-a-real-key" not in result.stdout + result.stderr


def test_no_key_says_how_to_set_one(cli: Cli, sandbox_env: dict[str, str]) -> None:
    env = {k: v for k, v in sandbox_env.items() if k != "COMMUNAL_API_KEY"}

    result = cli("doctor", env=env)

    assert result.exit_code == 1
    assert "problem API key: not set. Set COMMUNAL_API_KEY or pass --api-key-file PATH." in lines(
        result
    )
    assert "problem key accepted: not checked: fix the key and the base URL first." in lines(result)


def test_a_key_file_is_named_but_its_key_never_shown(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "communal.key"
    key_file.write_text(sandbox.manager_key + "\n")
    env = {k: v for k, v in sandbox_env.items() if k != "COMMUNAL_API_KEY"}

    result = cli("doctor", "--api-key-file", str(key_file), env=env)

    assert result.exit_code == 0, result.stdout
    assert f"ok      API key: set, from --api-key-file {key_file}." in lines(result)
    assert sandbox.manager_key not in result.stdout + result.stderr


def test_a_deprecated_version_is_a_problem(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("doctor", "--api-version", "2026-02-01", env=sandbox_env)

    assert result.exit_code == 1
    version_line = next(line for line in lines(result) if "API version" in line)
    assert version_line.startswith(
        "problem API version: The Communal API warns about version 2026-02-01: API version "
        "2026-02-01 is deprecated"
    )
    assert "It will stop working after Wed, 01 Jul 2026 00:00:00 GMT." in version_line


def test_a_state_file_bound_to_another_api_is_a_problem(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "other.db"
    with open_state(state) as store:
        store.binding.bind("https://api.getcommunal.com/api")

    result = cli("doctor", "--state", str(state), env=sandbox_env)

    assert result.exit_code == 1
    assert (
        f"problem state file: {state} is bound to https://api.getcommunal.com/api, but this "
        "talks to a local sandbox (loopback): its identity map is another organization's. "
        "Pass --state (or set COMMUNAL_SYNC_STATE)."
    ) in lines(result)


def test_a_state_file_bound_to_this_api_is_named_with_its_binding(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "sandbox.db"
    with open_state(state) as store:
        store.binding.bind("a local sandbox (loopback)")

    result = cli("doctor", "--state", str(state), env=sandbox_env)

    assert result.exit_code == 0
    assert f"ok      state file: {state}, bound to a local sandbox (loopback)." in lines(result)


def test_the_config_file_found_is_named_and_a_bad_one_is_a_problem(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "communal-sync.toml").write_text('[mapping]\n"Member No" = "external_id"\n')

    good = cli("doctor", env=sandbox_env)
    (tmp_path / "communal-sync.toml").write_text("[mapping]\nMember = \n")
    bad = cli("doctor", env=sandbox_env)

    assert good.exit_code == 0
    config = tmp_path / "communal-sync.toml"
    assert lines(good)[0] == f"ok      config file: {config} (1 column mapping)."
    assert bad.exit_code == 1
    assert lines(bad)[0].startswith(f"problem config file: {config}, line 2: not valid TOML")


def test_sandbox_flag_works_with_no_key_set(cli: Cli) -> None:
    result = cli("doctor", "--sandbox")

    assert result.exit_code == 0, result.stdout
    assert "ok      API key: set: the embedded sandbox's manager key." in lines(result)


def test_json_output_has_every_check_and_the_facts(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("doctor", "--json", env={**sandbox_env, "COMMUNAL_API_KEY": MEMBER_KEY})

    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["ok"] is False
    assert [c["name"] for c in document["checks"]] == [
        "config file",
        "API key",
        "base URL",
        "key accepted",
        "API version",
        "role",
        "state file",
    ]
    assert document["role"] == "member"
    assert document["key_source"] == "COMMUNAL_API_KEY"
    assert document["base_url"] == sandbox.base_url
    assert document["api_version_asked"] == document["api_version_served"] == "2026-03-25"
    assert MEMBER_KEY not in result.stdout


def test_sandbox_with_a_state_bound_elsewhere_is_a_problem(cli: Cli, tmp_path: Path) -> None:
    state = tmp_path / "real.db"
    with open_state(state) as store:
        store.binding.bind("https://api.getcommunal.com/api")

    result = cli("doctor", "--sandbox", "--state", str(state))

    assert result.exit_code == 1
    assert any(
        line.startswith(f"problem state file: {state} is bound to https://api.getcommunal.com")
        for line in lines(result)
    )


def test_a_file_that_is_not_a_state_file_is_a_problem_and_left_alone(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "notes.db"
    state.write_text("not sqlite", encoding="utf-8")

    result = cli("doctor", "--state", str(state), env=sandbox_env)

    assert result.exit_code == 1
    assert any(
        line.startswith(
            f"problem state file: The state file {state} is not a communal-sync state database"
        )
        for line in lines(result)
    )
    assert state.read_text(encoding="utf-8") == "not sqlite"
    assert not (tmp_path / "notes.db.lock").exists()
