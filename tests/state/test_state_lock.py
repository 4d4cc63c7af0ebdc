"""One run per state file: the flock, its refusal message, and taking over after a kill."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from communal_sync.errors import ExitCode, RefusedError
from communal_sync.state import acquire_lock, lock_path_for

CHILD_HOLDS_LOCK = """
import sys
from pathlib import Path
from communal_sync.state import acquire_lock

lock = acquire_lock(Path(sys.argv[1]), command="push users.csv")
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A child process that holds the lock on tmp_path/state.db until killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_HOLDS_LOCK, str(tmp_path / "state.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "locked\n"
    yield child
    child.kill()
    child.wait(timeout=60)
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            stream.close()


def test_lock_file_sits_next_to_state_file() -> None:
    assert lock_path_for(Path("/data/state.db")) == Path("/data/state.db.lock")


def test_lock_names_its_holder_in_a_private_file(tmp_path: Path) -> None:
    state_path = tmp_path / "new" / "state.db"
    with acquire_lock(state_path, command="push users.csv") as lock:
        assert lock.held
        written = json.loads(lock_path_for(state_path).read_text())
        assert written["pid"] == os.getpid()
        assert written["host"] == socket.gethostname()
        assert written["command"] == "push users.csv"
        assert written["started_at"].endswith("+00:00")
        assert stat.S_IMODE(lock_path_for(state_path).stat().st_mode) == 0o600
    assert not lock.held


def test_second_lock_in_same_process_is_refused_until_released(tmp_path: Path) -> None:
    state_path = tmp_path / "state.db"
    first = acquire_lock(state_path)
    with pytest.raises(RefusedError):
        acquire_lock(state_path)
    first.release()
    first.release()  # releasing twice is harmless
    with acquire_lock(state_path):
        pass


def test_lock_held_by_another_process_refuses_with_its_pid(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    state_path = tmp_path / "state.db"
    with pytest.raises(RefusedError) as caught:
        acquire_lock(state_path)
    message = str(caught.value)
    assert message.startswith(
        f"Another communal-sync run holds the lock on {state_path} (pid {holder.pid}, started "
    )
    assert message.endswith("). Wait for it to finish, or stop it.")
    assert caught.value.exit_code == ExitCode.REFUSED


def test_lock_of_a_killed_process_is_taken_over(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    state_path = tmp_path / "state.db"
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=60) == -signal.SIGKILL
    with acquire_lock(state_path, command="push again.csv"):
        written = json.loads(lock_path_for(state_path).read_text())
        assert written["pid"] == os.getpid()
        assert written["command"] == "push again.csv"


def test_refusal_without_readable_holder_still_explains(tmp_path: Path) -> None:
    import fcntl

    state_path = tmp_path / "state.db"
    lock_path = lock_path_for(state_path)
    lock_path.write_text("garbage")
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(RefusedError) as caught:
            acquire_lock(state_path)
    finally:
        os.close(fd)
    assert str(caught.value) == (
        f"Another communal-sync run holds the lock on {state_path}. "
        "Wait for it to finish, or stop it."
    )


def test_stale_holder_details_of_a_dead_process_are_overwritten(tmp_path: Path) -> None:
    state_path = tmp_path / "state.db"
    lock_path_for(state_path).write_text(json.dumps({"pid": 999999, "command": "old"}))
    with acquire_lock(state_path) as lock:
        assert json.loads(lock_path_for(state_path).read_text()) == lock.holder
        assert lock.holder["pid"] == os.getpid()
