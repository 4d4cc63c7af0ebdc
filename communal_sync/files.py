"""Writing files that may hold personal data: private (0600) and all-or-nothing."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from communal_sync.errors import ConfigError

PRIVATE_FILE_MODE = 0o600


class WriteFailed(ConfigError):
    """A file could not be written; ``reason`` is the system's word for why ("No space
    left on device"), so a caller can say it in a sentence of its own."""

    def __init__(self, message: str, *, path: Path, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


@contextlib.contextmanager
def private_writer(path: Path, *, newline: str | None = None) -> Iterator[IO[str]]:
    """Open a text file that appears at ``path`` only if the block finishes, mode 0600.

    The data goes to a temporary file beside ``path`` and is renamed over it at the end,
    so an interrupted or failed write never leaves a half-written report behind. A failed
    write (a full disk) is a ``ConfigError`` naming ``path``; the temporary file is removed.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        reason = error.strerror or str(error)
        raise WriteFailed(
            f"Cannot write {path}: {reason}. Check that the folder exists and is writable.",
            path=path,
            reason=reason,
        ) from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as error:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        reason = error.strerror or str(error)
        raise WriteFailed(
            f"Cannot write {path}: {reason}. Nothing was written there; "
            "free some space or choose another folder.",
            path=path,
            reason=reason,
        ) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600."""
    with private_writer(path) as handle:
        handle.write(text)
