"""Email changes that depend on each other, end to end through the real CLI and sandbox.

Communal keeps emails unique, so a PUT giving someone an address another user still
holds is refused (422) even when that user's own change moves them off it. A chain (one
takes the address another leaves) is sent from its end, each PUT after the one it
depends on, whatever ``--concurrency``; a cycle (a swap) is reported as one, with the way
out, and sent through a temporary address only with ``--break-email-cycles``, every step
journalled, so a push killed between the steps resumes to the right state.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cli import CliResult
from support.fault_servers import HOP_HEADERS, BreakingProxy, Canned, HoldingProxy
from support.push import (
    BIG_FIRST_ID,
    assert_users_equal,
    big_changes,
    big_seed,
    edit_in_communal,
    env_for,
    expected_users,
    users_of,
    write_big_export,
)

from communal_sync.applying.landed import LANDED_NOTE
from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

AMARA, BRUNO, CHEN, DANA = 101, 102, 103, 104
EMAIL = {
    AMARA: "amara.okafor@example.org",
    BRUNO: "bruno.lefevre@example.org",
    CHEN: "chen.wei@example.org",
    DANA: "dana.whitfield@example.org",
}
NAMES = {
    AMARA: ("Amara", "Okafor"),
    BRUNO: ("Bruno", "Lefèvre"),
    CHEN: ("Chen", "Wei"),
    DANA: ("Dana", "Whitfield"),
}
AMARA_TEMPORARY = "amara.okafor+communal-sync-swap@example.org"
CONCURRENCY = "16"
KILL_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.01
HELD_TIMEOUT_SECONDS = "60"
"""COMMUNAL_TIMEOUT of a killed push: its held PUT must still be waiting when it dies."""


def write_emails(path: Path, emails: dict[int, str]) -> Path:
    """An export giving each user (by id) the email named, names unchanged."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email"])
        for user_id, email in emails.items():
            writer.writerow([user_id, *NAMES[user_id], email])
    return path


def put_body(user_id: int, email: str) -> dict[str, str]:
    first, last = NAMES[user_id]
    return {"first_name": first, "last_name": last, "email": email}


def puts(sandbox: Sandbox) -> list[tuple[int, dict[str, Any]]]:
    """Every PUT the sandbox answered 200, in the order it applied them, with its body."""
    return [
        (int(e["path"].rsplit("/", 1)[1]), e["body"])
        for e in sandbox.requests()
        if e["method"] == "PUT" and e["status"] == 200
    ]


def requests_of(sandbox: Sandbox) -> list[tuple[str, str, int | None]]:
    return [(e["method"], e["path"], e["status"]) for e in sandbox.requests()]


def email_changes(emails: dict[int, str]) -> dict[int, dict[str, Any]]:
    return {user_id: {"email": email} for user_id, email in emails.items()}


def identity_of(state: Path, email: str) -> list[int]:
    with open_state(state) as store:
        return store.identity.lookup_email(email)


CHAINS = {
    # Amara takes Bruno's address; Bruno moves to a new one.
    "chain of 2": (
        {AMARA: EMAIL[BRUNO], BRUNO: "bruno.new@example.org"},
        [BRUNO, AMARA],
    ),
    # Amara takes Bruno's, Bruno takes Chen's, Chen moves to a new one.
    "chain of 3": (
        {AMARA: EMAIL[BRUNO], BRUNO: EMAIL[CHEN], CHEN: "chen.new@example.org"},
        [CHEN, BRUNO, AMARA],
    ),
}


