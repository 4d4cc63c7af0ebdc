"""What ``communal-sync doctor`` checks: the key, its role, the API version, state and config.

Each check is one ``Check`` (a name, ok or not, one sentence); ``run_checkup`` never
raises for what it finds, so one bad setting does not hide the others. It sends two
read-only requests at most and changes nothing: no state file is created, bound,
migrated or locked.

- **key accepted**: ``GET /custom_profile_fields``, the cheapest authenticated read both
  versions have (a member key may read it too).
- **role**: the API has no "who am I" request. The one read-only way it documents to tell a
  manager from a member is a manager-only filter: ``filter[signup_status]`` of ``GET
  /program_signups`` (2026-08-25, "Manager-only"; sent as 2026-08-25 whatever the pin).
  200 means a manager key; 403 a member key, which may read and update only its own
  user, so a push of other people's rows stops at the first of them. (``User.manager``
  comes back only from a ``PUT``: not something a check may send.)
- **API version**: the ``X-Api-Version`` the server answered the first request with, and
  every warning the client raises from ``X-Api-Version-Warning``, ``Sunset`` and
  ``X-Api-Version-Source: default`` (``api.responses.version_warnings``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from communal_sync.api.deadline import deadline_transport
from communal_sync.api.responses import SERVED_VERSION_HEADER, VERSION_SOURCE_HEADER
from communal_sync.api.retry import RetryPolicy
from communal_sync.api.settings import (
    DEFAULT_BASE_URL,
    ENV_API_KEY,
    ENV_BASE_URL,
    NO_KEY_MESSAGE,
    check_base_url,
    read_api_key_file,
)
from communal_sync.errors import ApiError, CommunalSyncError, Forbidden, Unauthenticated
from communal_sync.intake.config import CONFIG_FILE_NAME, find_config, load_config
from communal_sync.session import ApiOptions, open_session
from communal_sync.state.binding import LOCAL_API, api_identity, read_bound_api
from communal_sync.state.location import resolve_state_path

ROLE_PROBE_QUERY: Final = "communal-sync doctor"
"""The signup search the role check sends: it names no one, so the answer is tiny."""
ROLE_PROBE_STATUS: Final = "cancelled"


@dataclass(frozen=True)
class Check:
    """One line of the check-up: what was checked, whether it is fine, and what was found."""

    name: str
    ok: bool
    detail: str


@dataclass
class Checkup:
    """Every check, in the order shown, and the facts behind them (for ``--json``)."""

    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))


class _RecordingTransport(httpx.BaseTransport):
    """The client's usual transport, remembering the headers of each answer."""

    def __init__(self) -> None:
        self._inner = deadline_transport()
        self.answers: list[httpx.Headers] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        self.answers.append(response.headers)
        return response

    def close(self) -> None:
        self._inner.close()


def run_checkup(
    options: ApiOptions,
    *,
    state: str | None,
    config: Path | None,
    env: Mapping[str, str],
    cwd: Path,
) -> Checkup:
    """Run every check; a failed one is reported, never raised."""
    result = Checkup()
    _check_config(result, config, cwd)
    key_ok = _check_key(result, options, env)
    url = _check_base_url(result, options, env)
    if key_ok and url is not None:
        _check_api(result, options, state=state, env=env)
    else:
        result.add("key accepted", False, "not checked: fix the key and the base URL first.")
    if not options.sandbox or state is not None:
        api = LOCAL_API if options.sandbox else None if url is None else api_identity(url)
        _check_state(result, resolve_state_path(state, env), api)
    else:
        result.facts["state_file"] = None
        result.add(
            "state file",
            True,
            "a temporary file of the embedded sandbox, deleted when the command ends "
            "(pass --state PATH to keep one).",
        )
    return result


def _check_config(result: Checkup, config: Path | None, cwd: Path) -> None:
    found = find_config(config, cwd=cwd)
    result.facts["config_file"] = None if found is None else str(found)
    if found is None:
        result.add(
            "config file",
            True,
            f"none (no ./{CONFIG_FILE_NAME}); built-in defaults apply. "
            "`communal-sync init SAMPLE.csv` writes one.",
        )
        return
    try:
        loaded = load_config(found, cwd=cwd)
    except CommunalSyncError as error:
        result.add("config file", False, str(error))
        return
    count = len(loaded.mapping)
    result.add(
        "config file",
        True,
        f"{found} ({count} column {'mapping' if count == 1 else 'mappings'}).",
    )


def _check_key(result: Checkup, options: ApiOptions, env: Mapping[str, str]) -> bool:
    """Whether a key is set, and where from; the key itself is never shown."""
    if options.sandbox:
        result.facts["key_source"] = "sandbox"
        result.add("API key", True, "set: the embedded sandbox's manager key.")
        return True
    if options.api_key_file is not None:
        result.facts["key_source"] = "--api-key-file"
        try:
            read_api_key_file(options.api_key_file)
        except CommunalSyncError as error:
            result.add("API key", False, str(error))
            return False
        result.add("API key", True, f"set, from --api-key-file {os.fspath(options.api_key_file)}.")
        return True
    if env.get(ENV_API_KEY, "").strip():
        result.facts["key_source"] = ENV_API_KEY
        result.add("API key", True, f"set, from {ENV_API_KEY}.")
        return True
    result.facts["key_source"] = None
    result.add("API key", False, f"not set. {NO_KEY_MESSAGE}")
    return False


