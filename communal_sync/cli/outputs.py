"""Checking the files a command will write before it reads or sends anything.

No output may replace the input it was made from, another output of the same command, or
the state file (the identity map and history) in use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from communal_sync.cli.options import STDIN
from communal_sync.errors import UsageError


def refuse_raw_with_redact(flag: str, path: Path | None, redact: bool) -> None:
    """``--errors-out``/``--failed-out`` copy rows verbatim, which ``--redact`` forbids."""
    if path is not None and redact:
        raise UsageError(
            f"{flag} writes the rows exactly as they came in, so it cannot be combined "
            "with --redact; drop one of them."
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
    without ``--state``) selects, are refused too.
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
