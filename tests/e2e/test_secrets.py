"""The API key never leaks: not in output, files, the state, the request log or a traceback.

Every command runs through the real CLI with a recognizable fake key, on success and on
every failure path (401, 403, 404, 422, 400, network down, 5xx, dropped connections, a
proxy that echoes the key back, an unexpected crash). Afterwards the key, the key without
its prefix, its base64 and hex, and ``Bearer <key>`` must appear in no stdout or stderr,
in no file under tmp_path (reports, plans, the state database with its -wal and -shm,
the lock file) and not in the sandbox's request log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import communal_sync.sandbox as sandbox_package
from communal_sync.api import settings as settings_module
from communal_sync.api.client import CommunalClient
from communal_sync.cli import app
from communal_sync.sandbox import Faults, Sandbox, serve_forever
from communal_sync.state import open_state
from communal_sync.state.location import lock_path_for

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "data" / "secrets"
EXPORT = DATA / "export.csv"
"""Against the demo organization: four updates, two unchanged rows, line 6 invalid."""
DUPLICATE_EMAIL = DATA / "duplicate_email.csv"
"""Gives user 101 the email of user 102: the API answers 422."""
UNKNOWN_USER = DATA / "unknown_user.csv"
"""One row for user 999, who does not exist: the API answers 404."""
LINKS = DATA / "links.csv"

FAKE = "csk_live_7Q3xSECRETdoNotLeak9Z"
"""The manager key (user 1) every run uses unless it tests another."""
REJECTED = "csk_live_4R8kREJECTEDnoLeak2M"
"""A key the sandbox does not know: every request is a 401."""
MEMBER = "csk_live_9M1wMEMBERdoNotLeak5P"
"""A member key of user 104: reading or writing anyone else is a 403."""
SECRETS = (FAKE, REJECTED, MEMBER)

REPORT_SUFFIXES = (".json", ".csv", ".md", ".html")
LOG_FORMATS = ("text", "json")
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
HISTORY_RUN = "1"
"""The run the ``history`` fixture leaves in the state, for ``revert`` and ``runs show``."""

Cli = Callable[..., Any]


# --- finding the key ---------------------------------------------------------------------


def leak_patterns(secret: str) -> dict[str, bytes]:
    """The forms in which ``secret`` could escape: as is, in part, encoded, as a header."""
    raw = secret.encode()
    bearer = b"Bearer " + raw
    return {
        "the key": raw,
        "the key without its prefix": raw.split(b"_", 2)[2],
        "Bearer + key": bearer,
        "base64(key)": base64.b64encode(raw).rstrip(b"="),
        "urlsafe base64(key)": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "base64(Bearer + key)": base64.b64encode(bearer).rstrip(b"="),
        "hex(key)": raw.hex().encode(),
        "utf-16(key)": secret.encode("utf-16-le"),
    }


def leaks_in(where: str, data: bytes) -> list[str]:
    """``"where: what"`` for every form of every fake key found in ``data``."""
    return [
        f"{where}: {name} of {secret}"
        for secret in SECRETS
        for name, pattern in leak_patterns(secret).items()
        if pattern in data
    ]


def files_under(root: Path) -> list[Path]:
    """Every regular file below ``root``, hidden ones (temporary, -wal, -shm) included."""
    return sorted(p for p in root.rglob("*") if p.is_file())


@dataclass
class Exposure:
    """Everything the runs of one test showed, searched for the keys at the end."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    sandboxes: list[Sandbox] = field(default_factory=list)

    def note(self, where: str, text: str) -> None:
        """Remember one piece of output (stdout, stderr, a traceback, a log line)."""
        self.texts.append((where, text))

    def leaks(self, *roots: Path) -> list[str]:
        """Every leak in the noted texts, the files under ``roots`` and the request logs."""
        found: list[str] = []
        for where, text in self.texts:
            found += leaks_in(where, text.encode("utf-8", errors="surrogateescape"))
        for root in roots:
            for path in files_under(root):
                found += leaks_in(str(path), path.read_bytes())
        for sandbox in self.sandboxes:
            found += leaks_in("the sandbox request log", json.dumps(sandbox.requests()).encode())
        return found


@dataclass
class Runs:
    """Runs the real CLI, notes its output, and checks the exit code it was expected to give."""

    cli: Cli
    exposure: Exposure
    log_format: str = "text"

    def __call__(self, *args: str | Path, env: dict[str, str], expect: int | None = None) -> Any:
        argv = ["--log-format", self.log_format, *(str(a) for a in args)]
        result = self.cli(*argv, env=env)
        label = " ".join(argv)
        self.exposure.note(f"stdout of `{label}`", result.stdout)
        self.exposure.note(f"stderr of `{label}`", result.stderr)
        if expect is not None:
            assert result.exit_code == expect, (label, result.stdout, result.stderr)
        return result


