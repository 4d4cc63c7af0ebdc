"""Where the client connects and with which key: resolved once, from flags, files and env.

``resolve_settings`` is a pure function of its arguments and an environment mapping, so
the CLI calls it and tests pass a dict instead of patching ``os.environ``. The key lives
in an ``ApiKey`` whose ``repr``/``str`` are masked: it cannot leak into a log line, an
exception message or a traceback's rendering of locals by accident.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from communal_sync.errors import ConfigError

DEFAULT_BASE_URL: Final = "https://api.getcommunal.com/api"
DEFAULT_API_VERSION: Final = "2026-03-25"
"""The version the client pins in ``X-Api-Version``; the server default has moved before."""
MEMBERSHIPS_API_VERSION: Final = "2026-08-25"
"""The first version with ``/user_memberships``, ``/transactions`` and signups'
``filter[signup_status]``: those requests are sent as at least this version."""
KNOWN_API_VERSIONS: Final = (DEFAULT_API_VERSION, MEMBERSHIPS_API_VERSION)
"""The versions whose response shapes communal-sync is written and tested against."""

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_READ_TIMEOUT: Final = 30.0
DEADLINE_PER_TIMEOUT: Final = 2
"""The request deadline's default, in read timeouts: 60 s at the default timeout."""
DEFAULT_REQUEST_DEADLINE: Final = DEADLINE_PER_TIMEOUT * DEFAULT_READ_TIMEOUT

ENV_BASE_URL: Final = "COMMUNAL_BASE_URL"
ENV_API_KEY: Final = "COMMUNAL_API_KEY"
ENV_TIMEOUT: Final = "COMMUNAL_TIMEOUT"
"""Seconds to wait for a response (the read timeout); the connect timeout is at most this."""
ENV_REQUEST_DEADLINE: Final = "COMMUNAL_REQUEST_DEADLINE"
"""Seconds one request may take in all, from connecting to the last byte of the answer
(default: twice the timeout). A server that dribbles bytes never trips the timeout."""

MASK: Final = "****"
NO_KEY_MESSAGE: Final = "Set COMMUNAL_API_KEY or pass --api-key-file PATH."

_API_VERSION_PATTERN: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
# Header-safe characters only: a key with whitespace or control characters would be
# rejected by httpx in an exception whose message could quote it.
_KEY_PATTERN: Final = re.compile(r"[\x21-\x7e]+")


class ApiKey:
    """An API key whose ``repr`` and ``str`` never show it; ``reveal()`` is the one way out."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def reveal(self) -> str:
        """The key itself, for the Authorization header and for redacting it from text."""
        return self._secret

    def __repr__(self) -> str:
        return f"ApiKey('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKey) and other._secret == self._secret

    def __hash__(self) -> int:
        return hash(("ApiKey", self._secret))


@dataclass(frozen=True)
class ApiSettings:
    """Everything the client needs to reach the API; the key's repr is masked."""

    api_key: ApiKey
    base_url: str = DEFAULT_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    key_source: str = field(default=ENV_API_KEY, compare=False)
    """Where the key came from (the env var name or the file path), for messages."""


