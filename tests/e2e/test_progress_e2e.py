"""Progress while planning reads users and while a plan is applied, through the real CLI.

The CLI runs in-process against the sandbox; "a terminal" is stderr made to say it is one
and a rich console that renders as one into a buffer. Time is a fake clock: nothing
sleeps, and no assertion depends on how long anything took.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console
from support.push import EXPORT, big_seed, env_for, write_big_export

from communal_sync.cli import progress as progress_module
from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

MEMBERS = 30
CHANGED = 25  # every 6th member of ``write_big_export`` is unchanged


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_big_export(tmp_path / "members.csv", MEMBERS)


@pytest.fixture
def big() -> Any:
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        yield sandbox


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, *, term: str) -> io.StringIO:
    """Make stderr a terminal of type ``term`` for the progress displays; return its screen."""
    monkeypatch.setenv("TERM", term)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(progress_module, "stderr_console", lambda: console)
    monkeypatch.setattr(
        progress_module, "sys", SimpleNamespace(stderr=SimpleNamespace(isatty=lambda: True))
    )
    return screen


def a_clock_of_seconds(monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    """Each reading of the clock is ``step`` seconds after the one before."""
    ticks = itertools.count()
    monkeypatch.setattr(progress_module, "monotonic", lambda: next(ticks) * step)


def counts(lines: list[str], label: str) -> list[tuple[int, int]]:
    pattern = re.compile(rf"^{label}: (\d+)/(\d+)")
    found = [pattern.match(line) for line in lines if line.startswith(label)]
    return [(int(m[1]), int(m[2])) for m in found if m]


def test_a_dumb_terminal_gets_occasional_plain_lines_ending_with_the_real_counts(
    cli: Cli, big: Sandbox, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = on_a_terminal(monkeypatch, term="dumb")
    a_clock_of_seconds(monkeypatch, progress_module.PLAIN_EVERY_SECONDS / 2)

    result = cli("push", str(export), "--yes", env=env_for(big, tmp_path / "state.db"))

    assert result.exit_code == 0, result.stdout + result.stderr
    lines = screen.getvalue().splitlines()
    assert "\x1b" not in screen.getvalue()  # nothing redrawn in place
    reading = counts(lines, "Reading users")
    updating = counts(lines, "Updating users")
    assert len(reading) >= 3 and reading == sorted(reading)
    assert reading[-1] == (MEMBERS, MEMBERS)
    assert len(updating) >= 3 and updating == sorted(updating)
    assert lines[-1] == f"Updating users: {CHANGED}/{CHANGED}, 0 failed"
    assert lines == [line for line in lines if line.startswith(("Reading users", "Updating"))]


def test_a_quick_plan_on_a_dumb_terminal_prints_no_progress_line(
    cli: Cli, big: Sandbox, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = on_a_terminal(monkeypatch, term="dumb")
    monkeypatch.setattr(progress_module, "monotonic", lambda: 0.0)  # no time passes

    result = cli("plan", str(export), env=env_for(big, tmp_path / "state.db"))

    assert result.exit_code == 0, result.stdout + result.stderr
    assert screen.getvalue() == ""


def test_a_terminal_shows_reading_users_then_a_bar_left_at_the_real_count(
    cli: Cli, big: Sandbox, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = on_a_terminal(monkeypatch, term="xterm")

    result = cli("push", str(export), "--yes", env=env_for(big, tmp_path / "state.db"))

    assert result.exit_code == 0, result.stdout + result.stderr
    shown = screen.getvalue()
    assert f"Reading {MEMBERS}/{MEMBERS} users…" in shown
    assert "Updated users" in shown
    final_bar = shown.rsplit("Updated users", 1)[1]
    assert f"{CHANGED}/{CHANGED}" in final_bar and "0 failed" in final_bar
    assert f"Run 1: {CHANGED} users updated, 5 unchanged" in result.stdout


def test_plan_full_refresh_shows_reading_progress_for_every_row(
    cli: Cli, big: Sandbox, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.db"
    assert cli("push", str(export), "--yes", env=env_for(big, state)).exit_code == 0
    screen = on_a_terminal(monkeypatch, term="xterm")

    result = cli("plan", str(export), "--full-refresh", env=env_for(big, state))

    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"Reading {MEMBERS}/{MEMBERS} users…" in screen.getvalue()
    assert "Updat" not in screen.getvalue()  # a plan sends nothing, so no apply bar


def test_not_a_terminal_nothing_is_drawn(
    cli: Cli, big: Sandbox, export: Path, tmp_path: Path
) -> None:
    result = cli("push", str(export), "--yes", env=env_for(big, tmp_path / "state.db"))

    assert result.exit_code == 0
    assert result.stderr == ""


def test_json_logs_on_a_terminal_get_only_events(
    cli: Cli, big: Sandbox, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = on_a_terminal(monkeypatch, term="xterm")
    a_clock_of_seconds(monkeypatch, progress_module.PLAIN_EVERY_SECONDS)

    result = cli(
        "--log-format", "json", "push", str(export), "--yes",
        env=env_for(big, tmp_path / "state.db"),
    )  # fmt: skip

    assert result.exit_code == 0, result.stdout + result.stderr
    assert screen.getvalue() == ""
    names = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert names[-1] == "run_finished"


def test_the_demo_export_on_a_dumb_terminal_counts_invalid_rows_as_planned(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every row of the file counts, read or not (the invalid row is planned as invalid)."""
    export = tmp_path / "export.csv"
    shutil.copyfile(EXPORT, export)
    screen = on_a_terminal(monkeypatch, term="dumb")
    a_clock_of_seconds(monkeypatch, progress_module.PLAIN_EVERY_SECONDS)

    result = cli("plan", str(export), env=sandbox_env)

    assert result.exit_code == 3
    reading = counts(screen.getvalue().splitlines(), "Reading users")
    assert reading[-1] == (7, 7)