@pytest.mark.parametrize("concurrency", ["1", CONCURRENCY])
@pytest.mark.parametrize(("emails", "order"), CHAINS.values(), ids=CHAINS.keys())
def test_a_chain_of_email_changes_converges_in_one_run_whatever_the_concurrency(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    emails: dict[int, str],
    order: list[int],
    concurrency: str,
) -> None:
    export = write_emails(tmp_path / "people.csv", emails)
    report = tmp_path / "plan.json"
    before = users_of(sandbox)

    pushed = cli(
        "push", str(export), "--yes", "--concurrency", concurrency, "--report", str(report),
        env=sandbox_env,
    )  # fmt: skip

    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert f"people.csv: {len(emails)} users to update, 0 unchanged" in pushed.stdout
    assert f"Run 1: {len(emails)} users updated, 0 unchanged" in pushed.stdout
    # Every GET (planning, concurrently) comes first, then each PUT after the one it needs.
    gets = [r for r in requests_of(sandbox) if r[0] == "GET"]
    assert sorted(gets) == sorted(("GET", f"/api/users/{u}", 200) for u in emails)
    assert [r[0] for r in requests_of(sandbox)] == ["GET"] * len(emails) + ["PUT"] * len(emails)
    assert puts(sandbox) == [(u, put_body(u, emails[u])) for u in order]
    assert_users_equal(users_of(sandbox), expected_users(before, email_changes(emails)))
    planned = {u["user_id"]: u for u in json.loads(report.read_text())["plan"]["users"]}
    assert {u: planned[u]["email_after"] for u in emails} == {
        u: (order[order.index(u) - 1] if order.index(u) else None) for u in emails
    }
    note = next(c["note"] for c in planned[AMARA]["changes"] if c["field"] == "email")
    assert note == f"after user {BRUNO} moves off it"
    for user_id, email in emails.items():
        assert identity_of(Path(sandbox_env["COMMUNAL_SYNC_STATE"]), email) == [user_id]
    sandbox.clear_requests()

    again = cli("push", str(export), "--yes", env=sandbox_env)

    assert again.exit_code == 0
    assert sandbox.requests() == [], "a converged chain still sent requests"


def test_a_chain_step_whose_address_is_not_freed_is_held_with_no_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """Bruno's new address is Chen's, and Chen (not in the file) keeps it: Bruno's PUT is
    refused, so Amara's, which takes Bruno's address, is not sent at all."""
    emails = {AMARA: EMAIL[BRUNO], BRUNO: EMAIL[CHEN]}
    export = write_emails(tmp_path / "people.csv", emails)
    before = users_of(sandbox)

    pushed = cli("push", str(export), "--yes", "--concurrency", CONCURRENCY, env=sandbox_env)

    assert pushed.exit_code == 3, pushed.stdout + pushed.stderr
    put_requests = [r for r in requests_of(sandbox) if r[0] == "PUT"]
    assert put_requests == [("PUT", f"/api/users/{BRUNO}", 422)]
    assert_users_equal(users_of(sandbox), before)
    table = " ".join(pushed.stdout.split("Not updated", 1)[1].split())
    assert "Not sent: the new email is still user 102's" in table.replace("│ ", "")
    assert "Run 1: 0 users updated, 0 unchanged, 2 failed" in pushed.stdout
    with open_state(Path(sandbox_env["COMMUNAL_SYNC_STATE"])) as store:
        results = {r.user_id: (r.status, r.http_status) for r in store.journal.results(1)}
    assert results == {BRUNO: ("failed", 422), AMARA: ("failed", None)}


# --- cycles -------------------------------------------------------------------------------

SWAP = {AMARA: EMAIL[BRUNO], BRUNO: EMAIL[AMARA]}
RING = {AMARA: EMAIL[BRUNO], BRUNO: EMAIL[CHEN], CHEN: EMAIL[AMARA]}


