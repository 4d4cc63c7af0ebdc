"""The typer application, and the one place that turns errors into exit codes."""

from __future__ import annotations

import enum
import functools
import logging
import os
from collections.abc import Callable
from typing import Final, Literal, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from communal_sync import __version__
from communal_sync.cli import events
from communal_sync.cli.lazy import CommandEntry, LazyGroup, build_registered
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal
from communal_sync.errors import CommunalSyncError, ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 success · 1 fatal (auth, network exhausted, unreadable input, bad config) · "
    "2 usage · 3 finished with row failures or invalid rows · 4 refused by a safety limit or a "
    "held lock · 5 changes pending (--detailed-exitcode) · 130 interrupted."
)

_CLI: Final = "communal_sync.cli"
COMMANDS: Final = (
    CommandEntry("init", f"{_CLI}.init", "Write a config file from a sample export."),
    CommandEntry("doctor", f"{_CLI}.doctor", "Check the key, its role, the API and the state."),
    CommandEntry("validate", f"{_CLI}.validate", "Check an export; send nothing."),
    CommandEntry("link", f"{_CLI}.link", "Load an id map: email or external id to user id."),
    CommandEntry("plan", f"{_CLI}.plan", "Show what a push would change; change nothing."),
    CommandEntry("push", f"{_CLI}.push", "Plan, show, confirm, then send the changes."),
    CommandEntry("apply", f"{_CLI}.apply", "Apply a saved plan (plan --out) exactly."),
    CommandEntry("runs", f"{_CLI}.runs", "Past runs: when, which file, what happened."),
    CommandEntry("revert", f"{_CLI}.revert", "Restore the values a run overwrote."),
    CommandEntry("user", f"{_CLI}.lookup", "Show one user's profile as Communal has it."),
    CommandEntry("fields", f"{_CLI}.lookup", "List the custom profile field definitions."),
    CommandEntry("sandbox", f"{_CLI}.sandbox", "Run a local sandbox of the Communal API."),
)
"""Every command, in the order of the workflow (the top-level help lists them so). A
command's module is imported only when that command runs (``cli/lazy.py``)."""


class _Commands(LazyGroup):
    entries = COMMANDS

    def build(self, entry: CommandEntry) -> typer._click.Command:
        return build_registered(app, entry)


app = typer.Typer(
    name="communal-sync",
    help="Keep Communal user profiles in step with your system of record.\n\n" + EXIT_CODES_HELP,
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    rich_markup_mode="rich",
)

P = ParamSpec("P")
R = TypeVar("R")


def _colour() -> Literal["auto"] | None:
    """rich's own choice (none when not a terminal or ``TERM=dumb``, forced by
    ``FORCE_COLOR``), unless ``NO_COLOR`` is set: then no style at all, not even bold,
    where rich alone would still send bold and dim."""
    return None if os.environ.get("NO_COLOR") else "auto"


def stderr_console() -> Console:
    """A console for messages and warnings: stderr, never wrapped mid-sentence."""
    return Console(stderr=True, soft_wrap=True, highlight=False, color_system=_colour())


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
    return Console(
        stderr=reserved, quiet=quiet, soft_wrap=False, highlight=False, color_system=_colour()
    )


def warn(message: str) -> None:
    """Print one warning line on stderr (an event in ``--log-format json``).

    Like every message, it is cut at ``MESSAGE_CHARS`` and its control characters are
    escaped: it may quote a file name, a column or a server's words.
    """
    message = cut(message, MESSAGE_CHARS)
    if events.json_mode():
        events.emit("warning", message=message)
    else:
        stderr_console().print(f"[yellow]Warning:[/] {escape(for_terminal(message))}")


def fail(message: str) -> None:
    """Print one error line on stderr (an event in ``--log-format json``), cut and escaped."""
    message = cut(message, MESSAGE_CHARS)
    if events.json_mode():
        events.emit("error", message=message)
    else:
        stderr_console().print(f"[bold red]Error:[/] {escape(for_terminal(message))}")


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
