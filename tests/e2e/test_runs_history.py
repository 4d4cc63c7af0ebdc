"""``runs`` and ``runs show`` through the real CLI: a missing state file is said and not
created, interrupted and resumed runs are marked, durations are shown, and ``runs show``
lists outcomes in plan order with the fields each changed."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.push import EXPORT, big_seed, env_for, write_big_export

import communal_sync.cli.flow as flow_module
from communal_sync.cli.runs import duration_text
from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

WIDE = {"COLUMNS": "300"}
NO_STATE = (
    "No state file at {path}: nothing has been run with it yet. (The sandbox uses a "
    "temporary state unless --state is given.)\n"
)


def flat(text: str) -> str:
    """``text`` on one line, table borders and the terminal's wrapping taken out."""
    return " ".join(text.replace("│", " ").split())


# --- no state file yet --------------------------------------------------------------------


def test_runs_after_the_sandbox_quick_start_says_there_is_no_state_and_creates_none(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state" / "state.db"
    monkeypatch.setenv("COMMUNAL_SYNC_STATE", str(state))
    export = Path(shutil.copy(EXPORT, tmp_path / "export.csv"))
    assert cli("push", str(export), "--sandbox", "--yes").exit_code == 3

    result = cli("runs")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == NO_STATE.format(path=state)
    assert not state.parent.exists()  # neither the file, its lock nor its folder


def test_runs_json_without_a_state_file_is_an_empty_list(cli: Cli, tmp_path: Path) -> None:
    state = tmp_path / "none.db"

    result = cli("runs", "--json", "--state", str(state))

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert result.stderr == NO_STATE.format(path=state)
    assert list(tmp_path.iterdir()) == []


def test_runs_show_without_a_state_file_is_a_usage_error_creating_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    state = tmp_path / "none.db"

    result = cli("runs", "show", "3", "--state", str(state))

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: There is no run 3: no state file at {state}, ")
    assert result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


# --- interrupted and resumed runs -----------------------------------------------------------


@contextlib.contextmanager
def ctrl_c_after(count: int, total: int, *, run_id: int, redact: bool) -> Iterator[Any]:
    """Progress that presses Ctrl-C (in the main thread) once ``count`` users finished."""
    seen = 0

    def on_outcome(outcome: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == count:
            raise KeyboardInterrupt

    yield on_outcome


def test_an_interrupted_run_then_its_resume_are_marked_in_runs_and_runs_show(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_big_export(tmp_path / "members.csv", 12)
    with Sandbox(big_seed(12)) as big:
        env = env_for(big, tmp_path / "state.db") | WIDE
        with monkeypatch.context() as patched:
            patched.setattr(
                flow_module,
                "progress_reporter",
                lambda total, **kw: ctrl_c_after(3, total, **kw),
            )
            first = cli("push", str(export), "--yes", "--concurrency", "1", env=env)
        assert first.exit_code == 130, first.stdout + first.stderr

        interrupted = json.loads(cli("runs", "--json", env=env).stdout)[0]
        listed = flat(cli("runs", env=env).stdout)
        resumed = cli("push", str(export), "--yes", "--resume", env=env)
        assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
        after = json.loads(cli("runs", "--json", env=env).stdout)
        listed_after = flat(cli("runs", env=env).stdout)
        shown = cli("runs", "show", "1", env=env).stdout

    assert (interrupted["status"], interrupted["resumed"], interrupted["exit_code"]) == (
        "interrupted",
        0,
        130,
    )
    assert "1 push interrupted " in listed
    assert len(after) == 1  # the resume continues run 1 under its own id
    (run,) = after
    assert (run["status"], run["resumed"], run["exit_code"]) == ("finished", 1, 0)
    assert [(a["attempt"], a["status"], a["exit_code"]) for a in run["attempts"]] == [
        (1, "interrupted", 130),
        (2, "finished", 0),
    ]
    assert run["duration_seconds"] == sum(a["duration_seconds"] for a in run["attempts"])
    assert "1 push finished, resumed " in listed_after
    lines = shown.splitlines()
    assert lines[0].startswith(f"Run 1 (push, finished, resumed) of {export}, started ")
    assert lines[1].startswith("Attempt 1 (first run): started ")
    assert ", interrupted after " in lines[1] and lines[1].endswith(" (exit code 130)")
    assert lines[2].startswith("Attempt 2 (resume): started ")
    assert ", finished after " in lines[2] and lines[2].endswith(" (exit code 0)")


def test_runs_shows_how_long_each_run_took(cli: Cli, tmp_path: Path) -> None:
    """A run journalled with a clock that moves on: started, then 4m 12s later finished."""
    path = tmp_path / "state.db"
    start = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
    times = iter([start, start + timedelta(minutes=4, seconds=12)])
    with open_state(path, clock=lambda: next(times)) as store:
        run_id = store.journal.start_run("push", input_name="people.csv")
        store.journal.finish_run(run_id, status="finished", exit_code=0, counts={"applied": 3})

    result = cli("runs", "--state", str(path), env=WIDE)

    assert result.exit_code == 0, result.stderr
    assert "1 push finished 2026-11-27 02:30:00 4m 12s people.csv 3 applied 0" in flat(
        result.stdout
    )
    shown = cli("runs", "show", "1", "--state", str(path), env=WIDE)
    assert shown.stdout.splitlines()[0] == (
        "Run 1 (push, finished) of people.csv, started 2026-11-27 02:30:00, exit code 0, "
        "took 4m 12s"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (12.4, "12s"), (59.6, "1m 0s"), (252, "4m 12s"), (7500, "2h 5m")],
)
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


# --- runs show: plan order, field names -----------------------------------------------------


def test_runs_show_lists_users_in_plan_order_with_the_fields_each_changed(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = Path(shutil.copy(EXPORT, tmp_path / "export.csv"))
    assert cli("push", str(export), "--yes", env=sandbox_env).exit_code == 3

    shown = json.loads(cli("runs", "show", "1", "--json", env=sandbox_env).stdout)
    table = cli("runs", "show", "1", env=sandbox_env | WIDE).stdout

    assert [(r["user_id"], r["line"], r["fields"]) for r in shown["results"]] == [
        (101, 2, ["telephone"]),
        (103, 4, ["preferred_name"]),
        (104, 5, ["date_of_birth", "last_name"]),
        (110, 8, ["preferred_name"]),
    ]
    assert "101 2 profile: telephone applied 200" in flat(table)
    assert "104 5 profile: date_of_birth, last_name applied 200" in flat(table)


def test_runs_show_orders_by_the_plan_not_by_when_each_result_was_recorded(
    cli: Cli, tmp_path: Path
) -> None:
    """Results journalled in reverse (the last user finished first): shown as planned."""
    path = tmp_path / "state.db"
    planned = [(301, 9), (205, 2), (117, 5)]  # the plan's order is not the lines' order
    plan = {"users": [{"user_id": user_id, "line": line} for user_id, line in planned]}
    with open_state(path) as store:
        run_id = store.journal.start_run("push", input_name="x.csv", plan_json=json.dumps(plan))
        for user_id, line in reversed(planned):
            store.journal.record_result(
                run_id,
                operation=f"user:{user_id}",
                status="applied",
                user_id=user_id,
                source_line=line,
                before={"fields": {"telephone": "1"}, "unknown": ["profile_address"]},
            )
        store.journal.finish_run(run_id, status="finished", exit_code=0, counts={})

    shown = json.loads(cli("runs", "show", "1", "--json", "--state", str(path)).stdout)

    assert [r["user_id"] for r in shown["results"]] == [301, 205, 117]
    assert {tuple(r["fields"]) for r in shown["results"]} == {("profile_address", "telephone")}
