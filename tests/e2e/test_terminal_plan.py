"""The terminal plan through the real CLI against the sandbox, at 30 and 400 users.

The summary line first and last (the rows not pushed repeated under it, the question
naming the count), the count per field, a named heading for every user shown, at most 50
users unless ``--show all``, first-time writes over values Communal never shows folded
into one line, ``--quiet``, colour only on a terminal and never under ``NO_COLOR``,
``--resume`` showing only what is left, and repeated warnings said once.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.cli import CliResult
from support.push import BIG_FIRST_ID, big_seed, env_for, request_counts, write_big_export

from communal_sync.cli import flow
from communal_sync.cli import prompt as terminal_prompt
from communal_sync.cli.render import SHOWN_USERS
from communal_sync.sandbox import Faults, Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

USER_HEADING = re.compile(r"^User (\d+) \(Member(\d+) After\2, line \d+, matched by id\)$")
"""A user's heading as ``write_big_export`` names them: every one carries the name."""
ANY_ESCAPE = "\x1b"
KILL_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.01


def changed(count: int) -> int:
    """Members of ``write_big_export(count)`` whose last name changes (all but every 6th)."""
    return sum(1 for n in range(count) if n % 6)


def headings(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("User ")]


def write_address_export(path: Path, count: int, *, rename_every: int = 5) -> Path:
    """Every member gets a first address (Communal never shows one); every 5th is renamed."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email", "profile_address"])
        for n in range(count):
            last = f"After{n}" if n % rename_every == 0 else f"Before{n}"
            address = f"{n + 1} King St"
            writer.writerow(
                [BIG_FIRST_ID + n, f"Member{n}", last, f"member{n}@example.org", address]
            )
    return path


@pytest.fixture
def big(request: pytest.FixtureRequest) -> Any:
    """A sandbox of ``count`` members (the test's ``param``), its export and environment."""
    count: int = request.param
    tmp_path: Path = request.getfixturevalue("tmp_path")
    export = write_big_export(tmp_path / "members.csv", count)
    with Sandbox(big_seed(count)) as sandbox:
        yield SimpleNamespace(
            count=count, export=export, sandbox=sandbox, env=env_for(sandbox, tmp_path / "s.db")
        )


# --- the summary first and last, names, truncation -----------------------------------------


@pytest.mark.parametrize("big", [30], indirect=True)
def test_a_30_user_plan_names_every_user_and_says_the_summary_first_and_last(
    cli: Cli, big: Any
) -> None:
    result = cli("plan", str(big.export), env=big.env)

    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    summary = f"Plan for {big.export}: 25 users to update, 5 unchanged"
    assert lines[0] == summary
    assert lines[1] == "Per field: last_name 25"
    assert lines[-1] == summary
    assert "Not pushed" not in result.stdout
    users = headings(result.stdout)
    assert len(users) == 25
    assert all(USER_HEADING.match(line) for line in users), users
    assert "  last_name: Before1 → After1  [live]" in lines
    assert "more users" not in result.stdout


@pytest.mark.parametrize("big", [400], indirect=True)
def test_a_400_user_plan_shows_50_named_users_then_says_how_many_more_and_where(
    cli: Cli, big: Any, tmp_path: Path
) -> None:
    to_update = changed(400)
    result = cli("plan", str(big.export), env=big.env)

    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    summary = f"Plan for {big.export}: {to_update} users to update, {400 - to_update} unchanged"
    assert (lines[0], lines[-1]) == (summary, summary)
    assert f"Changes ({to_update} users):" in lines
    users = headings(result.stdout)
    assert len(users) == SHOWN_USERS
    assert all(USER_HEADING.match(line) for line in users), users
    hidden = to_update - SHOWN_USERS
    assert f"…and {hidden} more users (the full list: --report plan.html / --show all)" in lines

    report = tmp_path / "plan.html"
    with_report = cli("plan", str(big.export), "--report", str(report), env=big.env)
    assert f"…and {hidden} more users (the full list is in {report}; --show all prints it)" in (
        with_report.stdout.splitlines()
    )
    assert report.read_text(encoding="utf-8").count("After399") >= 1

    everything = cli("plan", str(big.export), "--show", "all", env=big.env)
    all_users = headings(everything.stdout)
    assert len(all_users) == to_update
    assert all(USER_HEADING.match(line) for line in all_users)
    assert "more users" not in everything.stdout


def test_the_question_names_the_count_under_the_summary_and_the_rows_not_pushed(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.push import EXPORT

    asked: list[str] = []

    def decline(question: str, default: bool = False) -> bool:
        asked.append(question)
        return False

    monkeypatch.setattr(flow, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))
    monkeypatch.setattr(terminal_prompt, "ask_yes_no", decline)

    result = cli("push", str(EXPORT), env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert asked == ["Apply these changes to 4 users?"]
    lines = result.stdout.splitlines()
    summary = f"Plan for {EXPORT}: 4 users to update, 2 unchanged, 1 invalid"
    assert lines[0] == summary
    # What was on screen right above the question, then the answer's consequence.
    assert lines[-3:] == [summary, "Not pushed: 1 invalid.", "Nothing was sent."]
    assert request_counts(sandbox)["PUT"] == 0


# --- first-time writes ----------------------------------------------------------------------


def test_first_time_address_writes_are_folded_into_one_line_and_never_mixed_with_changes(
    cli: Cli, tmp_path: Path
) -> None:
    export = write_address_export(tmp_path / "addresses.csv", 30)
    with Sandbox(big_seed(30)) as sandbox:
        result = cli("plan", str(export), env=env_for(sandbox, tmp_path / "s.db"))

    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    summary = (
        f"Plan for {export}: 30 users to update, 0 unchanged, "
        "30 first-time writes over values Communal never shows"
    )
    assert (lines[0], lines[-1]) == (summary, summary)
    assert lines[1] == "Per field: last_name 6 · profile_address 30, of which 30 first-time"
    assert "Changes (6 users):" in lines
    # Only the 6 renamed users are listed; the 24 with only an address are folded entirely.
    assert [int(h.split()[1]) for h in headings(result.stdout)] == [
        BIG_FIRST_ID + n for n in range(0, 30, 5)
    ]
    assert "King St" not in result.stdout
    fold = lines.index(
        "First-time writes over values Communal never shows (folded; --show all lists them):"
    )
    assert lines[fold + 1] == "  30 users: first address push (profile_address 30)"


def test_show_all_lists_every_first_time_write_in_its_own_section(cli: Cli, tmp_path: Path) -> None:
    export = write_address_export(tmp_path / "addresses.csv", 30)
    with Sandbox(big_seed(30)) as sandbox:
        result = cli("plan", str(export), "--show", "all", env=env_for(sandbox, tmp_path / "s.db"))

    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("First-time writes over values Communal never shows:")
    changes = lines[:start]
    first_time = lines[start:]
    assert not any("King St" in line for line in changes), "first-time writes mixed in"
    assert len(headings("\n".join(first_time))) == 30
    assert "  profile_address: (unknown) → 1 King St  [first-time]" in first_time
    assert "User 1001 (Member0 After0, line 2, matched by id)" in changes
    assert "User 1002 (Member1 Before1, line 3, matched by id)" in first_time


# --- --quiet --------------------------------------------------------------------------------


@pytest.mark.parametrize("big", [30], indirect=True)
def test_quiet_prints_exactly_the_summary_line(cli: Cli, big: Any) -> None:
    planned = cli("plan", str(big.export), "--quiet", env=big.env)
    dry = cli("push", str(big.export), "--dry-run", "-q", env=big.env)

    assert (planned.exit_code, dry.exit_code) == (0, 0)
    assert planned.stdout == f"Plan for {big.export}: 25 users to update, 5 unchanged\n"
    assert dry.stdout == planned.stdout

    pushed = cli("push", str(big.export), "--yes", "--quiet", env=big.env)

    assert pushed.exit_code == 0, pushed.stderr
    assert pushed.stdout == "Run 1: 25 users updated, 5 unchanged\n"
    assert pushed.stderr == ""


def test_quiet_keeps_the_exit_code_of_rows_that_need_attention(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    from support.push import EXPORT

    planned = cli("plan", str(EXPORT), "--quiet", env=sandbox_env)
    pushed = cli("push", str(EXPORT), "--yes", "--quiet", env=sandbox_env)

    assert planned.exit_code == 3
    assert planned.stdout == f"Plan for {EXPORT}: 4 users to update, 2 unchanged, 1 invalid\n"
    assert pushed.exit_code == 3
    assert pushed.stdout == "Run 1: 4 users updated, 2 unchanged, 1 invalid\n"


# --- colour ---------------------------------------------------------------------------------


def test_output_that_is_not_a_terminal_has_no_escape_codes(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.push import EXPORT

    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm-256color")

    planned = cli("plan", str(EXPORT), env=sandbox_env)
    missing = cli("plan", "no-such-file.csv", env=sandbox_env)

    assert "Invalid rows" in planned.stdout
    assert missing.stderr.startswith("Error: ")
    for text in (planned.stdout, planned.stderr, missing.stdout, missing.stderr):
        assert ANY_ESCAPE not in text


def test_forced_colour_styles_values_and_errors_unless_no_color(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.push import EXPORT

    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("FORCE_COLOR", "1")

    coloured = cli("plan", str(EXPORT), env=sandbox_env)
    error = cli("plan", "no-such-file.csv", env=sandbox_env)

    assert "\x1b[31m+1 416 555 0101\x1b[0m" in coloured.stdout  # the old value, red
    assert "\x1b[32m+1 416 555 0199\x1b[0m" in coloured.stdout  # the new value, green
    assert error.stderr.startswith("\x1b[1;31mError:\x1b[0m ")

    monkeypatch.setenv("NO_COLOR", "1")
    plain = cli("plan", str(EXPORT), env=sandbox_env)
    plain_error = cli("plan", "no-such-file.csv", env=sandbox_env)

    assert ANY_ESCAPE not in plain.stdout + plain_error.stderr
    assert "  telephone: +1 416 555 0101 → +1 416 555 0199  [live]" in plain.stdout.splitlines()


# --- --resume -------------------------------------------------------------------------------


def kill_after(sandbox: Sandbox, args: list[str], state: Path, puts: int) -> None:
    """Run the real ``communal-sync ARGS --yes`` as a process; SIGKILL it after ``puts`` PUTs."""
    command = [
        sys.executable, "-m", "communal_sync", *args, "--yes",
        "--concurrency", "2", "--base-url", sandbox.base_url, "--state", str(state),
    ]  # fmt: skip
    env = {**os.environ, "COMMUNAL_API_KEY": sandbox.manager_key}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
        while sum(1 for e in sandbox.requests() if e["method"] == "PUT") < puts:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the push ended, or sent too few PUTs, before it could be killed")
            time.sleep(POLL_SECONDS)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=KILL_TIMEOUT_SECONDS)


def test_resume_after_a_killed_push_shows_and_asks_about_only_what_is_left(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = write_big_export(tmp_path / "members.csv", 30)
    state = tmp_path / "s.db"
    with Sandbox(big_seed(30), faults=Faults(latency_ms=30)) as sandbox:
        kill_after(sandbox, ["push", str(export)], state, 8)
        sandbox.set_faults(Faults())
        with open_state(state) as store:
            (run,) = store.journal.list_runs()
            done = {r.user_id for r in store.journal.results(run.id) if r.status == "applied"}
        left = 25 - len(done)
        assert 0 < len(done) < 25
        asked: list[str] = []

        def answer_yes(question: str, default: bool = False) -> bool:
            asked.append(question)
            return True

        monkeypatch.setattr(
            flow, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
        )
        monkeypatch.setattr(terminal_prompt, "ask_yes_no", answer_yes)

        resumed = cli("push", str(export), "--resume", env=env_for(sandbox, state))

    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    lines = resumed.stdout.splitlines()
    assert lines[0] == f"Resuming run {run.id}: {len(done)} of 25 users done, {left} left."
    summary = f"Plan for {export}: {left} {'user' if left == 1 else 'users'} to update, 5 unchanged"
    assert lines[1] == summary
    assert asked == [f"Apply these changes to {left} {'user' if left == 1 else 'users'}?"]
    shown = [int(h.split()[1]) for h in headings(resumed.stdout)]
    assert len(shown) == left
    assert not set(shown) & done, "a user already done was shown again"
    # The PUTs in flight when it was killed landed unanswered: left, then found landed.
    counts = re.fullmatch(
        rf"Run {run.id}: (\d+) users? updated, (\d+) already applied, 5 unchanged", lines[-1]
    )
    assert counts is not None, lines[-1]
    updated, already = int(counts.group(1)), int(counts.group(2))
    assert (updated + already, already >= len(done)) == (25, True)


def test_applying_an_interrupted_saved_plan_again_shows_only_what_is_left(
    cli: Cli, tmp_path: Path
) -> None:
    export = write_big_export(tmp_path / "members.csv", 30)
    saved = tmp_path / "plan.json"
    state = tmp_path / "s.db"
    with Sandbox(big_seed(30), faults=Faults(latency_ms=30)) as sandbox:
        env = env_for(sandbox, state)
        assert cli("plan", str(export), "--out", str(saved), "-q", env=env).exit_code == 0
        kill_after(sandbox, ["apply", str(saved)], state, 8)
        sandbox.set_faults(Faults())
        with open_state(state) as store:
            (run,) = store.journal.list_runs()
            done = {r.user_id for r in store.journal.results(run.id) if r.status == "applied"}

        again = cli("apply", str(saved), "--yes", env=env)

    assert again.exit_code == 0, again.stdout + again.stderr
    left = 25 - len(done)
    lines = again.stdout.splitlines()
    assert lines[0] == f"Resuming run {run.id}: {len(done)} of 25 users done, {left} left."
    assert lines[1].startswith(f"Plan for {export}: {left} users to update, 5 unchanged")
    assert not {int(h.split()[1]) for h in headings(again.stdout)} & done


# --- repeated warnings ----------------------------------------------------------------------


def test_revert_dry_run_says_a_warning_repeated_for_many_users_once_with_the_count(
    cli: Cli, tmp_path: Path
) -> None:
    first = write_address_export(tmp_path / "first.csv", 30)
    moved = tmp_path / "moved.csv"
    moved.write_text(
        first.read_text(encoding="utf-8").replace(" King St", " Queen St"), encoding="utf-8"
    )
    with Sandbox(big_seed(30)) as sandbox:
        env = env_for(sandbox, tmp_path / "s.db")
        assert cli("push", str(first), "--yes", "-q", env=env).exit_code == 0
        assert cli("push", str(moved), "--yes", "-q", env=env).exit_code == 0

        result = cli("revert", "2", "--dry-run", env=env)

    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        "Warning: 30 users (1001, 1002, 1003 and 27 more): profile_address before run 2 is "
        "unknown (the value we had was our own last push; Communal does not show it), so it is "
        "left alone. Use --restore-unverified to put back the last-known value."
    ]


@pytest.mark.parametrize("big", [30], indirect=True)
def test_a_plan_with_nothing_to_list_is_its_summary_line_alone(cli: Cli, big: Any) -> None:
    assert cli("push", str(big.export), "--yes", "-q", env=big.env).exit_code == 0

    again = cli("plan", str(big.export), env=big.env)

    assert again.exit_code == 0, again.stderr
    assert again.stdout == f"Plan for {big.export}: 0 users to update, 30 unchanged\n"