def outputs(folder: Path, report: str, failed: str | None = None) -> list[str | Path]:
    """``--report`` (and ``--failed-out``) options writing into ``folder``."""
    args: list[str | Path] = ["--report", folder / report]
    return args + (["--failed-out", folder / failed] if failed else [])


def env_for(base_url: str, state: Path, key: str | None = FAKE) -> dict[str, str]:
    """Environment for a CLI run: the API, the key (unless it comes from a file) and the state."""
    env = {"COMMUNAL_BASE_URL": base_url, "COMMUNAL_SYNC_STATE": str(state)}
    if key is not None:
        env["COMMUNAL_API_KEY"] = key
    return env


@contextlib.contextmanager
def wal_kept(state: Path) -> Iterator[None]:
    """Keep a reader connection open so the state's -wal and -shm outlive each run.

    SQLite deletes them when the last connection closes; held open, they are on disk to
    be searched (and stat'ed) like every other file.
    """
    conn = sqlite3.connect(state)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        yield
    finally:
        conn.close()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def write_key_file(folder: Path, secret: str, name: str = "communal.key") -> Path:
    """A key file as people make them: the key and a trailing newline."""
    path = folder / name
    path.write_text(secret + "\n", encoding="utf-8")
    return path


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def keyed_seed(demo_seed: dict[str, Any]) -> dict[str, Any]:
    """The demo organization with FAKE as a manager key and MEMBER as user 104's key."""
    demo_seed["api_keys"] += [
        {"key": FAKE, "user_id": 1, "manager": True},
        {"key": MEMBER, "user_id": 104, "manager": False},
    ]
    return demo_seed


@pytest.fixture
def api(keyed_seed: dict[str, Any]) -> Iterator[Sandbox]:
    """A running sandbox that accepts FAKE (manager) and MEMBER (member of 104)."""
    with Sandbox(keyed_seed) as running:
        yield running


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside tmp_path for key files and seeds, which hold the key on purpose."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def exposure(api: Sandbox) -> Exposure:
    return Exposure(sandboxes=[api])


@pytest.fixture
def history(cli: Cli, api: Sandbox, state: Path, tmp_path: Path, exposure: Exposure) -> Path:
    """A saved plan of EXPORT (returned) and run 1, a push of it, made with the good key."""
    run = Runs(cli, exposure)
    plan = tmp_path / "saved-plan.json"
    env = env_for(api.base_url, state)
    run("plan", EXPORT, "--out", plan, env=env, expect=3)
    run("push", EXPORT, "--yes", env=env, expect=3)
    return plan


# --- every command, succeeding -----------------------------------------------------------


@pytest.mark.parametrize("log_format", LOG_FORMATS)
@pytest.mark.parametrize("key_source", ["env", "file"])
def test_no_command_shows_or_stores_the_key_when_everything_works(
    cli: Cli,
    api: Sandbox,
    state: Path,
    tmp_path: Path,
    key_dir: Path,
    exposure: Exposure,
    log_format: str,
    key_source: str,
) -> None:
    run = Runs(cli, exposure, log_format)
    from_file = key_source == "file"
    env = env_for(api.base_url, state, key=None if from_file else FAKE)
    key = ["--api-key-file", str(write_key_file(key_dir, FAKE))] if from_file else []
    out = tmp_path / "out"
    out.mkdir()
    plan = out / "plan.json"

    run("runs", env=env, expect=0)  # no state file yet: says so, and creates none
    assert not state.exists()
    with open_state(state):  # the state file, for wal_kept to hold open
        pass
    with wal_kept(state):
        run("validate", EXPORT, env=env, expect=3)
        errors_out = out / "e.csv"
        run("validate", EXPORT, "--format", "json", "--errors-out", errors_out, env=env, expect=3)
        for suffix in REPORT_SUFFIXES:
            run("plan", EXPORT, *key, "--report", out / f"plan{suffix}", env=env, expect=3)
        run("plan", EXPORT, *key, "--out", plan, "--detailed-exitcode", env=env, expect=3)
        run("apply", plan, *key, "--yes", "--report", out / "apply.json", env=env, expect=3)
        run("revert", "1", *key, "--dry-run", "--report", out / "revert-plan.md", env=env, expect=0)
        run("revert", "1", *key, "--yes", "--report", out / "revert.html", env=env, expect=0)
        run("push", EXPORT, *key, "--dry-run", env=env, expect=3)
        for suffix in REPORT_SUFFIXES:
            run(
                "push", EXPORT, *key, "--yes", *outputs(out, f"push{suffix}", f"f{suffix}"), env=env
            )
        run("runs", env=env, expect=0)
        run("runs", "--json", env=env, expect=0)
        for run_id in ("1", "2", "3"):
            run("runs", "show", run_id, env=env, expect=0)
            run("runs", "show", run_id, "--json", env=env, expect=0)
        run("link", LINKS, "--dry-run", env=env, expect=0)
        run("link", LINKS, "--format", "json", env=env, expect=0)
        run("link", "--from-communal", *key, env=env, expect=0)
        run(
            "link", "--from-communal", *key, "--full-refresh", "--format", "json", env=env, expect=0
        )
        run("user", "101", *key, env=env, expect=0)
        run("user", "101", *key, "--json", env=env, expect=0)
        run("user", "101", *key, "--api-version", "2026-02-01", env=env, expect=0)  # deprecated
        run("fields", *key, env=env, expect=0)
        run("fields", *key, "--json", env=env, expect=0)

        assert Path(f"{state}-wal").exists() and Path(f"{state}-shm").exists()
        assert exposure.leaks(tmp_path) == []
    # The runs really happened: the state holds their work.
    assert [e["method"] for e in api.requests()].count("PUT") >= 12


