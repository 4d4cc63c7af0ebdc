"""The progress bar: drawn on a terminal, never in cron, never between JSON events."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from rich.console import Console

from communal_sync.cli import events
from communal_sync.cli import progress as progress_module
from communal_sync.cli.progress import progress_reporter
from communal_sync.plan import Outcome

OUTCOMES = (
    Outcome(user_id=101, line=2, status="applied", http_status=200),
    Outcome(user_id=102, line=3, status="failed", http_status=422, message="Rejected."),
    Outcome(user_id=103, line=4, status="applied", http_status=200),
)


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What a terminal on stderr would show: a console that renders as one (conftest's
    TERM=dumb would switch live displays off)."""
    monkeypatch.setenv("TERM", "xterm")
    written = io.StringIO()
    console = Console(file=written, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(progress_module, "stderr_console", lambda: console)
    return written


@pytest.fixture
def text_log() -> Iterator[None]:
    events.configure("text")
    yield
    events.configure("text")


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    stderr = SimpleNamespace(isatty=lambda: tty)
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=stderr))


def report_all(total: int) -> None:
    with progress_reporter(total, run_id=1, redact=False) as report:
        for outcome in OUTCOMES[:total]:
            report(outcome)


def test_a_terminal_gets_a_bar_counting_users_and_failures(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO, text_log: None
) -> None:
    on_a_terminal(monkeypatch, tty=True)

    report_all(3)

    shown = screen.getvalue()
    assert "Updating users" in shown
    assert "3/3" in shown
    assert "1 failed" in shown


def test_no_terminal_no_bar(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO, text_log: None
) -> None:
    on_a_terminal(monkeypatch, tty=False)

    report_all(3)

    assert screen.getvalue() == ""


def test_json_events_get_no_bar_but_an_outcome_event_per_problem(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    on_a_terminal(monkeypatch, tty=True)
    events.configure("json")
    try:
        report_all(3)
    finally:
        events.configure("text")

    assert screen.getvalue() == ""
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and '"event": "outcome"' in lines[0] and '"user_id": 102' in lines[0]


def test_nothing_to_send_draws_no_bar(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO, text_log: None
) -> None:
    on_a_terminal(monkeypatch, tty=True)

    report_all(0)

    assert screen.getvalue() == ""


def test_the_bar_left_on_screen_after_ctrl_c_shows_the_users_that_got_an_outcome(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO, text_log: None
) -> None:
    on_a_terminal(monkeypatch, tty=True)

    with pytest.raises(KeyboardInterrupt), progress_reporter(3, run_id=1, redact=False) as report:
        report(OUTCOMES[0])
        report(OUTCOMES[1])
        raise KeyboardInterrupt

    final = screen.getvalue().rsplit("Updated users", 1)[1]
    assert "2/3" in final and "1 failed" in final


def test_plain_lines_say_nothing_for_a_short_wait(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO
) -> None:
    monkeypatch.setattr(progress_module, "monotonic", lambda: 0.0)
    lines = progress_module.PlainLines(every=5.0)

    lines.tick(lambda: "Reading users: 1/2")
    lines.finish("Reading users: 2/2")

    assert screen.getvalue() == ""


def test_plain_lines_come_every_few_seconds_and_end_with_the_final_count(
    monkeypatch: pytest.MonkeyPatch, screen: io.StringIO
) -> None:
    now = iter([0.0, 1.0, 5.0, 6.0, 9.0, 10.0])  # the start, then one reading per tick
    monkeypatch.setattr(progress_module, "monotonic", lambda: next(now))
    lines = progress_module.PlainLines(every=5.0)

    for done in range(1, 6):
        lines.tick(lambda done=done: f"Reading users: {done}/6")
    lines.finish("Reading users: 6/6")

    assert screen.getvalue().splitlines() == [
        "Reading users: 2/6",
        "Reading users: 5/6",
        "Reading users: 6/6",
    ]
