"""``communal-sync link --from-communal`` through the real CLI against the demo sandbox.

The demo organization has 16 members (some with several memberships, some expired), a
child without an email, two users in two tenants sharing one email, and users with no
membership at all. The command must read each page and member once, say so in one line,
list what it could not map, and pick the documented exit code.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console
from support.cli import CliResult
from support.fault_servers import BreakingProxy, Canned, _Handler

from communal_sync.cli import progress as progress_module
from communal_sync.reports.redaction import REDACTED
from communal_sync.sandbox import Sandbox
from communal_sync.state import acquire_lock, open_state

Cli = Callable[..., CliResult]

SUMMARY = (
    "16 members read, 13 mapped, 1 without email, 1 email shared by 2 users: not mapped, listed"
)
MEMBERS = {101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 117, 118, 119, 120}


def gets(sandbox: Sandbox) -> list[str]:
    return [e["path"].removeprefix("/api") for e in sandbox.requests() if e["method"] == "GET"]


def test_it_reads_one_page_and_each_member_once_and_says_so_in_one_line(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    result = cli("link", "--from-communal", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == SUMMARY
    assert lines[1] == "This run: 1 page and 16 users read."
    shared = result.stdout.split("Emails shared by several users (not mapped):\n", 1)[1]
    assert "jordan.lee@example.org │ 119, 120" in shared.split("└", 1)[0]
    assert "Members without an email (not mapped): 118." in result.stdout
    paths = gets(sandbox)
    assert paths[0] == "/user_memberships?page%5Bnumber%5D=1&page%5Bsize%5D=500"
    assert sorted(int(p.rsplit("/", 1)[1]) for p in paths[1:]) == sorted(MEMBERS)
    with open_state(tmp_path / "state" / "state.db") as store:
        assert store.identity.lookup_email("Amara.Okafor@example.org") == [101]
        assert store.identity.lookup_email("jordan.lee@example.org") == [119, 120]
        assert store.binding.bound_api() == "a local sandbox (loopback)"


def test_a_second_run_reads_only_the_last_page(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    assert cli("link", "--from-communal", env=sandbox_env).exit_code == 0
    sandbox.clear_requests()

    again = cli("link", "--from-communal", env=sandbox_env)

    assert again.exit_code == 0
    assert again.stdout.splitlines()[:2] == [SUMMARY, "This run: 1 page and 0 users read."]
    assert gets(sandbox) == ["/user_memberships?page%5Bnumber%5D=1&page%5Bsize%5D=500"]


def test_full_refresh_reads_every_member_again(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    cli("link", "--from-communal", env=sandbox_env)
    sandbox.clear_requests()

    again = cli("link", "--from-communal", "--full-refresh", env=sandbox_env)

    assert again.exit_code == 0
    assert "This run: 1 page and 16 users read (16 again); the whole membership list was read." in (
        again.stdout
    )
    assert len(gets(sandbox)) == 17


def test_json_report_lists_every_count_and_what_was_not_mapped_redacted(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    result = cli("link", "--from-communal", "--format", "json", "--redact", env=sandbox_env)

    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("members", "memberships", "mapped", "without_email")} == {
        "members": 16,
        "memberships": 19,
        "mapped": 13,
        "without_email": 1,
    }
    assert report["shared"] == [{"email": REDACTED, "user_ids": [119, 120]}]
    assert (report["without_email_ids"], report["failures"]) == ([118], [])
    assert "jordan" not in result.stdout


def test_json_events_in_cron_and_no_bar(cli: Cli, sandbox_env: dict[str, str]) -> None:
    result = cli("--log-format", "json", "link", "--from-communal", env=sandbox_env)

    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events] == ["membership_page", "link_finished"]
    assert (events[0]["page"], events[0]["pages"], events[0]["members_to_read"]) == (1, 1, 16)
    assert events[1]["summary"] == SUMMARY
    assert (events[1]["exit_code"], events[1]["users_read"], events[1]["mapped"]) == (0, 16, 13)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Error: Give FILE, an id map to load, or --from-communal to read Communal's members."),
        (
            ("--from-communal", "people.csv"),
            "Error: --from-communal reads Communal, not a file: drop FILE (or drop "
            "--from-communal to load a FILE).",
        ),
        (
            ("--from-communal", "--map", "Id=id", "--dry-run"),
            "Error: --from-communal reads Communal, not a file: drop --map, --dry-run (or drop "
            "--from-communal to load a FILE).",
        ),
        (
            ("people.csv", "--full-refresh", "--sandbox"),
            "Error: link FILE reads only the file: --full-refresh, --sandbox apply to link "
            "--from-communal.",
        ),
    ],
)
def test_a_command_line_mixing_file_and_communal_is_a_usage_error(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    result = cli("link", *args)

    assert result.exit_code == 2
    assert result.stderr.strip() == message


def test_a_state_file_of_another_api_is_refused(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state" / "state.db"
    state.parent.mkdir(parents=True, exist_ok=True)
    with open_state(state) as store:
        store.binding.bind("https://api.getcommunal.com/api")

    result = cli("link", "--from-communal", env=sandbox_env)

    assert result.exit_code == 4
    assert "holds the identity map and history of https://api.getcommunal.com/api" in (
        result.stderr
    )


def test_a_wrong_key_is_one_fatal_line_and_reads_nothing_more(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("link", "--from-communal", env={**sandbox_env, "COMMUNAL_API_KEY": "wrong"})

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: The API key was not accepted (401). Check COMMUNAL_API_KEY or --api-key-file. "
        "The run stopped; what was read is kept. Run `communal-sync link --from-communal` "
        "again to continue: nothing read is read again."
    ]
    assert len(sandbox.requests()) == 1


class FailingUsers(BreakingProxy):
    """Forwards to the sandbox but answers 503 to every GET of the users in ``failing``."""

    def __init__(self, upstream_root: str, failing: set[int]) -> None:
        self.failing = failing
        super().__init__(upstream_root)

    def _respond(self, handler: _Handler, body: bytes) -> Canned | None:
        found = re.fullmatch(r"/api/users/(\d+)", handler.path)
        if handler.command == "GET" and found and int(found.group(1)) in self.failing:
            return Canned(503, b'{"message": "Service Unavailable"}')
        return super()._respond(handler, body)


def test_members_that_cannot_be_read_are_listed_exit_3_and_read_by_the_next_run(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    with FailingUsers(sandbox.root_url, {103, 110}) as proxy:
        env: dict[str, Any] = {**sandbox_env, "COMMUNAL_BASE_URL": proxy.base_url}
        first = cli("link", "--from-communal", env=env)
        proxy.failing.clear()
        sandbox.clear_requests()
        second = cli("link", "--from-communal", env=env)

    assert first.exit_code == 3, first.stdout + first.stderr
    assert first.stdout.splitlines()[0].endswith("2 not read yet")
    table = first.stdout.split("Members not read (read again next run)", 1)[1]
    assert "│ 103 " in table and "│ 110 " in table and "(503)" in table
    assert first.stderr.strip() == (
        "Warning: 2 members could not be read. Run `communal-sync link --from-communal` again "
        "to continue: nothing read is read again."
    )
    assert second.exit_code == 0
    assert second.stdout.splitlines()[0] == SUMMARY
    assert sorted(p for p in gets(sandbox) if p.startswith("/users/")) == [
        "/users/103",
        "/users/110",
    ]


def test_sandbox_without_state_warns_that_the_map_is_temporary(cli: Cli) -> None:
    result = cli("link", "--from-communal", "--sandbox")

    assert result.exit_code == 0
    assert result.stderr.startswith("Warning: --sandbox without --state keeps this identity map")
    assert result.stdout.splitlines()[0] == SUMMARY


def test_a_terminal_gets_a_bar_of_members_read_and_pages(
    cli: Cli, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a terminal on stderr would show: a console rendering as one (conftest's
    # TERM=dumb would switch live displays off), and an stderr that says it is a tty.
    monkeypatch.setenv("TERM", "xterm")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(progress_module, "stderr_console", lambda: console)
    tty = SimpleNamespace(isatty=lambda: True)
    monkeypatch.setattr(progress_module, "sys", SimpleNamespace(stderr=tty))

    result = cli("link", "--from-communal", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == SUMMARY
    shown = screen.getvalue()
    assert "Reading members" in shown
    assert "16/16" in shown
    assert "1 of 1 pages · 0 failed" in shown
    assert "{" not in result.stderr, "no JSON event beside a bar"


def test_no_terminal_no_bar(
    cli: Cli, sandbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(progress_module, "stderr_console", lambda: console)
    monkeypatch.setattr(
        progress_module, "sys", SimpleNamespace(stderr=SimpleNamespace(isatty=lambda: False))
    )

    result = cli("link", "--from-communal", env=sandbox_env)

    assert result.exit_code == 0
    assert screen.getvalue() == ""
    assert result.stderr == ""


def test_an_email_from_communal_that_a_terminal_would_obey_is_shown_escaped(
    cli: Cli, tmp_path: Path
) -> None:
    email = "x\x1b]8;;http://evil.example\x1b\\@example.org"
    seed = {
        "users": [
            {"id": 1, "first_name": "A", "last_name": "B", "email": email, "tenant_id": 1},
            {"id": 2, "first_name": "C", "last_name": "D", "email": email, "tenant_id": 2},
        ],
        "user_memberships": [{"id": 1, "user_id": 1}, {"id": 2, "user_id": 2}],
    }
    with Sandbox(seed) as hostile:
        env = {
            "COMMUNAL_BASE_URL": hostile.base_url,
            "COMMUNAL_API_KEY": hostile.manager_key,
            "COMMUNAL_SYNC_STATE": str(tmp_path / "state.db"),
        }
        result = cli("link", "--from-communal", env=env)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "2 members read, 0 mapped, 0 without email, 1 email shared by 2 users: not mapped, listed"
    )
    assert "\x1b" not in result.stdout
    assert "x\\x1b]8;;http://evil.example\\x1b\\@example.org" in result.stdout.replace("\n", "")


def test_json_events_name_each_member_not_read_and_the_exit_code(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    with FailingUsers(sandbox.root_url, {103}) as proxy:
        env: dict[str, Any] = {**sandbox_env, "COMMUNAL_BASE_URL": proxy.base_url}
        result = cli("--log-format", "json", "link", "--from-communal", env=env)

    assert result.exit_code == 3, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    failed = [e for e in events if e["event"] == "member_failed"]
    assert [(e["user_id"], e["http_status"]) for e in failed] == [(103, 503)]
    (finished,) = [e for e in events if e["event"] == "link_finished"]
    assert (finished["exit_code"], finished["failed"], finished["not_read"]) == (3, 1, 1)
    assert (finished["users_read"], finished["mapped"]) == (15, 12)
    assert events[-1]["event"] == "warning"
    assert "1 member could not be read" in events[-1]["message"]


def test_a_state_another_run_holds_is_refused_exit_4_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state" / "state.db"
    with acquire_lock(state, command="push users.csv"):
        result = cli("link", "--from-communal", env=sandbox_env)

    assert result.exit_code == 4, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and f"pid {os.getpid()}" in line, line
    assert sandbox.requests() == []


class EndlessList(BreakingProxy):
    """Forwards to the sandbox but claims a membership list of 10^12 pages."""

    def _respond(self, handler: _Handler, body: bytes) -> Canned | None:
        if handler.path.startswith("/api/user_memberships"):
            page = {
                "data": [{"id": 1, "user_id": 101}],
                "current_page": 1,
                "last_page": 10**12,
                "per_page": 500,
                "total": 5 * 10**14,
            }
            return Canned(200, json.dumps(page).encode())
        return super()._respond(handler, body)


def test_a_list_claiming_more_pages_than_any_has_is_one_fatal_line_not_a_run_without_end(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    with EndlessList(sandbox.root_url) as proxy:
        env: dict[str, Any] = {**sandbox_env, "COMMUNAL_BASE_URL": proxy.base_url}
        result = cli("link", "--from-communal", env=env)

    assert result.exit_code == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        "Error: The API answered page 1 of the user memberships with page numbers no list has "
        "(page 1 of 1000000000000, 500 a page, total 500000000000000)"
    ), line
    assert "Traceback" not in result.stdout + result.stderr
    assert [p for p in gets(sandbox) if p.startswith("/users/")] == []
    with open_state(tmp_path / "state" / "state.db") as store:
        assert store.roster.counts().members == 0
