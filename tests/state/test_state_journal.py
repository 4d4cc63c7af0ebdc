"""Runs and the per-request journal: lifecycle, resume bookkeeping, SIGKILL, threads."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from communal_sync import __version__
from communal_sync.errors import ExitCode, UsageError
from communal_sync.hashing import canonical_hash
from communal_sync.state import StateStore, open_state

START = datetime(2026, 11, 27, 22, 31, 5, tzinfo=UTC)


class StepClock:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db", clock=StepClock()) as store:
        yield store


# --- runs -----------------------------------------------------------------------------


def test_started_run_is_running_with_its_input_and_process(state: StateStore) -> None:
    run_id = state.journal.start_run(
        "push", input_name="users.csv", input_sha256="f" * 64, plan_json='{"changes": []}'
    )
    run = state.journal.get_run(run_id)
    assert (run.id, run.kind, run.status) == (run_id, "push", "running")
    assert (run.input_name, run.input_sha256) == ("users.csv", "f" * 64)
    assert run.started_at == START
    assert run.finished_at is None
    assert run.exit_code is None
    assert run.counts == {}
    assert run.pid == os.getpid()
    assert run.tool_version == __version__
    assert run.attempts == 1
    assert state.journal.load_plan(run_id) == '{"changes": []}'


def test_finished_run_records_status_exit_code_and_counts(state: StateStore) -> None:
    run_id = state.journal.start_run("apply", input_name="plan.json")
    state.journal.finish_run(
        run_id, status="finished", exit_code=ExitCode.ROW_FAILURES, counts={"updated": 12}
    )
    run = state.journal.get_run(run_id)
    assert run.status == "finished"
    assert run.exit_code == 3
    assert run.counts == {"updated": 12}
    assert run.finished_at == START + timedelta(seconds=1)


def test_run_ids_increase_and_list_is_newest_first(state: StateStore) -> None:
    ids = [state.journal.start_run("push") for _ in range(5)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert [run.id for run in state.journal.list_runs()] == ids[::-1]
    assert [run.id for run in state.journal.list_runs(limit=2)] == ids[:-3:-1]


def test_unknown_run_is_a_usage_error_naming_the_state_file(state: StateStore) -> None:
    with pytest.raises(UsageError) as caught:
        state.journal.get_run(42)
    assert str(caught.value) == (
        f"There is no run 42 in {state.path}; `communal-sync runs` lists them."
    )
    with pytest.raises(UsageError):
        state.journal.finish_run(42, status="failed", exit_code=1, counts={})
    with pytest.raises(UsageError):
        state.journal.load_plan(42)


def test_set_plan_replaces_the_stored_plan(state: StateStore) -> None:
    run_id = state.journal.start_run("revert")
    assert state.journal.load_plan(run_id) is None
    state.journal.set_plan(run_id, '{"v": 2}')
    assert state.journal.load_plan(run_id) == '{"v": 2}'


def test_latest_unfinished_run_is_the_latest_run_of_that_input(state: StateStore) -> None:
    first = state.journal.start_run("push", input_sha256="aaa")
    state.journal.finish_run(first, status="interrupted", exit_code=ExitCode.INTERRUPTED, counts={})
    other = state.journal.start_run("push", input_sha256="bbb")
    state.journal.finish_run(other, status="finished", exit_code=0, counts={})

    found = state.journal.latest_unfinished_run("aaa")
    assert found is not None
    assert found.id == first
    assert state.journal.latest_unfinished_run() is None  # the latest run of all finished
    assert state.journal.latest_unfinished_run("aaa", kind="apply") is None
    assert state.journal.latest_unfinished_run("ccc") is None

    later = state.journal.start_run("push", input_sha256="aaa")
    state.journal.finish_run(later, status="finished", exit_code=0, counts={})
    assert state.journal.latest_unfinished_run("aaa") is None


def test_reopened_run_is_running_again_under_the_same_id(state: StateStore) -> None:
    run_id = state.journal.start_run("push", input_sha256="aaa")
    state.journal.finish_run(run_id, status="failed", exit_code=1, counts={"updated": 1})
    reopened = state.journal.reopen_run(run_id)
    assert (reopened.id, reopened.status, reopened.attempts) == (run_id, "running", 2)
    assert reopened.finished_at is None
    assert reopened.exit_code is None


def test_runs_left_running_by_a_dead_process_are_marked_interrupted(state: StateStore) -> None:
    dead = state.journal.start_run("push")
    done = state.journal.start_run("push")
    state.journal.finish_run(done, status="finished", exit_code=0, counts={})
    assert state.journal.mark_abandoned_runs() == [dead]
    assert state.journal.get_run(dead).status == "interrupted"
    assert state.journal.get_run(done).status == "finished"
    assert state.journal.mark_abandoned_runs() == []


# --- results --------------------------------------------------------------------------


def test_result_round_trip_with_before_and_after_images(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    body_hash = canonical_hash({"first_name": "Ada", "telephone": "+4712345678"})
    result_id = state.journal.record_result(
        run_id,
        operation="user:101",
        status="applied",
        user_id=101,
        source_line=7,
        body_hash=body_hash,
        http_status=200,
        before={"telephone": None},
        after={"telephone": "+4712345678", "first_name": "Ada"},
    )
    [result] = state.journal.results(run_id)
    assert result.id == result_id
    assert (result.run_id, result.user_id, result.operation, result.source_line) == (
        run_id,
        101,
        "user:101",
        7,
    )
    assert (result.body_hash, result.status, result.http_status, result.error) == (
        body_hash,
        "applied",
        200,
        None,
    )
    assert result.before == {"telephone": None}
    assert result.after == {"telephone": "+4712345678", "first_name": "Ada"}
    assert result.finished_at == START + timedelta(seconds=1)


def test_applied_operations_are_what_resume_must_not_send_again(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    other_run = state.journal.start_run("push")
    state.journal.record_result(run_id, operation="user:1", status="applied", body_hash="h1")
    state.journal.record_result(run_id, operation="cpfv:1:3", status="applied", body_hash="h2")
    state.journal.record_result(
        run_id,
        operation="user:2",
        status="failed",
        body_hash="h3",
        http_status=503,
        error="The API failed on its side (503).",
    )
    state.journal.record_result(run_id, operation="user:3", status="conflict")
    state.journal.record_result(run_id, operation="user:4", status="skipped")
    state.journal.record_result(other_run, operation="user:5", status="applied", body_hash="h5")

    assert state.journal.applied_operations(run_id) == {("user:1", "h1"), ("cpfv:1:3", "h2")}
    assert [r.status for r in state.journal.results(run_id)] == [
        "applied",
        "applied",
        "failed",
        "conflict",
        "skipped",
    ]
    assert state.journal.results(run_id)[2].error == "The API failed on its side (503)."


def test_transaction_keeps_result_and_snapshot_together(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    with pytest.raises(RuntimeError), state.transaction():
        state.journal.record_result(run_id, operation="user:1", status="applied", body_hash="h")
        state.snapshots.save(1, user={"id": 1}, pushed={}, source_hash="s")
        raise RuntimeError("killed between the two writes")
    assert state.journal.results(run_id) == []
    assert state.snapshots.get(1) is None

    with state.transaction():
        state.journal.record_result(run_id, operation="user:1", status="applied", body_hash="h")
        state.snapshots.save(1, user={"id": 1}, pushed={}, source_hash="s")
    assert len(state.journal.results(run_id)) == 1
    assert state.snapshots.source_hash_for(1) == "s"


def test_results_from_eight_threads_are_all_recorded(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(100):
                state.journal.record_result(
                    run_id, operation=f"user:{index}-{n}", status="applied", body_hash="h"
                )
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    results = state.journal.results(run_id)
    assert len(results) == 800
    assert len({r.operation for r in results}) == 800
    assert len(state.journal.applied_operations(run_id)) == 800


CHILD_RECORDS_THEN_DIES = """
import os, signal, sys
from pathlib import Path
from communal_sync.state import open_state