def resolve_settings(
    *,
    base_url: str | None = None,
    api_key_file: str | os.PathLike[str] | None = None,
    api_version: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> ApiSettings:
    """Resolve the base URL, key and version from explicit values, then env, then defaults.

    The key comes from ``api_key_file`` when given (an explicit flag beats the
    environment), else from ``COMMUNAL_API_KEY``; there is deliberately no way to pass
    the key itself on the command line, where ``ps`` and shell history would see it.
    """
    environ = os.environ if env is None else env
    if timeout_text := environ.get(ENV_TIMEOUT, "").strip():
        try:
            read_timeout = float(timeout_text)
        except ValueError:
            raise ConfigError(
                f"{ENV_TIMEOUT}={timeout_text!r} is not a number of seconds; use e.g. 30."
            ) from None
        connect_timeout = min(connect_timeout, read_timeout)
    deadline = DEADLINE_PER_TIMEOUT * read_timeout
    if deadline_text := environ.get(ENV_REQUEST_DEADLINE, "").strip():
        try:
            deadline = float(deadline_text)
        except ValueError:
            raise ConfigError(
                f"{ENV_REQUEST_DEADLINE}={deadline_text!r} is not a number of seconds; use e.g. 60."
            ) from None
    url = base_url or environ.get(ENV_BASE_URL, "").strip() or DEFAULT_BASE_URL
    if api_key_file is not None:
        key, source = read_api_key_file(api_key_file), os.fspath(api_key_file)
    else:
        secret = environ.get(ENV_API_KEY, "").strip()
        if not secret:
            raise ConfigError(NO_KEY_MESSAGE)
        key, source = _checked_key(secret, ENV_API_KEY), ENV_API_KEY
    return ApiSettings(
        api_key=key,
        base_url=check_base_url(url),
        api_version=check_api_version(api_version or DEFAULT_API_VERSION),
        connect_timeout=_checked_timeout(connect_timeout, "connect"),
        read_timeout=_checked_timeout(read_timeout, "read"),
        request_deadline=_checked_timeout(deadline, "request deadline"),
        key_source=source,
    )


def read_api_key_file(path: str | os.PathLike[str]) -> ApiKey:
    """Read an API key from a file, stripped of surrounding whitespace and newlines.

    A missing, unreadable or empty file is a ConfigError naming the file (never its
    contents).
    """
    name = os.fspath(path)
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if not looks_like_file_name(name):
            raise ConfigError(MISSING_KEY_FILE_UNNAMED) from None
        raise ConfigError(
            f"The API key file {name} does not exist. Create it or set COMMUNAL_API_KEY."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "unreadable"
        raise ConfigError(
            f"The API key file {name} cannot be read ({reason}). Check its permissions."
        ) from None
    if not secret:
        raise ConfigError(
            f"The API key file {name} is empty. Put the key in it or set COMMUNAL_API_KEY."
        )
    return _checked_key(secret, name)


MISSING_KEY_FILE_UNNAMED: Final = (
    "The API key file given to --api-key-file does not exist; its name is not shown because "
    "it may be the key itself (if so, rotate the key: it is in your shell history). Put the "
    "key in a file and pass that file's path, or set COMMUNAL_API_KEY."
)

_FILE_NAME: Final = re.compile(r"[^.]+\.[A-Za-z]{1,5}")
"""A bare name with a short extension ("communal.key", "key.txt") is a file name."""


def looks_like_file_name(name: str) -> bool:
    """Whether a missing ``--api-key-file`` value can be named in an error without risk.

    A path into a folder that exists, or a bare name with a short extension, is a file name;
    anything else may be the key typed where its file's name belongs (base64 keys hold "/"),
    so it is not shown.
    """
    if _FILE_NAME.fullmatch(name):
        return True
    path = Path(name)
    return path.parent != Path() and path.parent.is_dir()


def check_base_url(url: str) -> str:
    """Return ``url`` without a trailing slash if it is an https URL or http to loopback.

    Plain http to any other host would send the bearer key in clear text, so it is refused.
    """
    parts = urlsplit(url.strip())
    if "@" in url:
        # Refuse before quoting anything: the part before "@" may be a key.
        raise ConfigError(
            "The API base URL must not contain a user name or password. "
            "Pass the key with COMMUNAL_API_KEY or --api-key-file."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The API base URL {url!r} is not an http(s) URL. "
            f"Use something like {DEFAULT_BASE_URL}."
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"Refusing plain http:// to {parts.hostname}: the API key would travel "
            "unencrypted. Use https://, or http:// only to 127.0.0.1, ::1 or localhost."
        )
    return url.strip().rstrip("/")


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is localhost, in 127.0.0.0/8 or ::1."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_api_version(version: str) -> str:
    """Return ``version`` if it has the YYYY-MM-DD shape the X-Api-Version header takes.

    A date other than ``KNOWN_API_VERSIONS`` is sent as asked (the API decides whether it
    serves it); the client warns when the API answers it, since its shapes are untested.
    """
    if not _API_VERSION_PATTERN.fullmatch(version):
        raise ConfigError(
            f"The API version {version!r} is not a date (YYYY-MM-DD). Pass --api-version "
            f"{' or '.join(KNOWN_API_VERSIONS)} (default {DEFAULT_API_VERSION})."
        )
    return version


def version_for(pinned: str, minimum: str | None) -> str:
    """The ``X-Api-Version`` one request is sent with: the pinned version, or ``minimum``
    when the endpoint (or filter) is newer than the pin. Versions are dates, so they sort."""
    return pinned if minimum is None or pinned >= minimum else minimum


def _checked_key(secret: str, source: str) -> ApiKey:
    if not _KEY_PATTERN.fullmatch(secret):
        raise ConfigError(
            f"The API key from {source} contains spaces or non-printable characters. "
            "Copy the key again, exactly as Communal shows it."
        )
    return ApiKey(secret)


def _checked_timeout(seconds: float, which: str) -> float:
    if not 0 < seconds < float("inf"):
        raise ConfigError(f"The {which} timeout must be a positive number of seconds.")
    return float(seconds)
