"""Ctrl-C at push's question exits 130 and sends nothing: a real terminal (a pty)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from support.push import EXPORT, env_for, request_counts, users_of
from support.terminal import cli_on_pty, read_until

from communal_sync.sandbox import Sandbox

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal (pty)"),
]

QUESTION = b"Apply these changes to 4 users? [y/N]: "
"""The whole question, its trailing space included: that space is written by the read
itself, so the program is waiting for an answer when the test presses Ctrl-C."""


def test_ctrl_c_at_the_question_exits_130_and_sends_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    before = users_of(sandbox)
    env = {**os.environ, **env_for(sandbox, tmp_path / "state.db"), "COLUMNS": "200"}
    with cli_on_pty(["push", str(EXPORT)], env) as (process, leader):
        shown = read_until(leader, QUESTION)
        assert QUESTION in shown, shown.decode(errors="replace")
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        # A terminal keeps reading what the program writes: read it while it exits, so a
        # program that flushes or restores the terminal on its way out is never stuck
        # behind a full pseudo-terminal nobody reads.
        shown += read_until(leader, b"nothing was sent", limit=60)
        code = process.wait(timeout=60)

    assert code == 130, shown.decode(errors="replace")
    assert b"Interrupted at the question: nothing was sent." in shown
    assert b"Traceback" not in shown
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
