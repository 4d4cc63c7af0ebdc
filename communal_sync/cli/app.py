"""The typer application, and the one place that turns errors into exit codes."""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from communal_sync import __version__
from communal_sync.cli import events
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal
from communal_sync.errors import CommunalSyncError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 success · 1 fatal (auth, network exhausted, unreadable input, bad config) · "
    "2 usage · 3 finished with row failures or invalid rows · 4 refused by a safety limit or a "
    "held lock · 5 changes pending (--detailed-exitcode) · 130 interrupted."
)

app = typer.Typer(
    name="communal-sync",
    help="Keep Communal user profiles in step with your system of record.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)

P = ParamSpec("P")
R = TypeVar("R")


def stderr_console() -> Console:
    """A console for messages and warnings: stderr, never wrapped mid-sentence."""
    return Console(stderr=True, soft_wrap=True, highlight=False)


class _Stdout:
    reserved = False
    """True while ``--json`` holds stdout for its document (see ``reserve_stdout``)."""


def reserve_stdout(reserved: bool = True) -> None:
    """Keep stdout for one JSON document: ``stdout_console`` then prints on stderr."""
    _Stdout.reserved = reserved


def stdout_console() -> Console:
    """A console for the report itself (on stderr while ``--json`` holds stdout).

    With ``--json`` and ``--log-format json`` both, stderr carries only JSON events and
    stdout only the document, so the person's report is not printed at all.
    """
    reserved = _Stdout.reserved
    quiet = reserved and events.json_mode()
    return Console(stderr=reserved, quiet=quiet, soft_wrap=False, highlight=False)


def warn(message: str) -> None:
    """Print one warning line on stderr (an event in ``--log-format json``).

    Like every message, it is cut at ``MESSAGE_CHARS`` and its control characters are
    escaped: it may quote a file name, a column or a server's words.
    """
    message = cut(message, MESSAGE_CHARS)
    if events.json_mode():
        events.emit("warning", message=message)
    else:
        stderr_console().print(f"Warning: {escape(for_terminal(message))}")


def fail(message: str) -> None:
    """Print one error line on stderr (an event in ``--log-format json``), cut and escaped."""
    message = cut(message, MESSAGE_CHARS)
    if events.json_mode():
        events.emit("error", message=message)
    else:
        stderr_console().print(f"Error: {escape(for_terminal(message))}")


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command so that expected failures print one line and exit with their code.

    ``CommunalSyncError`` carries its exit code; Ctrl-C exits 130. Anything else is a bug
    and surfaces as typer's traceback, without local variables (so never the API key).
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CommunalSyncError as error:
            fail(str(error))
            events.emit("exit", code=error.exit_code)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            fail("Interrupted.")
            raise typer.Exit(ExitCode.INTERRUPTED) from None

    return wrapper


class _WarningHandler(logging.Handler):
    """Library warnings (say, an API version deprecation) shown like our own warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


class LogFormatChoice(enum.StrEnum):
    text = "text"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"communal-sync {__version__}")
        raise typer.Exit()


VERSION: bool = typer.Option(
    False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
)
LOG_FORMAT: LogFormatChoice = typer.Option(
    LogFormatChoice.text,
    "--log-format",
    help="json: one JSON event per line on stderr while a command runs (for cron and log "
    "shippers). Not the same as a command's --json, which prints its report on stdout.",
)


@app.callback()
def root(
    version: bool = VERSION,
    log_format: LogFormatChoice = LOG_FORMAT,
) -> None:
    """Keep Communal user profiles in step with your system of record."""
    reserve_stdout(False)
    events.configure(log_format.value)
    logging.basicConfig(level=logging.WARNING, handlers=[_WarningHandler()], force=True)
