"""Resolving the API base URL, key and version from flags, key files and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from communal_sync.api.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    ApiKey,
    check_base_url,
    is_loopback_host,
    resolve_settings,
    version_for,
)
from communal_sync.errors import ConfigError

KEY = "sk_live_SECRET123"


def test_key_and_defaults_come_from_environment() -> None:
    settings = resolve_settings(env={"COMMUNAL_API_KEY": KEY})

    assert settings.api_key.reveal() == KEY
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.api_version == DEFAULT_API_VERSION
    assert settings.key_source == "COMMUNAL_API_KEY"


def test_base_url_comes_from_environment_when_not_given() -> None:
    env = {"COMMUNAL_API_KEY": KEY, "COMMUNAL_BASE_URL": "https://staging.example.com/api/"}

    assert resolve_settings(env=env).base_url == "https://staging.example.com/api"


def test_explicit_base_url_beats_environment() -> None:
    env = {"COMMUNAL_API_KEY": KEY, "COMMUNAL_BASE_URL": "https://staging.example.com/api"}

    settings = resolve_settings(base_url="http://127.0.0.1:8080/api", env=env)

    assert settings.base_url == "http://127.0.0.1:8080/api"


def test_key_file_is_read_and_stripped(tmp_path: Path) -> None:
    key_file = tmp_path / "communal.key"
    key_file.write_text(f"  {KEY}\n\n", encoding="utf-8")

    settings = resolve_settings(api_key_file=key_file, env={})

    assert settings.api_key.reveal() == KEY
    assert settings.key_source == str(key_file)


def test_key_file_beats_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "communal.key"
    key_file.write_text("from-file\n", encoding="utf-8")

    settings = resolve_settings(api_key_file=key_file, env={"COMMUNAL_API_KEY": "from-env"})

    assert settings.api_key.reveal() == "from-file"


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"

    with pytest.raises(ConfigError) as caught:
        resolve_settings(api_key_file=missing, env={"COMMUNAL_API_KEY": KEY})

    assert str(missing) in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_empty_key_file_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.key"
    empty.write_text("\n  \n", encoding="utf-8")

    with pytest.raises(ConfigError, match="is empty") as caught:
        resolve_settings(api_key_file=empty, env={})

    assert str(empty) in str(caught.value)


def test_no_key_at_all_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_settings(env={"COMMUNAL_API_KEY": "   "})

    assert str(caught.value) == "Set COMMUNAL_API_KEY or pass --api-key-file PATH."


def test_key_with_inner_whitespace_is_refused_without_quoting_it(tmp_path: Path) -> None:
    key_file = tmp_path / "pasted.key"
    key_file.write_text("sk_live SECRET\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="spaces or non-printable") as caught:
        resolve_settings(api_key_file=key_file, env={})

    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.getcommunal.com/api",
        "http://10.0.0.5:8000/api",
        "http://localhost.evil.example/api",
    ],
)
def test_plain_http_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="Refusing plain http://"):
        resolve_settings(base_url=url, env={"COMMUNAL_API_KEY": KEY})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api",
        "http://127.8.9.10/api",
        "http://[::1]:8000/api",
        "http://localhost:8000/api",
        "https://api.getcommunal.com/api",
    ],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert check_base_url(url) == url


@pytest.mark.parametrize("url", ["ftp://example.com/api", "api.getcommunal.com", "https://"])
def test_non_http_base_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        check_base_url(url)


def test_credentials_in_the_base_url_are_refused() -> None:
    with pytest.raises(ConfigError, match="must not contain a user name or password") as caught:
        check_base_url(f"https://me:{KEY}@api.getcommunal.com/api")

    assert KEY not in str(caught.value)


def test_api_version_must_be_a_date() -> None:
    assert resolve_settings(
        api_version="2025-01-01", env={"COMMUNAL_API_KEY": KEY}
    ).api_version == ("2025-01-01")
    fix = r"not a date \(YYYY-MM-DD\)\. Pass --api-version 2026-03-25 or 2026-08-25"
    with pytest.raises(ConfigError, match=fix):
        resolve_settings(api_version="latest", env={"COMMUNAL_API_KEY": KEY})


def test_the_new_endpoints_ask_for_the_version_that_has_them() -> None:
    assert version_for("2026-03-25", None) == "2026-03-25"
    assert version_for("2026-03-25", "2026-08-25") == "2026-08-25"
    assert version_for("2026-08-25", "2026-08-25") == "2026-08-25"
    assert version_for("2027-01-01", "2026-08-25") == "2027-01-01"


def test_key_is_masked_in_repr_and_str_of_key_and_settings() -> None:
    settings = resolve_settings(env={"COMMUNAL_API_KEY": KEY})

    assert repr(settings.api_key) == "ApiKey('****')"
    assert str(settings.api_key) == "****"
    assert f"{settings.api_key}" == "****"
    assert KEY not in repr(settings)
    assert KEY not in str(settings)


def test_loopback_detection() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("::1")
    assert is_loopback_host("[::1]")
    assert is_loopback_host("LOCALHOST")
    assert not is_loopback_host("192.168.1.1")
    assert not is_loopback_host("example.com")


def test_api_keys_compare_by_value() -> None:
    assert ApiKey("a") == ApiKey("a")
    assert ApiKey("a") != ApiKey("b")


@pytest.mark.parametrize("name", ["communal.key", "key.txt", "secrets/communal", "secrets/k"])
def test_a_missing_key_file_with_a_file_like_name_is_named(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()

    with pytest.raises(ConfigError) as caught:
        resolve_settings(api_key_file=name, env={})

    assert f"The API key file {name} does not exist" in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [KEY, "eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM", "abc123.secretpart", "Zm9vYmFy/YmF6cXV4+abc=="],
)
def test_a_missing_key_file_that_may_be_the_key_is_not_named(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError) as caught:
        resolve_settings(api_key_file=name, env={})

    assert name not in str(caught.value)
    assert "may be the key itself" in str(caught.value)


def test_the_request_deadline_is_twice_the_timeout_unless_set() -> None:
    default = resolve_settings(env={"COMMUNAL_API_KEY": KEY})
    scaled = resolve_settings(env={"COMMUNAL_API_KEY": KEY, "COMMUNAL_TIMEOUT": "1"})
    chosen = resolve_settings(
        env={"COMMUNAL_API_KEY": KEY, "COMMUNAL_TIMEOUT": "1", "COMMUNAL_REQUEST_DEADLINE": "7.5"}
    )

    assert (default.request_deadline, scaled.request_deadline) == (60.0, 2.0)
    assert chosen.request_deadline == 7.5


@pytest.mark.parametrize("value", ["soon", "0", "-1", "inf"])
def test_a_request_deadline_that_is_no_number_of_seconds_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"COMMUNAL_REQUEST_DEADLINE|request deadline"):
        resolve_settings(env={"COMMUNAL_API_KEY": KEY, "COMMUNAL_REQUEST_DEADLINE": value})