store = open_state(Path(sys.argv[1]))
run_id = store.journal.start_run("push", input_name="users.csv")
store.journal.record_result(run_id, operation="user:101", status="applied", body_hash="abc",
                    http_status=200, after={"id": 101})
os.kill(os.getpid(), signal.SIGKILL)
"""


def run_child_that_kills_itself(script: str, path: Path) -> None:
    """Run ``script`` on the state file ``path`` in a child process that ends by SIGKILL."""
    child = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr


def test_recorded_result_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    run_child_that_kills_itself(CHILD_RECORDS_THEN_DIES, path)
    with open_state(path) as store:
        [run] = store.journal.list_runs()
        assert run.status == "running"
        assert store.journal.applied_operations(run.id) == {("user:101", "abc")}
        assert store.journal.results(run.id)[0].after == {"id": 101}
        assert store.journal.mark_abandoned_runs() == [run.id]


def test_state_file_never_contains_the_api_key(tmp_path: Path) -> None:
    api_key = "ck_live_" + "s3cr3t" * 4
    path = tmp_path / "state.db"
    with open_state(path) as store:
        run_id = store.journal.start_run("push", input_name="users.csv")
        store.journal.record_result(
            run_id,
            operation="user:1",
            status="failed",
            http_status=401,
            error="The API key was refused. Check COMMUNAL_API_KEY.",
        )
        store.journal.finish_run(run_id, status="failed", exit_code=1, counts={})
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert api_key.encode() not in stored
    assert b"Bearer" not in stored


# --- intents: what was sent but never heard back from -----------------------------------


def test_an_intent_is_unsettled_until_its_result_is_recorded(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    state.journal.record_intent(
        run_id, operation="user:101", body_hash="h1", fields=["profile_city", "email"], user_id=101
    )
    state.journal.record_intent(run_id, operation="cpfv:101:1", body_hash="h2", fields=["value"])

    assert state.journal.unsettled_operations(run_id) == {("user:101", "h1"), ("cpfv:101:1", "h2")}

    state.journal.record_result(run_id, operation="user:101", status="applied", body_hash="h1")

    assert state.journal.unsettled_operations(run_id) == {("cpfv:101:1", "h2")}
    assert state.journal.applied_operations(run_id) == {("user:101", "h1")}


def test_a_result_that_may_have_landed_leaves_its_intent_unsettled(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    state.journal.record_intent(run_id, operation="user:7", body_hash="h", fields=["profile_zip"])

    state.journal.record_result(
        run_id,
        operation="user:7",
        status="failed",
        body_hash="h",
        error="No answer.",
        settled=False,
    )

    assert state.journal.unsettled_operations(run_id) == {("user:7", "h")}
    assert [r.status for r in state.journal.results(run_id)] == ["failed"]


def test_a_newer_intent_replaces_the_older_and_intents_belong_to_their_run(
    state: StateStore,
) -> None:
    first = state.journal.start_run("push")
    second = state.journal.start_run("push")
    state.journal.record_intent(first, operation="user:7", body_hash="old", fields=["telephone"])
    state.journal.record_intent(first, operation="user:7", body_hash="new", fields=["telephone"])
    state.journal.record_intent(second, operation="user:7", body_hash="other", fields=["telephone"])

    assert state.journal.unsettled_operations(first) == {("user:7", "new")}
    assert state.journal.unsettled_operations(second) == {("user:7", "other")}


def test_an_intent_inside_a_transaction_commits_with_it(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    with pytest.raises(RuntimeError), state.transaction():
        state.journal.record_intent(run_id, operation="user:7", body_hash="h", fields=["telephone"])
        raise RuntimeError("rolled back")

    assert state.journal.unsettled_operations(run_id) == set()


CHILD_INTENDS_THEN_DIES = """
import os, signal, sys
from pathlib import Path
from communal_sync.state import open_state
store = open_state(Path(sys.argv[1]))
run_id = store.journal.start_run("push", input_name="users.csv")
store.journal.record_intent(run_id, operation="user:101", body_hash="abc", fields=["profile_city"])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_intent_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    run_child_that_kills_itself(CHILD_INTENDS_THEN_DIES, path)
    with open_state(path) as store:
        [run] = store.journal.list_runs()
        assert store.journal.unsettled_operations(run.id) == {("user:101", "abc")}
        assert store.journal.applied_operations(run.id) == set()


