"""``user`` and ``fields`` end to end against the sandbox: success and every API error path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from communal_sync.sandbox import SUPPORTED_VERSIONS, Sandbox

Cli = Callable[..., Any]

FAKE_KEY = "sk_live_FAKE-7f3a9c-DO-NOT-PRINT"
MEMBER_KEY = "sandbox-member-key"  # user 104 in communal_sync/sandbox/demo_organization.json

AMARA = {
    "id": 101,
    "name": "Amara Okafor",
    "first_name": "Amara",
    "last_name": "Okafor",
    "middle_name": "",
    "preferred_name": "",
    "email": "amara.okafor@example.org",
    "telephone": "+1 416 555 0101",
    "date_of_birth": "1984-03-12T00:00:00.000000Z",
    "created_at": "2025-09-01T12:00:00.000000Z",
    "updated_at": "2026-01-15T09:30:00.000000Z",
}
FIELD_NAMES = ["T-shirt size", "Dietary needs", "Membership tier"]


def table_rows(stdout: str) -> list[list[str]]:
    """The body rows of a rich table as lists of cell texts (header rows use ┃, not │)."""
    rows = []
    for text in stdout.splitlines():
        if "│" in text:
            rows.append([cell.strip() for cell in text.split("│")[1:-1]])
    return rows


def requests_of(sandbox: Sandbox) -> list[tuple[str, str, int | None]]:
    return [(r["method"], r["path"], r["status"]) for r in sandbox.requests()]


def assert_fatal(result: Any, *fragments: str) -> None:
    """Exit 1, nothing on stdout, one "Error:" line on stderr holding every fragment."""
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Record (and refuse) any request that reaches httpx's real transport."""
    sent: list[httpx.Request] = []

    def refuse(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise AssertionError(f"unexpected request to {request.url}")

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", refuse)
    return sent


# --- success ----------------------------------------------------------------------------------


def test_user_table_shows_profile_and_custom_fields(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("user", "101", env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].strip() == "User 101"
    assert table_rows(result.stdout) == [
        ["id", "101"],
        ["name", "Amara Okafor"],
        ["first_name", "Amara"],
        ["last_name", "Okafor"],
        ["email", "amara.okafor@example.org"],
        ["middle_name", ""],
        ["preferred_name", ""],
        ["telephone", "+1 416 555 0101"],
        ["date_of_birth", "1984-03-12T00:00:00.000000Z"],
        ["updated_at", "2026-01-15T09:30:00.000000Z"],
        ["custom:Membership tier", "Gold"],
        ["custom:T-shirt size", "M"],
    ]
    assert "Address fields are not returned by GET /users/{id}" in result.stdout
    assert requests_of(sandbox) == [
        ("GET", "/api/users/101", 200),
        ("GET", "/api/custom_profile_fields", 200),
        ("GET", "/api/custom_profile_field_values?filter%5Buser_id%5D=101", 200),
    ]


def test_user_json_is_the_profile_and_custom_fields(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("user", "101", "--json", env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "user": AMARA,
        "custom_fields": {"T-shirt size": "M", "Membership tier": "Gold"},
    }


def test_fields_table_lists_definitions_with_their_map_option(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("fields", env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    assert table_rows(result.stdout) == [
        ["1", "T-shirt size", "no", "yes", '--map "Column=custom:T-shirt size"'],
        ["2", "Dietary needs", "no", "yes", '--map "Column=custom:Dietary needs"'],
        ["3", "Membership tier", "yes", "yes", '--map "Column=custom:Membership tier"'],
    ]
    assert requests_of(sandbox) == [("GET", "/api/custom_profile_fields", 200)]


def test_fields_json_is_the_definitions(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("fields", "--json", env=sandbox_env)

    assert result.exit_code == 0, result.stderr
    definitions = json.loads(result.stdout)
    assert [(d["id"], d["name"], d["locked"]) for d in definitions] == [
        (1, "T-shirt size", False),
        (2, "Dietary needs", False),
        (3, "Membership tier", True),
    ]


def test_member_key_may_read_its_own_user(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    env = {**sandbox_env, "COMMUNAL_API_KEY": MEMBER_KEY}

    result = cli("user", "104", "--json", env=env)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["user"]["email"] == "dana.whitfield@example.org"


def test_api_key_file_is_read_and_stripped(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "communal.key"
    key_file.write_text(sandbox.manager_key + "\n")
    env = {k: v for k, v in sandbox_env.items() if k != "COMMUNAL_API_KEY"}

    result = cli("fields", "--json", "--api-key-file", str(key_file), env=env)

    assert result.exit_code == 0, result.stderr
    assert [d["name"] for d in json.loads(result.stdout)] == FIELD_NAMES


def test_base_url_option_beats_the_environment(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    env = {**sandbox_env, "COMMUNAL_BASE_URL": "https://api.invalid/api"}

    result = cli("fields", "--json", "--base-url", sandbox.base_url, env=env)

    assert result.exit_code == 0, result.stderr
    assert len(sandbox.requests()) == 1


def test_sandbox_flag_alone_serves_user_101(cli: Cli) -> None:
    result = cli("user", "101", "--sandbox", "--json")  # the fixture removed key and base URL

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["user"] == AMARA


def test_sandbox_flag_alone_serves_fields(cli: Cli) -> None:
    result = cli("fields", "--sandbox", "--json")

    assert result.exit_code == 0, result.stderr
    assert [d["name"] for d in json.loads(result.stdout)] == FIELD_NAMES


def test_sandbox_flag_user_table(cli: Cli) -> None:
    result = cli("user", "101", "--sandbox")

    assert result.exit_code == 0, result.stderr
    assert ["email", "amara.okafor@example.org"] in table_rows(result.stdout)


# --- API errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["user", "101"], ["fields"], ["user", "101", "--json"]])
def test_wrong_key_is_401_names_the_variable_and_never_the_key(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], args: list[str]
) -> None:
    env = {**sandbox_env, "COMMUNAL_API_KEY": FAKE_KEY}

    result = cli(*args, env=env)

    assert_fatal(result, "401", "COMMUNAL_API_KEY")
    assert FAKE_KEY not in result.stdout + result.stderr
    assert [status for _, _, status in requests_of(sandbox)] == [401]


def test_wrong_key_from_a_file_is_never_printed(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "communal.key"
    key_file.write_text(FAKE_KEY)
    env = {k: v for k, v in sandbox_env.items() if k != "COMMUNAL_API_KEY"}

    result = cli("user", "101", "--api-key-file", str(key_file), env=env)

    assert_fatal(result, "401")
    assert FAKE_KEY not in result.stdout + result.stderr


def test_member_key_asking_for_another_user_is_403_and_needs_a_manager(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    env = {**sandbox_env, "COMMUNAL_API_KEY": MEMBER_KEY}

    result = cli("user", "101", env=env)

    assert_fatal(result, "403", "user 101", "manager")
    assert MEMBER_KEY not in result.stderr
    assert requests_of(sandbox) == [("GET", "/api/users/101", 403)]


def test_unknown_user_is_404(cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]) -> None:
    result = cli("user", "999", env=sandbox_env)

    assert_fatal(result, "404", "user 999")
    assert requests_of(sandbox) == [("GET", "/api/users/999", 404)]


@pytest.mark.parametrize("args", [["user", "101"], ["fields"]])
def test_unsupported_api_version_is_400_listing_the_supported_ones(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], args: list[str]
) -> None:
    result = cli(*args, "--api-version", "2020-01-01", env=sandbox_env)

    assert_fatal(result, "--api-version", *SUPPORTED_VERSIONS)
    assert [(r["status"], r["api_version"]) for r in sandbox.requests()] == [(400, "2020-01-01")]


def test_api_version_that_is_not_a_date_is_refused_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("user", "101", "--api-version", "latest", env=sandbox_env)

    assert_fatal(result, "'latest' is not a date", "YYYY-MM-DD")
    assert sandbox.requests() == []


@pytest.mark.parametrize("args", [["user", "101"], ["fields"]])
def test_no_key_at_all_says_how_to_set_one(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], args: list[str]
) -> None:
    env = {k: v for k, v in sandbox_env.items() if k != "COMMUNAL_API_KEY"}

    result = cli(*args, env=env)

    assert_fatal(result, "Set COMMUNAL_API_KEY", "--api-key-file")
    assert sandbox.requests() == []


def test_missing_api_key_file_is_named(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "communal.key"

    result = cli("user", "101", "--api-key-file", str(missing), env=sandbox_env)

    assert_fatal(result, str(missing), "does not exist")
    assert sandbox.requests() == []


def test_empty_api_key_file_is_named(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "communal.key"
    key_file.write_text("\n")

    result = cli("fields", "--api-key-file", str(key_file), env=sandbox_env)

    assert_fatal(result, str(key_file), "is empty")
    assert sandbox.requests() == []


@pytest.mark.parametrize("args", [["user", "101"], ["fields"]])
def test_plain_http_to_another_host_is_refused_without_a_request(
    cli: Cli, no_network: list[httpx.Request], args: list[str]
) -> None:
    env = {"COMMUNAL_API_KEY": FAKE_KEY}

    result = cli(*args, "--base-url", "http://example.com/api", env=env)

    assert_fatal(result, "Refusing plain http:// to example.com", "https://")
    assert FAKE_KEY not in result.stderr
    assert no_network == []


def test_base_url_with_a_password_is_refused(cli: Cli, no_network: list[httpx.Request]) -> None:
    env = {"COMMUNAL_API_KEY": FAKE_KEY}

    result = cli("fields", "--base-url", "https://me:hunter2@api.example.com/api", env=env)

    assert_fatal(result, "must not contain a user name or password")
    assert "hunter2" not in result.stderr
    assert no_network == []


def test_non_numeric_user_id_is_a_usage_error(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("user", "amara", env=sandbox_env)

    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