def test_every_file_a_run_writes_is_private(
    cli: Cli, api: Sandbox, state: Path, tmp_path: Path, exposure: Exposure
) -> None:
    run = Runs(cli, exposure)
    env = env_for(api.base_url, state)
    out = tmp_path / "out"
    out.mkdir()
    written = [out / "errors.csv", out / "plan.json", out / "failed.csv"]
    written += [out / f"plan{s}" for s in REPORT_SUFFIXES]
    written += [out / f"push{s}" for s in REPORT_SUFFIXES]

    run("runs", env=env, expect=0)  # no state file yet: says so, and creates none
    with open_state(state):  # as every command that needs one creates it
        pass
    with wal_kept(state):
        run("validate", EXPORT, "--errors-out", out / "errors.csv", env=env, expect=3)
        run("plan", EXPORT, "--out", out / "plan.json", env=env, expect=3)
        for suffix in REPORT_SUFFIXES:
            run("plan", EXPORT, "--report", out / f"plan{suffix}", env=env, expect=3)
            files = outputs(out, f"push{suffix}", "failed.csv" if suffix == ".csv" else None)
            run("push", EXPORT, "--yes", *files, env=env)
        state_files = [state, Path(f"{state}-wal"), Path(f"{state}-shm"), lock_path_for(state)]
        modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in [*written, *state_files]}
        assert exposure.leaks(tmp_path) == []

    assert modes == {str(p): PRIVATE_FILE for p in [*written, *state_files]}
    assert stat.S_IMODE(state.parent.stat().st_mode) == PRIVATE_DIR
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp left


# --- every command, failing --------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A way for the API to fail, and the sentence every command must then print."""

    key: str | None
    message: str
    base_url: str | None = None
    faults: Faults | None = None
    key_in_file: bool = False
    extra: tuple[str, ...] = ()


FAILURES = {
    "401 unknown key": Failure(REJECTED, "The API key was not accepted (401)."),
    "401 unknown key from a file": Failure(
        REJECTED, "The API key was not accepted (401).", key_in_file=True
    ),
    "400 unsupported version": Failure(
        FAKE,
        "The API does not serve the requested version",
        extra=("--api-version", "2020-01-01"),
    ),
    "network down": Failure(FAKE, "No usable answer from the API", base_url="closed"),
    "every answer a 5xx": Failure(
        FAKE, "The API failed on its side (50", faults=Faults(error_rate=1.0, fault_seed=7)
    ),
    "every connection dropped": Failure(
        FAKE, "No usable answer from the API", faults=Faults(drop_rate=1.0)
    ),
}


