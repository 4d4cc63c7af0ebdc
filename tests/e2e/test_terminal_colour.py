"""The plan on a real terminal (a pty): in colour, the summary and the rows not pushed right
above the exact question; under ``NO_COLOR`` the same screen without one colour or style code."""

from __future__ import annotations

import os
import re
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
"""The whole question, its trailing space included (written by the read itself): an
answer typed before it would be echoed before the space."""
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
STYLE = re.compile(r"\x1b\[[0-9;]*m")
"""A colour or text-style code (SGR): what NO_COLOR rules out. Cursor control (the live
"Reading 7/7 users…" bar hiding the cursor and redrawing its line) is not colour."""
READING_BAR = re.compile(r"^\S? *Reading (the file…|\d+/\d+ users…)")
SUMMARY = f"Plan for {EXPORT}: 4 users to update, 2 unchanged, 1 invalid"


def push_and_answer_no(sandbox: Sandbox, state: Path, **env: str) -> tuple[int, str]:
    """``push EXPORT`` on a pty, answered "n" at the question: its exit code and screen."""
    environment = {**os.environ, **env_for(sandbox, state), "COLUMNS": "200"}
    environment.pop("NO_COLOR", None)  # the tests' own environment sets it
    environment.update(env)
    with cli_on_pty(["push", str(EXPORT)], environment) as (process, leader):
        shown = read_until(leader, QUESTION)
        assert QUESTION in shown, shown.decode(errors="replace")
        os.write(leader, b"n\n")
        shown += read_until(leader, b"Nothing was sent.", limit=60)  # read while it exits
        code = process.wait(timeout=60)
    return code, shown.decode(errors="replace").replace("\r\n", "\n")


def screen_lines(screen: str) -> list[str]:
    """The screen's lines without escape codes, and without the reading bar's redraws (it
    is transient: on a real terminal it is gone once the plan is shown)."""
    lines = []
    for raw in ESCAPE.sub("", screen).splitlines():
        line = raw.rsplit("\r", 1)[-1].rstrip()
        if line and not READING_BAR.match(line.strip()):
            lines.append(line)
    return lines


def test_a_terminal_shows_the_plan_in_colour_with_the_summary_right_above_the_question(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    before = users_of(sandbox)

    code, screen = push_and_answer_no(sandbox, tmp_path / "s.db", TERM="xterm-256color")

    assert code == 0, screen
    assert "\x1b[31m+1 416 555 0101" in screen  # the old value, red
    assert "\x1b[32m+1 416 555 0199" in screen  # the new value, green
    lines = screen_lines(screen)
    question = next(n for n, line in enumerate(lines) if line.startswith("Apply these"))
    assert lines[question - 2 : question + 1] == [
        SUMMARY,
        "Not pushed: 1 invalid.",
        "Apply these changes to 4 users? [y/N]: n",
    ]
    assert lines[0] == SUMMARY
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before


def test_no_color_on_a_terminal_prints_no_colour_or_style_code(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    code, screen = push_and_answer_no(
        sandbox, tmp_path / "s.db", TERM="xterm-256color", NO_COLOR="1"
    )

    assert code == 0, screen
    assert not STYLE.search(screen), screen
    assert "  telephone: +1 416 555 0101 → +1 416 555 0199  [live]" in screen_lines(screen)


def test_quiet_on_a_terminal_shows_no_progress_bar_only_the_run_summary(tmp_path: Path) -> None:
    from support.push import big_seed, write_big_export

    export = write_big_export(tmp_path / "members.csv", 30)
    with Sandbox(big_seed(30)) as sandbox:
        environment = {**os.environ, **env_for(sandbox, tmp_path / "s.db"), "COLUMNS": "200"}
        environment.pop("NO_COLOR", None)
        environment["TERM"] = "xterm-256color"
        command = ["push", str(export), "--yes", "--quiet"]
        with cli_on_pty(command, environment) as (process, leader):
            screen = read_until(leader, b"unchanged", limit=60).decode(errors="replace")
            code = process.wait(timeout=60)

    assert code == 0, screen
    assert screen == "Run 1: 25 users updated, 5 unchanged\r\n"
