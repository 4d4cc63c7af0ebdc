"""Ctrl-C at push's question exits 130 and sends nothing: a real terminal (a pty)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.push import EXPORT, env_for, request_counts, users_of

from communal_sync.sandbox import Sandbox

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal (pty)"),
]

QUESTION = b"Apply these changes to"


def read_until(fd: int, wanted: bytes, *, limit: float = 60.0) -> bytes:
    """Everything the terminal shows until ``wanted`` appears (or the process ends)."""
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


def test_ctrl_c_at_the_question_exits_130_and_sends_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    before = users_of(sandbox)
    env = {**os.environ, **env_for(sandbox, tmp_path / "state.db"), "COLUMNS": "200"}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "communal_sync", "push", str(EXPORT)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    try:
        shown = read_until(leader, QUESTION)
        assert QUESTION in shown, shown.decode(errors="replace")
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        # A terminal keeps reading what the program writes: read it while it exits, so a
        # program that flushes or restores the terminal on its way out is never stuck
        # behind a full pseudo-terminal nobody reads.
        shown += read_until(leader, b"nothing was sent", limit=60)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)

    assert code == 130, shown.decode(errors="replace")
    assert b"Interrupted at the question: nothing was sent." in shown
    assert b"Traceback" not in shown
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
