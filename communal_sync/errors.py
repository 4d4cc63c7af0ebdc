"""The exceptions communal-sync raises, and the exit code each one means.

Every expected failure is a subclass of ``CommunalSyncError``; the CLI maps them to exit
codes in one place (``exit_code``) and prints ``str(error)``, a sentence that names the fix.
Anything else is a bug and is allowed to surface.

    CommunalSyncError                  exit 1 unless noted
    ├── InputError                     a file cannot be read or understood (file, line, field)
    ├── ConfigError                    bad configuration: config file, --map, flags
    ├── UsageError                     exit 2: the command line itself is wrong
    ├── RefusedError                   exit 4: a safety limit or a held lock refused the run
    └── ApiError                       the Communal API said no, or could not be reached
        ├── Unauthenticated            401: the key is missing, wrong or revoked
        ├── Forbidden                  403: a member key tried to update someone else
        ├── NotFound                   404: no such user or record
        ├── Rejected                   422: validation failed; ``errors`` holds per-field messages
        ├── UnsupportedVersion         400: X-Api-Version is not served; ``supported`` lists them
        ├── RateLimited                429: throttled; ``retry_after`` in seconds when given
        ├── ServerError                5xx
        ├── UnexpectedResponse         a status or body the API does not document
        └── TransportError             no usable HTTP response: connect, read, timeout, reset
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from communal_sync.display import cut


class ExitCode:
    """The process exit codes, stable across releases (documented in the README)."""

    OK = 0
    FATAL = 1
    USAGE = 2
    ROW_FAILURES = 3
    REFUSED = 4
    CHANGES_PENDING = 5
    INTERRUPTED = 130


def printable(name: str) -> str:
    """``name`` with control characters escaped, so a message stays on one line."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


class CommunalSyncError(Exception):
    """Base of every expected failure; ``str()`` is the message shown to the user."""

    exit_code: int = ExitCode.FATAL


class InputError(CommunalSyncError):
    """An input file cannot be read or is not in a shape we understand."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.hint = hint
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = printable(self.file)
            if self.line is not None:
                where += f", line {self.line}"
            if self.field is not None:
                where += f", column {cut(self.field)!r}"
            where += ": "
        text = where + self.reason
        if self.hint:
            text += f" {self.hint}"
        return text


class ConfigError(CommunalSyncError):
    """The configuration (config file, --map, flag values, environment) is wrong."""


class UsageError(CommunalSyncError):
    """The command line is wrong in a way the argument parser could not see."""

    exit_code = ExitCode.USAGE


class RefusedError(CommunalSyncError):
    """A safety limit or a held lock refused the run before any write."""

    exit_code = ExitCode.REFUSED


class ApiError(CommunalSyncError):
    """The Communal API answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class Unauthenticated(ApiError):
    """401: the API key is missing, wrong or revoked."""


class Forbidden(ApiError):
    """403: the key may not do this; updating other users needs a manager key."""


class NotFound(ApiError):
    """404: the user or record does not exist in this organization."""


class Rejected(ApiError):
    """422: the API refused the values; ``errors`` maps field -> messages."""

    def __init__(
        self,
        message: str,
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        status: int | None = 422,
    ) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        super().__init__(message, status=status)


class UnsupportedVersion(ApiError):
    """400: the X-Api-Version we sent is not served; ``supported`` lists what is."""

    def __init__(self, message: str, *, supported: Sequence[str] = ()) -> None:
        self.supported = list(supported)
        super().__init__(message, status=400)


class RateLimited(ApiError):
    """429: the API throttled us; ``retry_after`` is the server's wait in seconds, if given."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=429)


class ServerError(ApiError):
    """5xx: the API failed on its side."""


class UnexpectedResponse(ApiError):
    """A status or body that the API does not document (HTML, truncated JSON, 418...)."""


class TransportError(ApiError):
    """No usable HTTP response: connection refused or reset, timeout, broken protocol.

    ``may_have_reached_server`` is False only when the request certainly never left
    (connect errors); a non-idempotent create is retried only then.
    """

    def __init__(self, message: str, *, may_have_reached_server: bool = True) -> None:
        self.may_have_reached_server = may_have_reached_server
        super().__init__(message, status=None)