@pytest.mark.parametrize("log_format", LOG_FORMATS)
@pytest.mark.parametrize("name", sorted(FAILURES))
def test_no_failing_command_shows_or_stores_the_key(
    cli: Cli,
    api: Sandbox,
    keyed_seed: dict[str, Any],
    state: Path,
    tmp_path: Path,
    key_dir: Path,
    exposure: Exposure,
    history: Path,
    log_format: str,
    name: str,
) -> None:
    failure = FAILURES[name]
    with contextlib.ExitStack() as stack:
        base_url = api.base_url
        if failure.faults is not None:
            faulty = stack.enter_context(Sandbox(keyed_seed, faults=failure.faults))
            exposure.sandboxes.append(faulty)
            base_url = faulty.base_url
        elif failure.base_url == "closed":
            base_url = f"http://127.0.0.1:{closed_port()}/api"
        run = Runs(cli, exposure, log_format)
        env = env_for(base_url, state, key=None if failure.key_in_file else failure.key)
        api_args = [*failure.extra]
        if failure.key_in_file:
            assert failure.key is not None
            api_args += ["--api-key-file", str(write_key_file(key_dir, failure.key))]
        fresh = ["--full-refresh", *api_args]  # unchanged rows are re-read, not skipped
        out = tmp_path / "out"
        out.mkdir()
        commands: list[list[str | Path]] = [
            ["user", "101", *api_args],
            ["user", "101", "--json", *api_args],
            ["fields", *api_args],
            ["plan", EXPORT, *fresh, "--report", out / "plan.json", "--out", out / "p.json"],
            [
                "push",
                EXPORT,
                *fresh,
                "--yes",
                "--report",
                out / "r.html",
                "--failed-out",
                out / "f.csv",
            ],
            ["revert", HISTORY_RUN, "--yes", "--report", out / "revert.md", *api_args],
            ["apply", history, "--yes", "--report", out / "apply.csv", *api_args],
        ]
        for command in commands:
            result = run(*command, env=env)
            shown = result.stderr if log_format == "text" else _json_messages(result.stderr)
            # 1: the command stopped; 3: each user's (or row's) failure was recorded and the
            # command went on: apply records failed writes, plan reports unreachable rows.
            assert result.exit_code in (1, 3), (command, result.stdout, result.stderr)
            if result.exit_code == 1:
                assert failure.message in shown, (command, result.stderr)
            else:
                assert command[0] in ("push", "revert", "apply", "plan"), (command, result.stdout)
        run("runs", "--json", env=env, expect=0)
        run("runs", "show", HISTORY_RUN, "--json", env=env, expect=0)

        with wal_kept(state):
            assert exposure.leaks(tmp_path) == []


def _json_messages(stderr: str) -> str:
    """The messages of the error and warning events in ``--log-format json`` stderr."""
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    return "\n".join(str(e.get("message", "")) for e in events)


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_a_member_key_refused_403_is_never_shown(
    cli: Cli,
    api: Sandbox,
    state: Path,
    tmp_path: Path,
    exposure: Exposure,
    history: Path,
    log_format: str,
) -> None:
    run = Runs(cli, exposure, log_format)
    env = env_for(api.base_url, state, key=MEMBER)

    result = run("user", "101", env=env, expect=1)
    run("user", "104", env=env, expect=0)  # a member may read themself
    run("plan", EXPORT, "--report", tmp_path / "plan.md", env=env)
    run("push", EXPORT, "--yes", *outputs(tmp_path, "r.json", "f.csv"), env=env)
    run("revert", HISTORY_RUN, "--yes", env=env)
    run("apply", history, "--yes", "--report", tmp_path / "a.csv", env=env)
    run("runs", "--json", env=env, expect=0)

    assert "may not access user 101 (403)" in (
        result.stderr if log_format == "text" else _json_messages(result.stderr)
    )
    assert 403 in {e["status"] for e in api.requests()}
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_a_missing_user_404_never_shows_the_key(
    cli: Cli, api: Sandbox, state: Path, tmp_path: Path, exposure: Exposure, log_format: str
) -> None:
    run = Runs(cli, exposure, log_format)
    env = env_for(api.base_url, state)

    result = run("user", "999", env=env, expect=1)
    run("plan", UNKNOWN_USER, "--report", tmp_path / "plan.json", env=env, expect=3)
    run("push", UNKNOWN_USER, "--yes", *outputs(tmp_path, "r.md", "f.csv"), env=env, expect=3)
    run("runs", "show", "1", "--json", env=env)

    shown = result.stderr if log_format == "text" else _json_messages(result.stderr)
    assert "found no user 999 (404)" in shown
    assert 404 in {e["status"] for e in api.requests()}
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


@pytest.mark.parametrize("log_format", LOG_FORMATS)
def test_a_rejected_duplicate_email_422_never_shows_the_key(
    cli: Cli, api: Sandbox, state: Path, tmp_path: Path, exposure: Exposure, log_format: str
) -> None:
    run = Runs(cli, exposure, log_format)
    env = env_for(api.base_url, state)

    for suffix in REPORT_SUFFIXES:
        files = outputs(tmp_path, f"r{suffix}", f"failed{suffix}.csv")
        run("push", DUPLICATE_EMAIL, "--yes", *files, env=env, expect=3)
    shown = run("runs", "show", "1", "--json", env=env, expect=0)
    run("runs", "show", "1", env=env, expect=0)

    assert "already been taken" in shown.stdout
    assert 422 in {e["status"] for e in api.requests()}
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


# --- a proxy that echoes the key back ------------------------------------------------------


ECHO_MODES = ("400", "401", "403", "404", "418", "422", "503", "302", "html")
"""How the echoing proxy answers: a status whose body quotes the key, a redirect to a URL
carrying it, or a 200 with an HTML page that quotes it."""


