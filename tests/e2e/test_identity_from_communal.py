"""End to end: an identity map from Communal itself, then a push of an export without ids.

1. The demo organization's CRM export with no id column (``sample_data/
   crm-export-no-ids.csv``) and an empty state file: ``link --from-communal`` then
   ``push --yes`` must leave Communal exactly as pushing the same export *with* its id
   column does (``sample_data/crm-export.csv`` on a second sandbox): every member with a
   valid row matched by email, the non-members reported unmatched with the hint that fits
   them, the two users who share an email reported ambiguous. Then ``push --discover``
   finds the non-members Communal can vouch for, and no one else.
2. ``link --from-communal`` killed with SIGKILL midway, run again, reads no member it
   had stored and finishes the map; the same after Ctrl-C, which exits 130 with one line
   saying to run it again and keeps every member the sandbox served.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult
from support.paths import SAMPLE_DATA
from support.push import MOVING_FIELDS, assert_users_equal, users_of

from communal_sync.sandbox import Faults, Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

NO_IDS = SAMPLE_DATA / "crm-export-no-ids.csv"
WITH_IDS = SAMPLE_DATA / "crm-export.csv"
MATCHED = [101, 102, 103, 104, 105, 107, 108, 109, 110, 112, 117]
"""Every member with a valid row (106's email is invalid, 111 is in the file twice)."""
NOT_A_MEMBER = "It is none of the 16 members `communal-sync link --from-communal` read"
NOT_DISCOVERED = "--discover found no program signup or transaction naming exactly one user"


def env(sandbox: Sandbox, state: Path) -> dict[str, str]:
    return {
        "COMMUNAL_BASE_URL": sandbox.base_url,
        "COMMUNAL_API_KEY": sandbox.manager_key,
        "COMMUNAL_SYNC_STATE": str(state),
    }


def custom_values(sandbox: Sandbox) -> dict[tuple[int, int], str]:
    return {
        (v["user_id"], v["custom_profile_field_id"]): v["value"]
        for v in sandbox.state()["custom_profile_field_values"]
    }


def issues_of(result: CliResult, table: str) -> dict[int, str]:
    """``{line: reason}`` of one table of row issues in a push's output."""
    lines = result.stdout.split(table, 1)[1].splitlines()[1:]
    box = []
    for text in lines:
        if not text.startswith(("┏", "┃", "┡", "│", "└")):
            break
        box.append(text)
    rows: dict[int, str] = {}
    line = 0
    for row in box:
        cells = [c.strip() for c in row.strip("│").split("│")]
        if len(cells) != 4 or not (cells[0].isdigit() or (cells[0] == "" and line)):
            continue
        if cells[0].isdigit():
            line = int(cells[0])
            rows[line] = cells[3]
        else:
            rows[line] += " " + cells[3]
    return rows


def test_link_from_communal_then_push_of_an_export_without_ids_reaches_the_end_state(
    cli: Cli, demo_seed: dict[str, Any], tmp_path: Path
) -> None:
    with Sandbox(demo_seed) as oracle:
        by_id = cli(
            "push", str(WITH_IDS), "--custom-fields", "--yes",
            env=env(oracle, tmp_path / "oracle.db"),
        )  # fmt: skip
        assert by_id.exit_code == 3, by_id.stdout + by_id.stderr
        expected_users, expected_values = users_of(oracle), custom_values(oracle)
    # Rafael (117) is only in the export without ids: his new mobile and T-shirt size.
    expected_users[117]["telephone"] = "+1 416 555 0171"
    expected_values[(117, 1)] = "L"

    state = tmp_path / "state.db"
    with Sandbox(demo_seed) as sandbox:
        linked = cli("link", "--from-communal", env=env(sandbox, state))
        assert linked.exit_code == 0, linked.stdout + linked.stderr
        assert linked.stdout.splitlines()[0] == (
            "16 members read, 13 mapped, 1 without email, 1 email shared by 2 users: "
            "not mapped, listed"
        )

        pushed = cli(
            "push", str(NO_IDS), "--custom-fields", "--yes", "--show", "all",
            env=env(sandbox, state),
        )  # fmt: skip

        assert pushed.exit_code == 3, pushed.stdout + pushed.stderr
        assert pushed.stdout.splitlines()[0] == (
            f"Plan for {NO_IDS}: 11 users to update, 0 unchanged, 3 invalid, 5 unmatched, "
            "1 ambiguous, 42 first-time writes over values Communal never shows"
        )
        matched = [
            int(line.split()[1])
            for line in pushed.stdout.splitlines()
            if line.startswith("User ") and line.rstrip().endswith("matched by email)")
        ]
        # --show all: a user with first-time writes is listed among those too.
        assert sorted(set(matched)) == MATCHED
        assert_users_equal(users_of(sandbox), expected_users)
        assert custom_values(sandbox) == expected_values
        unmatched = issues_of(pushed, "Unmatched rows (not pushed)")
        assert sorted(unmatched) == [15, 16, 17, 18, 20]  # Nadia, Olivia, Priya, Quinn, Tomas
        assert all(NOT_A_MEMBER in reason for reason in unmatched.values()), unmatched
        ambiguous = issues_of(pushed, "Ambiguous rows (not pushed)")
        assert list(ambiguous) == [21]
        assert "(119, 120)" in ambiguous[21]

        before_discovery = users_of(sandbox)
        discovered = cli(
            "push", str(NO_IDS), "--custom-fields", "--discover", "--yes",
            env=env(sandbox, state),
        )  # fmt: skip

        assert discovered.exit_code == 3, discovered.stdout + discovered.stderr
        assert [
            (int(line.split()[1]), line.rstrip().split("matched by ")[1].rstrip(")"))
            for line in discovered.stdout.splitlines()
            if line.startswith("User ")
        ] == [(113, "discover"), (114, "discover"), (115, "discover")]
        still = issues_of(discovered, "Unmatched rows (not pushed)")
        assert sorted(still) == [18, 20], "Quinn has nothing; costa.family@ is a contact email"
        assert all(NOT_DISCOVERED in reason for reason in still.values()), still
        after = users_of(sandbox)
        changed = {
            uid: {k: v for k, v in after[uid].items() if before_discovery[uid].get(k) != v}
            for uid in after
            if after[uid] != before_discovery[uid]
        }
        assert changed == {
            113: {
                "telephone": "+1 204 555 0113",
                "profile_city": "Winnipeg",
                "profile_state": "MB",
                "profile_country": "CA",
            },
            114: {"telephone": "+1 416 555 0199"},  # Toronto, ON, CA already
            115: {"telephone": "+1 613 555 0115"},  # Ottawa, ON, CA already
        }
        values = custom_values(sandbox)
        assert (values.get((113, 1)), values.get((114, 1))) == ("M", "S")
        assert not MOVING_FIELDS & set().union(*changed.values())


# --- SIGKILL and continue ------------------------------------------------------------------

KILL_MEMBERS = 300
KILL_LATENCY_MS = 20
KILL_AFTER_USERS = 60
KILL_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.01


def kill_seed() -> dict[str, Any]:
    """300 members with two memberships each (600 rows: two pages of 500)."""
    users = [
        {"id": 5000 + n, "first_name": f"M{n}", "last_name": "K", "email": f"k{n}@example.org"}
        for n in range(KILL_MEMBERS)
    ]
    memberships = [
        {"id": 1 + round_ * KILL_MEMBERS + n, "user_id": 5000 + n}
        for round_ in range(2)
        for n in range(KILL_MEMBERS)
    ]
    return {
        "api_keys": [{"key": "sandbox-manager-key", "manager": True}],
        "users": users,
        "user_memberships": memberships,
    }


def user_gets(sandbox: Sandbox) -> Counter[int]:
    return Counter(
        int(e["path"].rsplit("/", 1)[1])
        for e in sandbox.requests()
        if e["method"] == "GET" and e["path"].startswith("/api/users/") and e["status"] == 200
    )


def wait_until_quiet(sandbox: Sandbox) -> None:
    """Wait until the sandbox's request log stops growing (bounded)."""
    deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
    seen = -1
    while time.monotonic() < deadline:
        count = len(sandbox.requests())
        if count == seen:
            return
        seen = count
        time.sleep(5 * KILL_LATENCY_MS / 1000)


def stop_link_midway(sandbox: Sandbox, state: Path, how: signal.Signals) -> tuple[int, str]:
    """Run ``link --from-communal`` as a real process, send it ``how`` once it has read
    ``KILL_AFTER_USERS`` members; its exit code and stderr."""
    command = [
        sys.executable, "-m", "communal_sync", "link", "--from-communal",
        "--concurrency", "2", "--base-url", sandbox.base_url, "--state", str(state),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        env={**os.environ, "COMMUNAL_API_KEY": sandbox.manager_key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
        while sum(user_gets(sandbox).values()) < KILL_AFTER_USERS:
            if process.poll() is not None:
                pytest.fail(f"link ended before the signal: {process.communicate()[1]!r}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {KILL_AFTER_USERS} user reads in {KILL_TIMEOUT_SECONDS}s")
            time.sleep(POLL_SECONDS)
        process.send_signal(how)
        _, err = process.communicate(timeout=KILL_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=KILL_TIMEOUT_SECONDS)
    return process.returncode, err.decode()


def stored_members(state: Path) -> set[int]:
    with open_state(state) as store:
        return {u for u in range(5000, 5000 + KILL_MEMBERS) if store.roster.user(u)}


def assert_the_rerun_reads_only_what_was_left(
    cli: Cli, sandbox: Sandbox, state: Path, stored: set[int]
) -> CliResult:
    wait_until_quiet(sandbox)  # the stopped process's last requests are still being served
    sandbox.set_faults(Faults())
    sandbox.clear_requests()

    resumed = cli("link", "--from-communal", env=env(sandbox, state))

    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    again = user_gets(sandbox)
    assert set(again).isdisjoint(stored), "a member stored before the stop was read again"
    assert set(again) | stored == set(range(5000, 5000 + KILL_MEMBERS))
    assert max(again.values()) == 1, "a member was read twice by the second run"
    assert resumed.stdout.splitlines()[0] == "300 members read, 300 mapped, 0 without email"
    assert "continuing an interrupted run" in resumed.stdout
    with open_state(state) as store:
        assert store.identity.lookup_email("k299@example.org") == [5299]
        assert store.roster.counts().pending == 0
    return resumed


def test_a_link_killed_midway_continues_without_reading_a_stored_member_again(
    cli: Cli, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    with Sandbox(kill_seed(), faults=Faults(latency_ms=KILL_LATENCY_MS)) as sandbox:
        code, _ = stop_link_midway(sandbox, state, signal.SIGKILL)

        assert code == -signal.SIGKILL
        stored = stored_members(state)
        first_pages = [e for e in sandbox.requests() if "user_memberships" in e["path"]]
        assert KILL_AFTER_USERS - 2 <= len(stored) < KILL_MEMBERS  # 2 were in flight

        assert_the_rerun_reads_only_what_was_left(cli, sandbox, state, stored)
        pages = [e["path"] for e in sandbox.requests() if "user_memberships" in e["path"]]
        assert len(first_pages) + len(pages) <= 3, "beyond the two pages, only one probe again"


def test_ctrl_c_keeps_what_was_read_says_to_run_again_exits_130_and_the_rerun_finishes(
    cli: Cli, tmp_path: Path
) -> None:
    state = tmp_path / "state.db"
    with Sandbox(kill_seed(), faults=Faults(latency_ms=KILL_LATENCY_MS)) as sandbox:
        code, stderr = stop_link_midway(sandbox, state, signal.SIGINT)

        assert code == 130, stderr
        assert "Traceback" not in stderr
        assert stderr.strip() == (
            "Error: Interrupted; what was read is kept. Run `communal-sync link "
            "--from-communal` again to continue: nothing read is read again."
        )
        stored = stored_members(state)
        read = user_gets(sandbox)
        # Requests in flight at Ctrl-C finish and are stored: every member read is kept.
        assert stored == set(read), set(read) ^ stored
        assert KILL_AFTER_USERS <= len(stored) < KILL_MEMBERS

        assert_the_rerun_reads_only_what_was_left(cli, sandbox, state, stored)
