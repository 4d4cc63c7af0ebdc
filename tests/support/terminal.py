"""Driving the real CLI on a pseudo-terminal (pty), as a person's terminal would."""

from __future__ import annotations

import os
import select
import time


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