class _EchoHandler(BaseHTTPRequestHandler):
    """Forwards to the sandbox, except that ``server.mode`` answers quote the key back."""

    protocol_version = "HTTP/1.1"
    server: _EchoProxy

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the sandbox's request log instead."""

    def do_GET(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        mode = self.server.mode_for(self.command)
        if mode is None:
            status, headers, payload = self._forward(body, auth)
        else:
            status, headers, payload = echo_reply(mode, auth)
        key = auth.removeprefix("Bearer ")
        headers["X-Api-Version-Warning"] = f"Version deprecated for {auth} ({key})."
        headers["Sunset"] = f"soon, {key}"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, body: bytes, auth: str) -> tuple[int, dict[str, str], bytes]:
        names = ("Accept", "Content-Type", "X-Api-Version")
        headers = {n: v for n in names if (v := self.headers.get(n)) is not None}
        answer = self.server.upstream.request(
            self.command, self.path, content=body, headers={**headers, "Authorization": auth}
        )
        kept = {"Content-Type": answer.headers.get("Content-Type", "application/json")}
        return answer.status_code, kept, answer.content


def echo_reply(mode: str, auth: str) -> tuple[int, dict[str, str], bytes]:
    """An answer in ``mode`` that quotes the Authorization header and the key everywhere."""
    key = auth.removeprefix("Bearer ")
    said = f"Proxy saw Authorization: {auth} (key {key})."
    as_json = {"Content-Type": "application/json"}
    if mode == "html":
        page = f"<html><body><h1>Gateway</h1><p>{said}</p></body></html>"
        return 200, {"Content-Type": "text/html"}, page.encode()
    if mode == "302":
        location = {"Location": f"https://login.example.com/?token={key}"}
        return 302, as_json | location, json.dumps({"message": said}).encode()
    body: dict[str, Any] = {"message": said}
    if mode == "422":
        body["errors"] = {"email": [said], key: [f"{key} is not valid."]}
    if mode == "400":
        body["supported_versions"] = [key, auth]
    return int(mode), as_json, json.dumps(body).encode()


class _EchoProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.upstream = httpx.Client(base_url=upstream)
        self.get_mode: str | None = None
        self.write_mode: str | None = None

    def mode_for(self, method: str) -> str | None:
        return self.get_mode if method == "GET" else self.write_mode

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/api"


@pytest.fixture
def echo_proxy(api: Sandbox) -> Iterator[_EchoProxy]:
    """A loopback proxy in front of ``api`` whose error answers quote the key back."""
    proxy = _EchoProxy(api.root_url)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.upstream.close()
        thread.join()


@pytest.mark.parametrize(
    ("mode", "log_format"),
    [(mode, "text") for mode in ECHO_MODES] + [("401", "json"), ("422", "json"), ("html", "json")],
)
def test_a_server_echoing_the_key_back_is_redacted_everywhere(
    cli: Cli,
    echo_proxy: _EchoProxy,
    state: Path,
    tmp_path: Path,
    exposure: Exposure,
    log_format: str,
    mode: str,
) -> None:
    run = Runs(cli, exposure, log_format)
    env = env_for(echo_proxy.base_url, state)
    out = tmp_path / "out"
    out.mkdir()

    echo_proxy.get_mode = mode  # reads fail, quoting the key
    run("user", "101", env=env)
    run("fields", "--json", env=env)
    run("plan", EXPORT, "--report", out / "plan.html", env=env)
    run("link", "--from-communal", "--format", "json", env=env)
    echo_proxy.get_mode = None  # reads pass (with warnings quoting the key), writes fail
    echo_proxy.write_mode = mode
    pushed = run("push", EXPORT, "--yes", *outputs(out, "push.json", "f.csv"), env=env)
    run("runs", "show", "1", env=env)
    run("runs", "show", "1", "--json", env=env)
    run("push", EXPORT, "--yes", "--full-refresh", "--report", out / "again.md", env=env)

    assert pushed.exit_code in (1, 3), pushed.stdout + pushed.stderr
    # The key did come back (in every warning), and was masked.
    assert "Bearer ****" in (
        pushed.stderr if log_format == "text" else _json_messages(pushed.stderr)
    )
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


# --- crashes: an unexpected exception shows a traceback, never the key --------------------


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("boom")


def _boom_client(self: CommunalClient, *args: Any, **kwargs: Any) -> Any:
    raise RuntimeError(f"boom {self!r}")


