"""Driving the real CLI on a pseudo-terminal (pty), as a person's terminal would."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping


@contextlib.contextmanager
def cli_on_pty(
    arguments: list[str], env: Mapping[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Run ``communal-sync ARGUMENTS`` with a pseudo-terminal as its stdin, stdout and stderr,
    in a session of its own (so the test can signal its process group, as Ctrl-C does).

    Yields the process and the terminal's leader end to read and type on; on the way out a
    process still running is killed and the terminal closed.
    """
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "communal_sync", *arguments],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=dict(env),
        start_new_session=True,
    )
    os.close(follower)
    try:
        yield process, leader
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        os.close(leader)


def read_until(fd: int, wanted: bytes, *, limit: float = 60.0) -> bytes:
    """Everything the terminal shows until ``wanted`` appears (or the process ends).

    Keep reading while the program exits, as a terminal does: a program writing to a
    pseudo-terminal nobody reads can block on its way out.
    """
    seen = b""
    deadline = time.monotonic() + limit
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    return seen