def _check_base_url(result: Checkup, options: ApiOptions, env: Mapping[str, str]) -> str | None:
    """The base URL checked as the client will (``LOCAL_API`` for the sandbox), or None."""
    if options.sandbox:
        result.facts["base_url"] = None
        result.add("base URL", True, "the embedded sandbox (a loopback port chosen at start).")
        return LOCAL_API
    if options.base_url:
        url, where = options.base_url, "from --base-url"
    elif env.get(ENV_BASE_URL, "").strip():
        url, where = env[ENV_BASE_URL].strip(), f"from {ENV_BASE_URL}"
    else:
        url, where = DEFAULT_BASE_URL, "the default"
    try:
        checked = check_base_url(url)
    except CommunalSyncError as error:
        result.facts["base_url"] = None
        result.add("base URL", False, str(error))
        return None
    result.facts["base_url"] = checked
    result.add("base URL", True, f"{checked} ({where}).")
    return checked


def _check_api(
    result: Checkup, options: ApiOptions, *, state: str | None, env: Mapping[str, str]
) -> None:
    warnings: list[str] = []
    transport = _RecordingTransport()
    client_options = {
        "transport": transport,
        "on_warning": warnings.append,
        "retry": RetryPolicy(attempts=1),
    }
    try:
        with open_session(options, state=state, env=env, client_options=client_options) as s:
            asked = s.settings.api_version
            if options.sandbox:
                result.facts["base_url"] = s.settings.base_url
            try:
                s.client.list_custom_profile_fields()
            except ApiError as error:
                _key_refused(result, error, transport, asked, warnings)
                return
            result.add("key accepted", True, "GET /custom_profile_fields answered 200.")
            _check_version(result, transport.answers[-1], asked, warnings)
            _check_role(result, s.client)
    except CommunalSyncError as error:
        result.add("key accepted", False, str(error))


def _key_refused(
    result: Checkup,
    error: ApiError,
    transport: _RecordingTransport,
    asked: str,
    warnings: list[str],
) -> None:
    if isinstance(error, Unauthenticated):
        detail = (
            "no: the API answered 401 to GET /custom_profile_fields. The key is wrong or "
            "revoked: check COMMUNAL_API_KEY or --api-key-file."
        )
    else:
        detail = f"not confirmed: {error}"
    result.add("key accepted", False, detail)
    if transport.answers:
        _check_version(result, transport.answers[-1], asked, warnings)


def _check_version(
    result: Checkup, headers: httpx.Headers, asked: str, warnings: list[str]
) -> None:
    served = headers.get(SERVED_VERSION_HEADER, "").strip() or None
    defaulted = headers.get(VERSION_SOURCE_HEADER, "").strip().lower() == "default"
    result.facts["api_version_asked"] = asked
    result.facts["api_version_served"] = served
    result.facts["api_version_warnings"] = list(warnings)
    if warnings:
        result.add("API version", False, " ".join(warnings))
        return
    if served is None:
        result.add(
            "API version",
            True,
            f"asked for {asked}; the API did not say which version answered.",
        )
        return
    source = " (its default)" if defaulted else ""
    result.add("API version", True, f"{served}{source}, as asked; not deprecated.")


def _check_role(result: Checkup, client: Any) -> None:
    try:
        client.search_program_signups(ROLE_PROBE_QUERY, signup_status=ROLE_PROBE_STATUS)
    except Forbidden:
        result.facts["role"] = "member"
        result.add(
            "role",
            False,
            "member: the API refused (403) a manager-only filter. A member key may read and "
            "update only its own user; use a manager key to sync other people.",
        )
        return
    except ApiError as error:
        result.facts["role"] = None
        result.add("role", False, f"could not tell manager from member: {error}")
        return
    result.facts["role"] = "manager"
    result.add(
        "role",
        True,
        "manager: the API allowed a manager-only filter (GET /program_signups with "
        "filter[signup_status]); the key may update every user.",
    )


def _check_state(result: Checkup, path: Path, api: str | None) -> None:
    """The state file in use and the API it is bound to (``api``: this run's, if known)."""
    result.facts["state_file"] = str(path)
    try:
        bound = read_bound_api(path)
    except CommunalSyncError as error:
        result.facts["state_bound_to"] = None
        result.add("state file", False, str(error))
        return
    result.facts["state_bound_to"] = bound
    if not path.exists():
        result.add("state file", True, f"{path} (not created yet: the first push creates it).")
    elif bound is None:
        result.add("state file", True, f"{path} (not bound to an API yet: no push so far).")
    elif api is not None and bound != api:
        result.add(
            "state file",
            False,
            f"{path} is bound to {bound}, but this talks to {api}: its identity map is "
            "another organization's. Pass --state (or set COMMUNAL_SYNC_STATE).",
        )
    else:
        result.add("state file", True, f"{path}, bound to {bound}.")