def test_a_swap_is_reported_as_a_cycle_with_the_way_out_and_nothing_is_sent(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_emails(tmp_path / "people.csv", SWAP)
    report = tmp_path / "run.json"
    before = users_of(sandbox)

    pushed = cli(
        "push", str(export), "--yes", "--concurrency", CONCURRENCY, "--report", str(report),
        env=sandbox_env,
    )  # fmt: skip

    assert pushed.exit_code == 3, pushed.stdout + pushed.stderr
    assert "people.csv: 0 users to update, 0 unchanged, 2 in an email cycle" in (pushed.stdout)
    assert "Email changes in a cycle (not pushed; see the way out)" in pushed.stdout
    assert "Run 1: 0 users updated, 0 unchanged, 2 in an email cycle" in pushed.stdout
    assert [r[0] for r in requests_of(sandbox)] == ["GET", "GET"]
    assert_users_equal(users_of(sandbox), before)
    document = json.loads(report.read_text())
    assert document["counts"]["email_cycle"] == 2
    issues = document["plan"]["issues"]
    message = (
        "User 101 (line 2) and user 102 (line 3) swap email addresses: each new address is "
        "another's current one and Communal keeps addresses unique, so no change can be "
        "sent first; nothing is sent for these 2 rows. The input is right. Way out: push "
        f"again with --break-email-cycles (user 101 moves to {AMARA_TEMPORARY} first, then "
        "each takes the address just freed), or change one address in Communal by hand first."
    )
    assert [(i["line"], i["kind"], i["field"], i["value"], i["message"]) for i in issues] == [
        (2, "email_cycle", "email", EMAIL[BRUNO], message),
        (3, "email_cycle", "email", EMAIL[AMARA], message),
    ]
    assert "Fix them in the input" not in pushed.stdout
    listed = json.loads(cli("runs", "--json", env=sandbox_env).stdout)
    assert (listed[0]["exit_code"], listed[0]["counts"]["email_cycle"]) == (3, 2)

    redacted = cli("plan", str(export), "--redact", env=sandbox_env)

    assert redacted.exit_code == 3
    assert "amara.okafor" not in redacted.stdout and "bruno.lefevre" not in redacted.stdout


def test_a_ring_of_three_is_reported_as_one_cycle(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_emails(tmp_path / "people.csv", RING)
    report = tmp_path / "plan.json"

    planned = cli("plan", str(export), "--report", str(report), env=sandbox_env)

    assert planned.exit_code == 3, planned.stdout + planned.stderr
    assert "0 users to update, 0 unchanged, 3 in an email cycle" in planned.stdout
    (message,) = {i["message"] for i in json.loads(report.read_text())["plan"]["issues"]}
    assert message.startswith(
        "User 101 (line 2), user 102 (line 3) and user 103 (line 4) pass email addresses "
        "round (101 takes 102's, 102 takes 103's, 103 takes 101's): "
    )
    assert f"--break-email-cycles (user 101 moves to {AMARA_TEMPORARY} first" in message
    assert [r[0] for r in requests_of(sandbox)] == ["GET"] * 3


CYCLES = {
    "swap": (SWAP, [AMARA, BRUNO, AMARA]),
    "ring of 3": (RING, [AMARA, CHEN, BRUNO, AMARA]),
}


@pytest.mark.parametrize(("emails", "order"), CYCLES.values(), ids=CYCLES.keys())
def test_with_break_email_cycles_a_cycle_completes_in_one_run_every_step_journalled(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    tmp_path: Path,
    emails: dict[int, str],
    order: list[int],
) -> None:
    export = write_emails(tmp_path / "people.csv", emails)
    state = Path(sandbox_env["COMMUNAL_SYNC_STATE"])
    before = users_of(sandbox)

    report = tmp_path / "run.json"

    pushed = cli(
        "push", str(export), "--yes", "--concurrency", CONCURRENCY, "--break-email-cycles",
        "--report", str(report), env=sandbox_env,
    )  # fmt: skip

    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    planned = {u["user_id"]: u for u in json.loads(report.read_text())["plan"]["users"]}
    assert {u: planned[u]["temporary_email"] for u in emails} == {
        u: (AMARA_TEMPORARY if u == AMARA else None) for u in emails
    }
    assert json.loads(report.read_text())["plan"]["options"]["break_email_cycles"] is True
    assert f"{len(emails)} users to update, 0 unchanged" in pushed.stdout
    assert f"Run 1: {len(emails)} users updated, 0 unchanged" in pushed.stdout
    assert "email (first step)" in pushed.stdout
    expected_puts = [(AMARA, put_body(AMARA, AMARA_TEMPORARY))]
    expected_puts += [(u, put_body(u, emails[u])) for u in order[1:]]
    assert puts(sandbox) == expected_puts
    assert [r[0] for r in requests_of(sandbox)] == ["GET"] * len(emails) + ["PUT"] * len(order)
    assert_users_equal(users_of(sandbox), expected_users(before, email_changes(emails)))
    with open_state(state) as store:
        journalled = [(r.operation, r.status) for r in store.journal.results(1)]
    assert journalled == [("email-temp:101", "applied")] + [
        (f"user:{u}", "applied") for u in order[1:]
    ]
    for user_id, email in emails.items():
        assert identity_of(state, email) == [user_id]
    assert identity_of(state, AMARA_TEMPORARY) == []
    shown = cli("runs", "show", "1", env=sandbox_env)
    assert "profile: temporary email (cycle)" in shown.stdout
    sandbox.clear_requests()

    again = cli("push", str(export), "--yes", "--break-email-cycles", env=sandbox_env)

    assert again.exit_code == 0
    assert sandbox.requests() == [], "a completed swap still sent requests"


# --- a kill between the steps of a cycle ----------------------------------------------------


def killed_swap(sandbox: Sandbox, export: Path, state: Path, answered: int) -> None:
    """Run a real ``push --break-email-cycles`` of ``export`` through a proxy that answers
    ``answered`` PUTs and holds the next (applied, unanswered); SIGKILL it there."""
    with HoldingProxy(sandbox.root_url, answered=answered) as proxy:
        command = [
            sys.executable, "-m", "communal_sync", "push", str(export), "--yes",
            "--break-email-cycles", "--concurrency", CONCURRENCY,
            "--base-url", proxy.base_url, "--state", str(state),
        ]  # fmt: skip
        env = {
            **os.environ,
            "COMMUNAL_API_KEY": sandbox.manager_key,
            "COMMUNAL_TIMEOUT": HELD_TIMEOUT_SECONDS,
        }
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_puts(sandbox, process, answered + 1)
            process.send_signal(signal.SIGKILL)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=KILL_TIMEOUT_SECONDS)
        assert process.returncode == -signal.SIGKILL
        assert proxy.errors == [], proxy.errors[0]


def wait_for_puts(sandbox: Sandbox, process: subprocess.Popen[bytes], count: int) -> None:
    """Wait until ``count`` PUTs were applied by the sandbox; fail if the push ends first."""
    deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
    while len(puts(sandbox)) < count:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"push ended before {count} PUTs: {err.decode()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {count} PUTs within {KILL_TIMEOUT_SECONDS}s")
        time.sleep(POLL_SECONDS)


