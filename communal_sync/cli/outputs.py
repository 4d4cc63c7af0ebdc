"""Checking the files a command will write before it reads or sends anything.

No output may replace the input it was made from, another output of the same command, or
the state file (the identity map and history) in use. Each output must also be writable
where it is going: its folder exists and takes a new file, and a ``--report`` has a
format its extension names. A bad path is a usage error (exit 2) before the first
request, never found after a run has changed data.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from rich.markup import escape

from communal_sync.cli import events
from communal_sync.cli.app import stderr_console
from communal_sync.cli.options import STDIN
from communal_sync.display import for_terminal
from communal_sync.errors import UsageError

REPORT_FLAG: Final = "--report"
"""The output whose format its extension picks (``reports.report_format``)."""


def refuse_raw_with_redact(flag: str, path: Path | None, redact: bool) -> None:
    """``--errors-out``/``--failed-out`` copy rows verbatim, which ``--redact`` forbids."""
    if path is not None and redact:
        raise UsageError(
            f"{flag} writes the rows with every value as read, unmasked, so it cannot be "
            "combined with --redact; drop one of them."
        )


def check_outputs(
    outputs: Mapping[str, Path | None],
    *,
    inputs: Sequence[str | Path | None] = (),
    state: str | None = None,
    sandbox: bool = False,
) -> None:
    """Refuse (``UsageError``) an output that would destroy something it must not.

    ``outputs`` maps each output flag (``--report``) to its path, or None when not given.
    Each is compared with each of ``inputs`` by resolved path, and by ``Path.samefile``
    when both exist (a hard link, a differently spelled mount), so ``plan fx.csv --report
    fx.csv`` never replaces the export with its report. Standard input (``-``) has no file
    to protect. Two outputs naming one file, or one naming the state file that ``state``
    (``--state``, else ``$COMMUNAL_SYNC_STATE`` or the default; none for ``--sandbox``
    without ``--state``) selects, are refused too, and so is an output that could not be
    written where it names (``check_writable``).
    """
    written = {flag: Path(target) for flag, target in outputs.items() if target is not None}
    if written:
        _refuse_shared_outputs(written, _state_in_use(state, sandbox=sandbox))
    for file in inputs:
        if file is None or str(file) == STDIN:
            continue
        for flag, target in written.items():
            if _same_file(Path(file), target):
                raise UsageError(
                    f"{flag} {str(target)!r} is the input file {str(file)!r}: writing it "
                    f"would destroy the input. Give {flag} another file name."
                )
    for flag, target in written.items():
        check_writable(flag, target)


def check_writable(flag: str, path: Path) -> None:
    """Refuse (``UsageError``) an output that could not be written at ``path``.

    A ``--report`` must have a format's extension; the path must not be a folder; its
    folder must exist, be a folder, and take a new file. That last is tried by creating
    and removing a probe file there, since ``os.access`` says yes to root even on a
    read-only mount. Every output is written to a temporary file in that folder and
    renamed over the old one, so the folder, not the old file, is what must be writable.
    """
    if flag == REPORT_FLAG:
        from communal_sync.reports import report_format

        try:
            report_format(path)
        except UsageError as error:
            raise UsageError(f"{flag}: {error}") from None
    shown = str(path)
    if path.is_dir():
        raise UsageError(f"{flag} {shown!r} is a folder: give a file name inside it.")
    folder = path.parent
    if not folder.exists():
        raise UsageError(
            f"{flag} {shown!r}: the folder {str(folder)!r} does not exist. Create it first, "
            f"or give {flag} a path in an existing folder."
        )
    if not folder.is_dir():
        raise UsageError(
            f"{flag} {shown!r}: {str(folder)!r} is not a folder. Give {flag} a path in a folder."
        )
    try:
        probe = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed (and removed) at once
            prefix=".communal-sync-probe-", dir=folder, delete=False
        )
    except OSError as error:
        raise UsageError(
            f"{flag} {shown!r}: cannot create a file in {str(folder)!r} "
            f"({error.strerror or error}). Give {flag} a path in a writable folder."
        ) from None
    probe.close()
    with contextlib.suppress(OSError):
        Path(probe.name).unlink()


def _state_in_use(state: str | None, *, sandbox: bool) -> Path | None:
    """The state file the command will open, or None for a sandbox's temporary file."""
    from communal_sync.state.location import resolve_state_path

    chosen = state or None
    if sandbox and chosen is None:
        return None
    return resolve_state_path(chosen, os.environ)


def _refuse_shared_outputs(written: Mapping[str, Path], state: Path | None) -> None:
    """Refuse two output options naming one file, or one naming the state file (or its
    lock): the second write would replace the first, or the identity map and history."""
    from communal_sync.state.location import lock_path_for

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
    """Whether two paths name one file; a path that cannot be resolved (a symlink loop:
    ``RuntimeError`` on Python 3.11, ``OSError`` later) names no existing file."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and a.samefile(b)
    except (OSError, RuntimeError):
        return False


def say_written(what: str, path: Path, *, quiet: bool = False) -> None:
    """Say on stderr that a file was written ("Report written to r.html"), one line.

    Not with ``--quiet``; with ``--log-format json`` a ``written`` event instead.
    """
    if events.json_mode():
        events.emit("written", what=what.lower(), path=str(path))
    elif not quiet:
        stderr_console().print(escape(for_terminal(f"{what} written to {path}")))


def say_next(hint: str, *, quiet: bool = False) -> None:
    """Say on stderr what to run next ("Apply it with: ..."); not with ``--quiet`` nor
    with ``--log-format json`` (whose events say what was written)."""
    if not events.json_mode() and not quiet:
        stderr_console().print(escape(for_terminal(hint)))