def test_writes_after_an_intent_are_synced_to_disk_again(state: StateStore) -> None:
    run_id = state.journal.start_run("push")
    state.journal.record_intent(run_id, operation="user:7", body_hash="h", fields=["telephone"])

    (synchronous,) = state.db._conn.execute("PRAGMA synchronous").fetchone()

    assert synchronous == 2  # FULL: only the intent's own commit skipped waiting for the disk


# --- attempts: a run and its resumes ----------------------------------------------------------


def test_each_attempt_of_a_resumed_run_is_recorded_with_its_start_and_end(
    state: StateStore,
) -> None:
    run_id = state.journal.start_run("push", input_name="users.csv")  # START
    state.journal.finish_run(run_id, status="interrupted", exit_code=130, counts={})  # +1 s
    state.journal.reopen_run(run_id)  # +2 s
    state.journal.finish_run(run_id, status="finished", exit_code=0, counts={})  # +3 s

    attempts = state.journal.attempts([run_id])[run_id]

    assert [
        (a.attempt, a.started_at - START, a.ended_at and a.ended_at - START, a.status, a.exit_code)
        for a in attempts
    ] == [
        (1, timedelta(0), timedelta(seconds=1), "interrupted", 130),
        (2, timedelta(seconds=2), timedelta(seconds=3), "finished", 0),
    ]
    assert state.journal.get_run(run_id).attempts == 2


def test_a_killed_attempt_ends_at_its_last_journalled_result(state: StateStore) -> None:
    run_id = state.journal.start_run("push")  # START
    state.journal.record_result(run_id, operation="user:1", status="applied")  # +1 s
    never_journalled = state.journal.start_run("push")  # +2 s, killed before any result

    assert state.journal.mark_abandoned_runs() == [run_id, never_journalled]

    found = state.journal.attempts([run_id, never_journalled])
    (killed,) = found[run_id]
    assert (killed.status, killed.ended_at, killed.exit_code) == (
        "interrupted",
        START + timedelta(seconds=1),
        None,
    )
    (silent,) = found[never_journalled]
    assert (silent.status, silent.ended_at) == ("interrupted", None)


def test_a_state_file_from_before_attempts_gets_one_attempt_per_run(tmp_path: Path) -> None:
    from communal_sync.state.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:4]:
        for statement in migration:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO runs (kind, status, started_at, finished_at, exit_code, pid, tool_version,"
        " attempts) VALUES ('push', 'finished', ?, ?, 0, 1, '0.1', 2)",
        (START.isoformat(), (START + timedelta(minutes=4, seconds=12)).isoformat()),
    )
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()

    with open_state(path) as store:
        (attempt,) = store.journal.attempts([1])[1]

    assert (attempt.attempt, attempt.status, attempt.exit_code) == (2, "finished", 0)
    assert attempt.ended_at is not None
    assert attempt.ended_at - attempt.started_at == timedelta(minutes=4, seconds=12)