CRASHES: dict[str, tuple[Any, str, Callable[..., Any], bool]] = {
    # name: (owner, attribute, replacement, key from a file)
    "reading a user": (CommunalClient, "get_user", _boom_client, False),
    "reading a user, key from a file": (CommunalClient, "get_user", _boom_client, True),
    "checking the base URL, key in a local": (settings_module, "check_base_url", _boom, False),
    "checking a key read from a file": (settings_module, "_checked_key", _boom, True),
}


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_a_crash_in_process_carries_no_key_in_its_output_or_exception(
    api: Sandbox,
    state: Path,
    tmp_path: Path,
    key_dir: Path,
    exposure: Exposure,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    owner, attribute, replacement, key_in_file = CRASHES[name]
    monkeypatch.setattr(owner, attribute, replacement)
    env = env_for(api.base_url, state, key=None if key_in_file else FAKE)
    argv = ["user", "101"]
    if key_in_file:
        argv += ["--api-key-file", str(write_key_file(key_dir, FAKE))]

    for log_format in LOG_FORMATS:
        result = CliRunner().invoke(
            app, ["--log-format", log_format, *argv], env=env, catch_exceptions=True
        )
        error = result.exception
        assert isinstance(error, RuntimeError), result.output
        exposure.note("output", result.output)
        exposure.note("str(exception)", str(error))
        exposure.note("repr(exception)", repr(error))
        exposure.note("traceback", "".join(traceback.format_exception(error)))

    assert exposure.leaks(tmp_path) == []


def test_a_crash_in_the_apply_workers_leaves_no_key_in_output_or_state(
    cli: Cli,
    api: Sandbox,
    state: Path,
    tmp_path: Path,
    exposure: Exposure,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(CommunalClient, "update_user", _boom_client)
    env = env_for(api.base_url, state)
    argv = ["push", str(EXPORT), "--yes", "--report", str(tmp_path / "r.json")]

    result = CliRunner().invoke(app, argv, env=env, catch_exceptions=True)
    monkeypatch.undo()
    run = Runs(cli, exposure)
    run("runs", "--json", env=env, expect=0)
    run("runs", "show", "1", "--json", env=env, expect=0)

    assert isinstance(result.exception, RuntimeError), result.output
    assert "CommunalClient(" in str(result.exception)  # the client's repr, masked
    exposure.note("output", result.output)
    exposure.note("traceback", "".join(traceback.format_exception(result.exception)))
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


CRASH_SCRIPT = """
import sys
from communal_sync.api import settings
from communal_sync.api.client import CommunalClient
from communal_sync.cli import main

def boom(*args, **kwargs):
    shown = repr(args[0]) if isinstance(args[0], CommunalClient) else ""
    raise RuntimeError("boom " + shown)

target = sys.argv.pop(1)
setattr(CommunalClient if target == "get_user" else settings, target, boom)
main()
"""
"""Run the real console entry point with one function replaced by one that raises."""


@pytest.mark.parametrize("traceback_style", ["rich", "standard"])
@pytest.mark.parametrize("target", ["get_user", "check_base_url", "_checked_key"])
def test_the_traceback_a_crash_prints_shows_no_locals_and_no_key(
    api: Sandbox,
    state: Path,
    tmp_path: Path,
    key_dir: Path,
    exposure: Exposure,
    target: str,
    traceback_style: str,
) -> None:
    env = {**os.environ, **env_for(api.base_url, state)}
    if traceback_style == "standard":
        env["TYPER_STANDARD_TRACEBACK"] = "1"
    key_file = ["--api-key-file", str(write_key_file(key_dir, FAKE))]
    argv = ["user", "101", *(key_file if target == "_checked_key" else [])]

    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, target, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    exposure.note("stdout", done.stdout)
    exposure.note("stderr", done.stderr)

    assert done.returncode == 1, done.stderr
    assert "RuntimeError: boom" in done.stderr
    assert "─ locals ─" not in done.stderr
    assert exposure.leaks(tmp_path) == []


# --- refusals before any connection --------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record (and fail) every name lookup or connection attempt made after it is set up."""
    attempts: list[tuple[Any, ...]] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("This test allows no connection.")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.mark.parametrize("where", ["flag", "env"])
@pytest.mark.parametrize(
    "base_url", ["http://example.com/api", "http://communal-sync-refused.invalid:9/api"]
)
def test_plain_http_to_a_remote_host_is_refused_before_any_connection(
    cli: Cli,
    state: Path,
    tmp_path: Path,
    history: Path,
    exposure: Exposure,
    no_network: list[tuple[Any, ...]],
    base_url: str,
    where: str,
) -> None:
    run = Runs(cli, exposure)
    env = env_for(base_url, state)
    flag = ["--base-url", base_url] if where == "flag" else []
    host = base_url.split("//", 1)[1].split(":", 1)[0].split("/", 1)[0]
    commands: list[list[str | Path]] = [
        ["user", "101"],
        ["fields"],
        ["plan", EXPORT, "--full-refresh", "--report", tmp_path / "r.json"],
        ["push", EXPORT, "--full-refresh", "--yes", "--report", tmp_path / "p.json"],
        ["revert", HISTORY_RUN, "--yes"],
        ["apply", history, "--yes"],
    ]
    for command in commands:
        result = run(*command, *flag, env=env, expect=1)
        assert result.stderr.startswith(f"Error: Refusing plain http:// to {host}: "), command
        assert "No usable answer" not in result.stderr

    assert no_network == []
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "p.json").exists()
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


@pytest.mark.parametrize(
    "base_url",
    [
        f"https://token:{FAKE}@api.example.com/api",
        f"https://{FAKE}@api.example.com/api",
        f"http://token:{FAKE}@example.com/api",
        f"http://token:{FAKE}@127.0.0.1:9/api",
        f"ftp://token:{FAKE}@api.example.com/api",
        f"https://token:{FAKE}@/api",
        f"token:{FAKE}@api.example.com/api",
    ],
)
def test_a_base_url_carrying_the_key_is_refused_without_quoting_it(
    cli: Cli, state: Path, tmp_path: Path, no_network: list[tuple[Any, ...]], base_url: str
) -> None:
    exposure = Exposure()
    run = Runs(cli, exposure)

    flagged = run("user", "101", "--base-url", base_url, env=env_for("", state), expect=1)
    from_env = run("fields", env=env_for(base_url, state), expect=1)

    assert flagged.stderr.startswith("Error: The API base URL ")
    assert from_env.stderr.startswith("Error: The API base URL ")
    assert no_network == []
    assert exposure.leaks(tmp_path) == []


MALFORMED_KEY = FAKE[:13] + " " + FAKE[13:]
"""FAKE with a space in the middle: refused, and neither half may be quoted."""


@pytest.mark.parametrize(
    ("key", "file_bytes"),
    [
        (MALFORMED_KEY, None),
        (FAKE + "é", None),
        (None, MALFORMED_KEY.encode()),
        (None, b"\xff\xfe" + FAKE.encode()),
        (None, FAKE.encode() + b"\n" + FAKE.encode()),
    ],
    ids=["env with a space", "env not ascii", "file with a space", "file not utf-8", "two lines"],
)
def test_a_malformed_key_is_refused_without_quoting_any_of_it(
    cli: Cli,
    state: Path,
    tmp_path: Path,
    key_dir: Path,
    no_network: list[tuple[Any, ...]],
    key: str | None,
    file_bytes: bytes | None,
) -> None:
    exposure = Exposure()
    run = Runs(cli, exposure)
    args: list[str | Path] = []
    if file_bytes is not None:
        key_file = key_dir / "malformed.key"
        key_file.write_bytes(file_bytes)
        args = ["--api-key-file", key_file]
    env = env_for("https://api.example.com/api", state, key=key)

    for command in (["user", "101"], ["plan", str(EXPORT)], ["push", str(EXPORT), "--yes"]):
        result = run(*command, *args, env=env, expect=1)
        assert result.stderr.startswith("Error: The API key"), result.stderr

    texts = "\n".join(text for _, text in exposure.texts)
    assert FAKE[:13] not in texts and FAKE[13:] not in texts
    assert no_network == []
    assert exposure.leaks(tmp_path) == []


# --- the sandbox: its own key only ---------------------------------------------------------


def test_the_sandbox_command_shows_its_own_key_and_never_the_users(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    def serve_briefly(server: Sandbox, on_ready: Callable[[str, str], None], **_: Any) -> None:
        stop = threading.Event()
        stop.set()
        serve_forever(server, on_ready, stop=stop)

    # The command imports serve_forever from the package when it runs (start-up rule).
    monkeypatch.setattr(sandbox_package, "serve_forever", serve_briefly)
    exposure = Exposure()
    env = {"COMMUNAL_API_KEY": FAKE, "COMMUNAL_BASE_URL": "https://api.getcommunal.com/api"}

    result = Runs(cli, exposure)("sandbox", env=env, expect=0)

    assert "Manager key: sandbox-manager-key" in result.stdout
    assert exposure.leaks(tmp_path) == []


def test_the_embedded_sandbox_key_is_never_shown_or_stored(
    cli: Cli, keyed_seed: dict[str, Any], tmp_path: Path, key_dir: Path, exposure: Exposure
) -> None:
    keyed_seed["api_keys"].sort(key=lambda k: k["key"] != FAKE)  # FAKE is the manager key
    seed = key_dir / "seed.json"
    seed.write_text(json.dumps(keyed_seed), encoding="utf-8")
    run = Runs(cli, exposure)
    state = tmp_path / "sandbox" / "state.db"
    box: list[str | Path] = ["--sandbox", "--sandbox-seed", seed]
    keep: list[str | Path] = [*box, "--state", state]
    env = {"COMMUNAL_SYNC_STATE": str(tmp_path / "state" / "state.db")}

    run("user", "101", *box, env=env, expect=0)
    run("fields", *box, "--json", env=env, expect=0)
    run("plan", EXPORT, *keep, "--out", tmp_path / "plan.json", *outputs(tmp_path, "p.md"), env=env)
    run("push", EXPORT, *keep, "--yes", *outputs(tmp_path, "r.html", "f.csv"), env=env, expect=3)
    run("runs", "show", "1", "--json", "--state", state, env=env, expect=0)
    run("apply", tmp_path / "plan.json", *keep, "--yes", env=env)
    run("revert", "1", *keep, "--yes", env=env)

    assert exposure.leaks(tmp_path) == []


# --- logging at DEBUG, as a library user might switch on ----------------------------------


@pytest.fixture
def debug_log() -> Iterator[list[str]]:
    """Every record httpx, httpcore and communal_sync log at DEBUG, formatted with tracebacks."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(n) for n in ("httpx", "httpcore", "communal_sync")]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
        lg.propagate = False
    try:
        yield lines
    finally:
        for lg, level, propagate in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate


def test_debug_logging_of_every_request_never_contains_the_key(
    cli: Cli,
    api: Sandbox,
    state: Path,
    tmp_path: Path,
    exposure: Exposure,
    debug_log: list[str],
) -> None:
    run = Runs(cli, exposure)
    env = env_for(api.base_url, state)

    run("user", "101", env=env, expect=0)
    run("push", EXPORT, "--yes", env=env, expect=3)
    run("user", "101", env=env_for(api.base_url, state, key=REJECTED), expect=1)
    run("user", "101", env=env_for(f"http://127.0.0.1:{closed_port()}/api", state), expect=1)

    assert any(line.startswith("httpcore") for line in debug_log)  # the requests were logged
    for number, line in enumerate(debug_log):
        exposure.note(f"log record {number}", line)
    with wal_kept(state):
        assert exposure.leaks(tmp_path) == []


# --- the search itself ----------------------------------------------------------------------


def test_the_leak_search_finds_every_form_of_every_key(tmp_path: Path) -> None:
    probe = tmp_path / "probe.bin"
    for secret in SECRETS:
        for name, pattern in leak_patterns(secret).items():
            probe.write_bytes(b"before " + pattern + b" after")
            assert f"{probe}: {name} of {secret}" in Exposure().leaks(tmp_path)
            printed = Exposure(texts=[("stderr", f"Error: {pattern.decode('ascii')}.")])
            assert f"stderr: {name} of {secret}" in printed.leaks()


def test_the_leak_search_reads_the_state_write_ahead_log_while_it_is_kept(
    tmp_path: Path,
) -> None:
    database = tmp_path / "state" / "state.db"
    database.parent.mkdir()
    with contextlib.closing(sqlite3.connect(database)) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (v TEXT)")

    with wal_kept(database):
        with contextlib.closing(sqlite3.connect(database)) as writer:
            writer.execute("INSERT INTO t VALUES (?)", (FAKE,))
            writer.commit()
        found = Exposure().leaks(tmp_path)

    assert f"{database}-wal: the key of {FAKE}" in found


@pytest.mark.parametrize(
    "config_text",
    [f'api_key = "{FAKE}"\n', f'[defaults]\napi_key = "{FAKE}"\n', f'[api]\nkey = "{FAKE}"\n'],
    ids=["top level", "in defaults", "an api section"],
)
def test_a_key_put_in_the_config_file_is_refused_without_quoting_it(
    cli: Cli, api: Sandbox, state: Path, tmp_path: Path, key_dir: Path, config_text: str
) -> None:
    config = key_dir / "communal-sync.toml"
    config.write_text(config_text, encoding="utf-8")
    exposure = Exposure(sandboxes=[api])
    run = Runs(cli, exposure)
    env = env_for(api.base_url, state)

    for command in ("validate", "plan", "push", "link"):
        result = run(command, EXPORT, "--config", config, env=env, expect=1)
        assert "unknown setting" in result.stderr, result.stderr

    assert api.requests() == []
    assert exposure.leaks(tmp_path) == []


def test_the_key_typed_in_place_of_its_file_name_is_not_quoted(
    cli: Cli, state: Path, tmp_path: Path, no_network: list[tuple[Any, ...]]
) -> None:
    exposure = Exposure()
    run = Runs(cli, exposure)
    env = env_for("https://api.example.com/api", state, key=None)

    for command in (["user", "101"], ["plan", str(EXPORT)], ["push", str(EXPORT), "--yes"]):
        result = run(*command, "--api-key-file", FAKE, env=env, expect=1)
        assert result.stderr.startswith("Error: The API key file given to --api-key-file"), (
            result.stderr
        )
        assert "rotate the key" in result.stderr

    texts = "\n".join(text for _, text in exposure.texts)
    assert FAKE not in texts and FAKE[:13] not in texts
    assert no_network == []
    assert exposure.leaks(tmp_path) == []