SWAP_STEPS: Sequence[tuple[int, str]] = (
    (AMARA, AMARA_TEMPORARY),
    (BRUNO, EMAIL[AMARA]),
    (AMARA, EMAIL[BRUNO]),
)
"""The PUTs of the swap with --break-email-cycles, in order."""
STEP_OPERATIONS = ("email-temp:101", "user:102", "user:101")


@pytest.mark.parametrize("killed_at", [0, 1, 2], ids=["temporary", "second", "last"])
def test_a_swap_killed_mid_cycle_resumes_to_the_right_state_sending_nothing_twice(
    cli: Cli, sandbox: Sandbox, tmp_path: Path, killed_at: int
) -> None:
    """Killed with step ``killed_at`` applied in Communal but unanswered: the resume finds
    it landed (its intent was journalled), sends only the steps after it, and ends swapped."""
    export = write_emails(tmp_path / "people.csv", SWAP)
    state = tmp_path / "state" / "state.db"
    before = users_of(sandbox)

    killed_swap(sandbox, export, state, answered=killed_at)

    assert [(u, b["email"]) for u, b in puts(sandbox)] == list(SWAP_STEPS[: killed_at + 1])
    with open_state(state) as store:
        journalled = [(r.operation, r.status) for r in store.journal.results(1)]
        in_flight = {op for op, _ in store.journal.unsettled_operations(1)}
    assert journalled == [(op, "applied") for op in STEP_OPERATIONS[:killed_at]]
    assert in_flight == {STEP_OPERATIONS[killed_at]}
    sandbox.clear_requests()

    # No --break-email-cycles: the resumed run follows the plan it stored.
    resumed = cli(
        "push", str(export), "--yes", "--resume", "--concurrency", CONCURRENCY,
        env=env_for(sandbox, state),
    )  # fmt: skip

    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    assert "Resuming run 1" in resumed.stdout
    assert "conflict" not in resumed.stdout.lower()
    assert_users_equal(users_of(sandbox), expected_users(before, email_changes(SWAP)))
    assert [(u, b["email"]) for u, b in puts(sandbox)] == list(SWAP_STEPS[killed_at + 1 :])
    with open_state(state) as store:
        results = store.journal.results(1)
        assert store.journal.unsettled_operations(1) == set()
        (run,) = store.journal.list_runs()
    assert (run.status, run.exit_code, run.attempts) == ("finished", 0, 2)
    latest = {r.operation: (r.status, r.error) for r in results}
    assert latest[STEP_OPERATIONS[killed_at]] == ("applied", LANDED_NOTE)
    assert {op: status for op, (status, _) in latest.items()} == dict.fromkeys(
        STEP_OPERATIONS, "applied"
    )
    assert identity_of(state, EMAIL[AMARA]) == [BRUNO]
    assert identity_of(state, EMAIL[BRUNO]) == [AMARA]
    sandbox.clear_requests()

    again = cli("push", str(export), "--yes", env=env_for(sandbox, state))

    assert again.exit_code == 0, again.stdout
    assert sandbox.requests() == []


