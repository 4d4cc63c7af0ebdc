"""Options shared by several commands, declared once so their help text never drifts."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import typer

from communal_sync.errors import UsageError
from communal_sync.state.location import lock_path_for, resolve_state_path


def refuse_raw_with_redact(flag: str, path: Path | None, redact: bool) -> None:
    """``--errors-out``/``--failed-out`` copy rows verbatim, which ``--redact`` forbids."""
    if path is not None and redact:
        raise UsageError(
            f"{flag} writes the rows exactly as they came in, so it cannot be combined "
            "with --redact; drop one of them."
        )


OUTPUT_FLAGS: Final = {
    "out": "--out",
    "report": "--report",
    "failed_out": "--failed-out",
    "errors_out": "--errors-out",
}
"""The options that write a file, by parameter name: none may be the input file."""
STDIN: Final = "-"


def refuse_overwriting_input(
    inputs: Sequence[str | Path | None], outputs: Mapping[str, object]
) -> None:
    """Refuse (``UsageError``) an output option that names an input file itself.

    ``outputs`` is a command's arguments (``locals()`` will do): each one named in
    ``OUTPUT_FLAGS`` and set is compared with each of ``inputs`` by resolved path, and by
    ``Path.samefile`` when both exist (a hard link, a differently spelled mount), so
    ``plan fx.csv --report fx.csv`` never replaces the export with its report. Standard
    input (``-``) has no file to protect.
    """
    written = {
        flag: Path(target)
        for name, flag in OUTPUT_FLAGS.items()
        if isinstance(target := outputs.get(name), Path | str)
    }
    _refuse_shared_outputs(written, _state_in_use(outputs))
    for file in inputs:
        if file is None or str(file) == STDIN:
            continue
        for flag, target in written.items():
            if _same_file(Path(file), target):
                raise UsageError(
                    f"{flag} {str(target)!r} is the input file {str(file)!r}: writing it "
                    f"would destroy the input. Give {flag} another file name."
                )


def _state_in_use(outputs: Mapping[str, object]) -> Path | None:
    """The state file the command will open (``--state``, ``$COMMUNAL_SYNC_STATE`` or the
    default), or None for ``--sandbox`` without ``--state`` (a temporary file)."""
    explicit = outputs.get("state")
    chosen = explicit if isinstance(explicit, str) and explicit else None
    if outputs.get("sandbox") and chosen is None:
        return None
    return resolve_state_path(chosen, os.environ)


def _refuse_shared_outputs(written: Mapping[str, Path], state: Path | None) -> None:
    """Refuse two output options naming one file, or one naming the state file (or its
    lock): the second write would replace the first, or the identity map and history."""
    flags = list(written)
    for index, flag in enumerate(flags):
        for other in flags[index + 1 :]:
            if _same_file(written[flag], written[other]):
                raise UsageError(
                    f"{flag} and {other} both name {str(written[other])!r}: one would "
                    "overwrite the other. Give each its own file name."
                )
        if state is not None and any(
            _same_file(written[flag], kept) for kept in (state, lock_path_for(state))
        ):
            raise UsageError(
                f"{flag} {str(written[flag])!r} is the state file: writing it would destroy "
                f"the identity map and run history. Give {flag} another file name."
            )


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


class InputFormat(enum.StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


class OnDuplicate(enum.StrEnum):
    error = "error"
    first = "first"
    last = "last"


class ReportFormat(enum.StrEnum):
    text = "text"
    json = "json"


FILE: str = typer.Argument(
    ...,
    metavar="FILE",
    help="The export to read: a CSV, JSON or JSON Lines file, or - for standard input.",
)
MAP: list[str] = typer.Option(
    [],
    "--map",
    metavar="COLUMN=FIELD",
    help='Map a column to a field, e.g. --map "Member No=external_id"; "Column=" ignores it. '
    "Repeatable.",
)
CONFIG: Path | None = typer.Option(
    None,
    "--config",
    help="A communal-sync.toml file (default: ./communal-sync.toml if present).",
)
ENCODING: str | None = typer.Option(
    None, "--encoding", help="Read the file in this encoding instead of detecting it."
)
INPUT_FORMAT: InputFormat | None = typer.Option(
    None, "--input-format", help="Read as this format instead of guessing from name and content."
)
ON_DUPLICATE: OnDuplicate | None = typer.Option(
    None,
    "--on-duplicate",
    help="Rows sharing an email, id or external id: error (all invalid, the default), "
    "first or last (keep one, skip the others).",
)
DEFAULT_REGION: str | None = typer.Option(
    None,
    "--default-region",
    help="Country (two letters) for telephone numbers written without a country code.",
)
REPORT_FORMAT: ReportFormat = typer.Option(
    ReportFormat.text, "--format", help="Report format on standard output."
)
REDACT: bool = typer.Option(
    False, "--redact", help="Mask personal values in everything printed or written."
)

BASE_URL: str | None = typer.Option(
    None,
    "--base-url",
    help="The API base URL (default: $COMMUNAL_BASE_URL, else https://api.getcommunal.com/api).",
)
API_KEY_FILE: Path | None = typer.Option(
    None,
    "--api-key-file",
    help="Read the API key from this file instead of $COMMUNAL_API_KEY. "
    "(There is no flag for the key itself: it would end up in shell history.)",
)
API_VERSION: str | None = typer.Option(
    None, "--api-version", help="The X-Api-Version to send (default 2026-03-25)."
)
SANDBOX: bool = typer.Option(
    False,
    "--sandbox",
    help="Run against an embedded local sandbox of the API seeded with the demo organization, "
    "with a temporary state file unless --state is given.",
)
SANDBOX_SEED: Path | None = typer.Option(
    None, "--sandbox-seed", help="Seed the embedded sandbox from this JSON file."
)
STATE: str | None = typer.Option(
    None,
    "--state",
    help="The state file (default: $COMMUNAL_SYNC_STATE, else the user data directory).",
)
JSON_OUTPUT: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")
