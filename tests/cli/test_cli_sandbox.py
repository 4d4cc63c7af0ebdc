"""``communal-sync sandbox`` as a real process: it prints where it listens, serves, stops on ^C."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from communal_sync.api.settings import DEFAULT_API_VERSION

Cli = Callable[..., Any]

READY_LINE = "Press Ctrl-C to stop."
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
LISTENING = re.compile(r"^Communal sandbox listening on (http://127\.0\.0\.1:\d+/api)$")
MANAGER_KEY = re.compile(r"^Manager key: (\S+)$")


class SandboxProcess:
    """A ``communal-sync sandbox`` child process whose stdout lines arrive on a queue."""

    def __init__(self, *args: str, columns: int = 200) -> None:
        env = {**os.environ, "COLUMNS": str(columns)}
        env.pop("PYTHONUNBUFFERED", None)  # the command must flush its own output
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "communal_sync", "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for text in stream:
            self.lines.put(text.rstrip("\n"))
        self.lines.put(None)

    def read_until(self, last: str, timeout: float) -> list[str]:
        """Lines printed up to and including ``last``; fails if it does not come in time."""
        seen: list[str] = []
        while True:
            try:
                text = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no {last!r} within {timeout} s; printed so far: {seen}")
            if text is None:
                errors = self.proc.stderr.read() if self.proc.stderr else ""
                pytest.fail(f"the sandbox ended before printing {last!r}: {seen} {errors}")
            seen.append(text)
            if text == last:
                return seen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxProcess]]:
    started: list[SandboxProcess] = []

    def start(*args: str, columns: int = 200) -> SandboxProcess:
        process = SandboxProcess(*args, columns=columns)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def test_sandbox_prints_url_and_key_serves_and_stops_cleanly_on_ctrl_c(
    start_sandbox: Callable[..., SandboxProcess],
) -> None:
    sandbox = start_sandbox("--port", "0")

    printed = sandbox.read_until(READY_LINE, STARTUP_TIMEOUT)

    listening = LISTENING.match(printed[0])
    key = MANAGER_KEY.match(printed[1])
    assert listening and key, printed
    base_url, manager_key = listening[1], key[1]
    assert manager_key == "sandbox-manager-key"
    assert printed[2] == (
        f"Try: COMMUNAL_API_KEY={manager_key} communal-sync user 101 --base-url {base_url}"
    )
    response = httpx.get(
        f"{base_url}/users/101",
        headers={"Authorization": f"Bearer {manager_key}", "X-Api-Version": DEFAULT_API_VERSION},
        timeout=5.0,
    )
    assert response.status_code == 200
    assert response.json()["email"] == "amara.okafor@example.org"

    sandbox.proc.send_signal(signal.SIGINT)

    # Ctrl-C is how the sandbox is meant to stop (its help says "until Ctrl-C"): exit 0.
    assert sandbox.proc.wait(timeout=STOP_TIMEOUT) == 0
    assert sandbox.proc.stderr is not None
    assert "Traceback" not in sandbox.proc.stderr.read()


def test_sandbox_seed_option_serves_that_organization(
    start_sandbox: Callable[..., SandboxProcess], tmp_path: Path
) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        '{"api_keys": [{"key": "tiny-manager", "user_id": 7, "manager": true}],'
        ' "users": [{"id": 7, "first_name": "Ada", "last_name": "Byron",'
        ' "email": "ada@example.org"}]}'
    )
    sandbox = start_sandbox("--port", "0", "--seed", str(seed))

    printed = sandbox.read_until(READY_LINE, STARTUP_TIMEOUT)

    listening = LISTENING.match(printed[0])
    assert listening, printed
    assert printed[1] == "Manager key: tiny-manager"
    # The line to paste names a user this seed has, not the demo's 101.
    assert printed[2] == (
        f"Try: COMMUNAL_API_KEY=tiny-manager communal-sync user 7 --base-url {listening[1]}"
    )
    response = httpx.get(
        f"{listening[1]}/users/7",
        headers={"Authorization": "Bearer tiny-manager"},
        timeout=5.0,
    )
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.org"


def test_the_line_to_paste_is_one_line_on_a_narrow_terminal(
    start_sandbox: Callable[..., SandboxProcess],
) -> None:
    sandbox = start_sandbox("--port", "0", columns=40)

    printed = sandbox.read_until(READY_LINE, STARTUP_TIMEOUT)

    listening = LISTENING.match(printed[0])
    assert listening, printed
    assert printed[2] == (
        "Try: COMMUNAL_API_KEY=sandbox-manager-key communal-sync user 101 --base-url "
        f"{listening[1]}"
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_non_loopback_host_is_a_usage_error(cli: Cli, host: str) -> None:
    result = cli("sandbox", "--host", host)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: --host {host} is not a loopback address; the sandbox stays local.\n"
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "cannot read the seed file"), ('{"users": [', "the seed is not valid JSON")],
    ids=["missing", "broken"],
)
def test_unusable_seed_file_is_fatal_and_named(
    cli: Cli, tmp_path: Path, content: str | None, fragment: str
) -> None:
    seed = tmp_path / "seed.json"
    if content is not None:
        seed.write_text(content)

    result = cli("sandbox", "--seed", str(seed))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {seed}: {fragment}")
    assert result.stderr.count("\n") == 1