def test_a_swap_killed_after_its_temporary_step_converges_on_a_fresh_push_too(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Without --resume (or the flag) the next plan sees our own temporary address as ours,
    not as an edit in Communal: what is left is a chain, sent in order."""
    export = write_emails(tmp_path / "people.csv", SWAP)
    state = tmp_path / "state" / "state.db"
    before = users_of(sandbox)
    killed_swap(sandbox, export, state, answered=1)  # the temporary step is journalled
    sandbox.clear_requests()

    fresh = cli(
        "push", str(export), "--yes", "--concurrency", CONCURRENCY, env=env_for(sandbox, state)
    )

    assert fresh.exit_code == 0, fresh.stdout + fresh.stderr
    assert "conflict" not in fresh.stdout.lower()
    assert "in an email cycle" not in fresh.stdout
    # Bruno's PUT landed unanswered before the kill: the plan sees it done.
    assert "1 users to update" in fresh.stdout or "1 user to update" in fresh.stdout
    assert [(u, b["email"]) for u, b in puts(sandbox)] == [(AMARA, EMAIL[BRUNO])]
    assert_users_equal(users_of(sandbox), expected_users(before, email_changes(SWAP)))


# --- a 422 for an address the plan frees ----------------------------------------------------


class TakingProxy(BreakingProxy):
    """Forwards to the sandbox; right before Amara's PUT, user 104 (not in the file) takes
    the address Bruno's PUT just freed, as someone editing Communal at that moment would."""

    def _respond(self, handler: Any, body: bytes) -> Canned | None:
        if handler.command == "PUT" and handler.path.endswith(f"/users/{AMARA}"):
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
            taken = self._upstream.put(
                f"/api/users/{DANA}", headers=headers, json=put_body(DANA, EMAIL[BRUNO])
            )
            assert taken.status_code == httpx.codes.OK, taken.text
        return super()._respond(handler, body)


def test_a_422_on_an_address_the_plan_frees_does_not_blame_the_input(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    emails = {AMARA: EMAIL[BRUNO], BRUNO: "bruno.new@example.org"}
    export = write_emails(tmp_path / "people.csv", emails)
    state = tmp_path / "state" / "state.db"
    report = tmp_path / "run.json"
    before = users_of(sandbox)
    with TakingProxy(sandbox.root_url) as proxy:
        env = {**env_for(sandbox, state), "COMMUNAL_BASE_URL": proxy.base_url}

        pushed = cli("push", str(export), "--yes", "--report", str(report), env=env)

        assert proxy.errors == []
    assert pushed.exit_code == 3, pushed.stdout + pushed.stderr
    put_requests = [(u, b["email"]) for u, b in puts(sandbox)]
    assert put_requests == [(BRUNO, "bruno.new@example.org"), (DANA, EMAIL[BRUNO])]
    refused = [r for r in requests_of(sandbox) if r[2] == 422]
    assert refused == [("PUT", f"/api/users/{AMARA}", 422)]
    assert_users_equal(
        users_of(sandbox),
        expected_users(
            before, {BRUNO: {"email": "bruno.new@example.org"}}, {DANA: {"email": EMAIL[BRUNO]}}
        ),
    )
    (outcome,) = [o for o in json.loads(report.read_text())["outcomes"] if o["status"] == "failed"]
    assert outcome["user_id"] == AMARA
    assert outcome["message"] == (
        "The API rejected the values for user 101 (422): email: The email has already been "
        "taken. This plan moves user 102 off that address: if their change has not landed "
        "yet, push again once it has; if it has, someone else in Communal took the address "
        "since. The input is right."
    )
    assert "Fix them in the input" not in pushed.stdout


def test_a_saved_plan_breaking_a_swap_applies_in_order_re_reading_each_user(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """``apply`` re-reads each user before its PUT; the last step re-reads Amara after her
    own temporary step, and takes that for ours, not for an edit made in Communal."""
    export = write_emails(tmp_path / "people.csv", SWAP)
    saved = tmp_path / "plan.json"
    before = users_of(sandbox)
    planned = cli("plan", str(export), "--break-email-cycles", "--out", str(saved), env=sandbox_env)
    assert planned.exit_code == 0, planned.stdout + planned.stderr
    sandbox.clear_requests()

    applied = cli("apply", str(saved), "--yes", "--concurrency", CONCURRENCY, env=sandbox_env)

    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert requests_of(sandbox) == [
        ("GET", f"/api/users/{AMARA}", 200),
        ("PUT", f"/api/users/{AMARA}", 200),
        ("GET", f"/api/users/{BRUNO}", 200),
        ("PUT", f"/api/users/{BRUNO}", 200),
        ("GET", f"/api/users/{AMARA}", 200),
        ("PUT", f"/api/users/{AMARA}", 200),
    ]
    assert [(u, b["email"]) for u, b in puts(sandbox)] == list(SWAP_STEPS)
    assert_users_equal(users_of(sandbox), expected_users(before, email_changes(SWAP)))


def test_redact_masks_the_temporary_address_in_the_plan_and_every_report(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_emails(tmp_path / "people.csv", SWAP)
    for flags in ((), ("--break-email-cycles",)):
        for suffix in ("json", "csv", "md", "html"):
            report = tmp_path / f"plan-{len(flags)}.{suffix}"

            planned = cli(
                "plan", str(export), *flags, "--redact", "--report", str(report),
                env=sandbox_env,
            )  # fmt: skip

            assert planned.exit_code == (0 if flags else 3), planned.stdout
            for text in (planned.stdout, report.read_text(encoding="utf-8")):
                assert "amara.okafor" not in text and "bruno.lefevre" not in text, suffix


def test_a_taken_temporary_address_changes_nothing_of_the_cycle_and_says_so(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    """Dana already holds Amara's temporary address: the first step is refused, so
    Bruno's PUT (which waits on it) is held, and the swap is left exactly as it was."""
    edit_in_communal(sandbox, DANA, email=AMARA_TEMPORARY)
    export = write_emails(tmp_path / "people.csv", SWAP)
    report = tmp_path / "run.json"
    before = users_of(sandbox)
    sandbox.clear_requests()

    pushed = cli(
        "push", str(export), "--yes", "--break-email-cycles", "--concurrency", CONCURRENCY,
        "--report", str(report), env=sandbox_env,
    )  # fmt: skip

    assert pushed.exit_code == 3, pushed.stdout + pushed.stderr
    assert [r for r in requests_of(sandbox) if r[0] == "PUT"] == [
        ("PUT", f"/api/users/{AMARA}", 422)
    ]
    assert_users_equal(users_of(sandbox), before)
    outcomes = {o["user_id"]: o["message"] for o in json.loads(report.read_text())["outcomes"]}
    assert outcomes[AMARA] == (
        "The API rejected the temporary address of user 101 (422): email: The email has "
        "already been taken. Nothing of the email cycle was changed: free that address in "
        "Communal, or change one address of the cycle there by hand, and push again."
    )
    assert outcomes[BRUNO].startswith("Not sent: the new email is still user 101's")
    assert "Fix them in the input" not in pushed.stdout
    with open_state(Path(sandbox_env["COMMUNAL_SYNC_STATE"])) as store:
        journalled = [(r.operation, r.status) for r in store.journal.results(1)]
    assert journalled == [("email-temp:101", "failed"), ("user:102", "failed")]


CHAIN_MEMBERS = 40


def test_a_chain_inside_a_big_file_is_ordered_while_everyone_else_goes_at_once(
    cli: Cli, tmp_path: Path
) -> None:
    """Members 0, 1 and 2 form a chain (0 takes 1's address, 1 takes 2's, 2 moves on);
    the 37 others only change their last name and never wait for it. Members 1 and 2 keep
    their names: a new email *and* a new last name would be someone else."""
    seed = big_seed(CHAIN_MEMBERS)
    export = write_big_export(tmp_path / "members.csv", CHAIN_MEMBERS)
    with export.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][3], rows[2][3], rows[3][3] = (
        "member1@example.org",
        "member2@example.org",
        "member2.new@example.org",
    )
    rows[2][2], rows[3][2] = "Before1", "Before2"
    changes = big_changes(CHAIN_MEMBERS)
    del changes[BIG_FIRST_ID + 1], changes[BIG_FIRST_ID + 2]
    with export.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    state = tmp_path / "state" / "state.db"
    with Sandbox(seed) as sandbox:
        before = users_of(sandbox)

        pushed = cli(
            "push", str(export), "--yes", "--concurrency", CONCURRENCY,
            env=env_for(sandbox, state),
        )  # fmt: skip

        assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
        chain = {
            BIG_FIRST_ID: {"email": "member1@example.org"},
            BIG_FIRST_ID + 1: {"email": "member2@example.org"},
            BIG_FIRST_ID + 2: {"email": "member2.new@example.org"},
        }
        assert_users_equal(users_of(sandbox), expected_users(before, changes, chain))
        order = [u for u, _ in puts(sandbox)]
        assert sorted(order) == sorted(set(changes) | set(chain))
        first, second, third = (order.index(BIG_FIRST_ID + n) for n in (2, 1, 0))
        assert first < second < third
        assert [r[2] for r in requests_of(sandbox)] == [200] * len(sandbox.requests())
