"""One run at a time per state file: an ``flock`` on ``<state file>.lock``.

The operating system releases an ``flock`` when its process ends, however it ends
(SIGKILL included), so a lock is never stale: the next run simply takes it. The file's
JSON (pid, start time, host, command) only serves to tell the refused run who holds it.
POSIX only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self

from communal_sync.errors import ConfigError, RefusedError
from communal_sync.state.database import check_adoptable
from communal_sync.state.location import PRIVATE_FILE_MODE, ensure_private_dir, lock_path_for

DEFAULT_LOCK_COMMAND: Final = "communal-sync"
HOLDER_READ_LIMIT: Final = 64 * 1024


class StateLock:
    """A held run lock; release it with ``release()`` or by leaving its ``with`` block."""

    def __init__(self, state_path: Path, lock_path: Path, fd: int, holder: dict[str, Any]):
        self.state_path = state_path
        self.lock_path = lock_path
        self.holder = holder
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """True until ``release()``."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up; calling it again does nothing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def acquire_lock(state_path: Path, *, command: str = DEFAULT_LOCK_COMMAND) -> StateLock:
    """Take the run lock for ``state_path`` without waiting, or raise ``RefusedError``.

    The refusal names the holder's pid and start time. ``command`` is written to the lock
    file for that message: pass the subcommand and input (``"push users.csv"``), never the
    full argument list, which could carry a secret.
    """
    check_adoptable(state_path)  # a refused file gets no lock file beside it
    ensure_private_dir(state_path.parent)
    lock_path = lock_path_for(state_path)
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    except OSError as error:
        raise ConfigError(
            f"Cannot open the lock file {lock_path}: {error.strerror}. "
            "Check that the state folder is writable, or pass --state with another file."
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        raise RefusedError(_refusal(state_path, holder)) from None
    except BaseException:
        os.close(fd)
        raise
    holder = {
        "pid": os.getpid(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "command": command,
    }
    try:
        data = json.dumps(holder).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    return StateLock(state_path, lock_path, fd, holder)


def _read_holder(fd: int) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        holder = json.loads(os.pread(fd, HOLDER_READ_LIMIT, 0).decode("utf-8"))
        if isinstance(holder, dict):
            return holder
    return None


def _refusal(state_path: Path, holder: dict[str, Any] | None) -> str:
    details: list[str] = []
    if holder is not None:
        pid = holder.get("pid")
        if isinstance(pid, int):
            where = f"pid {pid}"
            host = holder.get("host")
            if isinstance(host, str) and host and host != socket.gethostname():
                where += f" on {host}"
            details.append(where)
        started = _local_time(holder.get("started_at"))
        if started:
            details.append(f"started {started}")
    about = f" ({', '.join(details)})" if details else ""
    return (
        f"Another communal-sync run holds the lock on {state_path}{about}. "
        "Wait for it to finish, or stop it."
    )


def _local_time(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
