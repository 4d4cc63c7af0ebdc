"""The sandbox's HTTP server: a loopback ``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive.

``Sandbox`` owns the state (one lock around every read and write), the fault injector and
the request log, and serves three areas: ``/api`` (the Communal API, see ``routes``),
``/_sandbox`` (inspection and fault switches, no key, never faulted) and nothing else.
The request log records method, path with query, status, fault and the JSON body of
writes, and never a header: the key stays out of it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from communal_sync.errors import ConfigError
from communal_sync.sandbox.faults import FaultInjector, Faults, Monotonic, error_reply
from communal_sync.sandbox.reply import Reply
from communal_sync.sandbox.routes import Api, ApiRequest, requested_version
from communal_sync.sandbox.seed import SandboxSeed, load_seed, parse_seed
from communal_sync.sandbox.store import Clock, Store, system_clock

DEFAULT_HOST: Final = "127.0.0.1"
IDLE_TIMEOUT_SECONDS: Final = 30.0
"""A keep-alive connection idle this long is closed, so its thread ends."""
LISTEN_BACKLOG: Final = 128
SHUTDOWN_POLL_SECONDS: Final = 0.02
"""How often the accept loop checks for stop(): small, so tests start and stop quickly."""
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Sleep = Callable[[float], None]
LogEntry = dict[str, Any]


class Sandbox:
    """A local Communal API for tests, demos and benchmarks; a context manager that serves.

    ``clock`` stamps ``updated_at``, ``monotonic`` drives the rate-limit window and
    ``sleep`` performs the injected latency: inject all three for deterministic tests.
    ``telephone_region`` makes the API store telephones as E.164 (numbers without a
    country code read in that region), as a real API may.
    """

    def __init__(
        self,
        seed: SandboxSeed | Mapping[str, Any] | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        faults: Faults | None = None,
        clock: Clock = system_clock,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = time.sleep,
        telephone_region: str | None = None,
    ) -> None:
        self._store = Store(parse_seed(seed if seed is not None else {}), clock=clock)
        self._api = Api(self._store, telephone_region=telephone_region)
        self._injector = FaultInjector(faults or Faults(), monotonic=monotonic)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._log: list[LogEntry] = []
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the port and serve in a background daemon thread (port 0: any free port)."""
        if self._server is not None:
            return
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="communal-sandbox",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close every open connection, keep-alive ones included."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` of the running sandbox."""
        if self._server is None:
            raise RuntimeError("The sandbox is not running; call start() first.")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """The API base URL, ``http://HOST:PORT/api``, to give a client."""
        return f"{self.root_url}/api"

    @property
    def manager_key(self) -> str:
        """The first manager key from the seed, or ``sandbox-manager-key``."""
        return self._store.manager_key

    # --- inspection and control ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The whole current state in the seed format (same as ``GET /_sandbox/state``)."""
        with self._lock:
            return copy.deepcopy(self._store.dump())

    def requests(self) -> list[LogEntry]:
        """The API requests served so far (same as ``GET /_sandbox/requests``)."""
        with self._lock:
            return copy.deepcopy(self._log)

    def clear_requests(self) -> int:
        """Empty the request log; return how many entries it had."""
        with self._lock:
            count = len(self._log)
            self._log.clear()
            return count

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        with self._lock:
            return self._injector.faults

    def set_faults(self, faults: Faults) -> None:
        """Switch faults at run time; the fault seed's random stream restarts."""
        with self._lock:
            self._injector.configure(faults)

    # --- serving (called from connection threads) ------------------------------------------

    def serve_api(
        self, method: str, target: str, headers: Mapping[str, str], raw: bytes
    ) -> Reply | None:
        """Answer an ``/api`` request, with faults; None means drop the connection unanswered."""
        split = urlsplit(target)
        body, logged_body = _parse_body(raw)
        entry: LogEntry = {
            "method": method,
            "path": target,
            "status": None,
            "fault": None,
            "api_version": requested_version(headers),
        }
        if method in WRITE_METHODS:
            entry["body"] = logged_body
        with self._lock:
            verdict = self._injector.judge()
            latency_ms = self._injector.faults.latency_ms
        if latency_ms:
            self._sleep(latency_ms / 1000)
        request = ApiRequest(
            method=method,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers=headers,
            body=body,
        )
        reply: Reply | None
        with self._lock:
            entry["fault"] = verdict.fault
            if verdict.fault == "drop":
                reply = None
            elif verdict.fault == "error" and verdict.error_status is not None:
                reply = error_reply(verdict.error_status)
            elif verdict.fault == "rate_limited":
                reply = Reply.message(429, "Too Many Attempts.")
                reply.headers.update(verdict.headers())
            else:
                reply = self._api.handle(request)
                reply.headers.update(verdict.headers())
            entry["status"] = None if reply is None else reply.status
            self._log.append(entry)
        if verdict.fault == "drop_after_apply":
            return None
        return reply

    def serve_control(self, method: str, target: str, raw: bytes) -> Reply:
        """Answer a ``/_sandbox`` request: state, request log and faults; never faulted."""
        path = urlsplit(target).path.rstrip("/")
        if path == "/_sandbox/state" and method == "GET":
            return Reply.json(200, self.state())
        if path == "/_sandbox/requests" and method == "GET":
            return Reply.json(200, self.requests())
        if path == "/_sandbox/requests" and method == "DELETE":
            return Reply.message(200, "Request log cleared.", cleared=self.clear_requests())
        if path == "/_sandbox/faults" and method == "GET":
            return Reply.json(200, self.faults.to_dict())
        if path == "/_sandbox/faults" and method == "POST":
            body, _ = _parse_body(raw)
            try:
                faults = Faults.from_mapping(body)
            except ConfigError as error:
                return Reply.message(422, str(error))
            self.set_faults(faults)
            return Reply.json(200, faults.to_dict())
        return Reply.message(404, f"No sandbox endpoint {method} {path}.")


def _parse_body(raw: bytes) -> tuple[Any, Any]:
    """The request body as JSON (None if empty or malformed) and as the log shows it."""
    if not raw:
        return None, None
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None, text
    return parsed, parsed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "communal-sandbox"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the sandbox keeps its own request log."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        raw = self._read_body()
        if raw is None:
            self.close_connection = True
            self._send(Reply.message(400, "Send a valid Content-Length or a chunked body."))
            return
        path = urlsplit(self.path).path
        reply: Reply | None
        try:
            if path == "/_sandbox" or path.startswith("/_sandbox/"):
                reply = self.server.sandbox.serve_control(self.command, self.path, raw)
            elif path == "/api" or path.startswith("/api/"):
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = self.server.sandbox.serve_api(self.command, self.path, headers, raw)
            else:
                reply = Reply.message(404, "Not Found. The API is under /api.")
        except Exception:  # a sandbox bug: answer 500 and show it, rather than hang the client
            traceback.print_exc()
            reply = Reply.message(500, "Server Error (a bug in the sandbox; see its stderr).")
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            return None
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline().split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-cache, private")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)


def build_sandbox(
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    seed: Path | None = None,
    latency_ms: int = 0,
    rate_limit: int | None = None,
    error_rate: float = 0.0,
    drop_rate: float = 0.0,
    drop_after_apply_rate: float = 0.0,
    fault_seed: int | None = None,
    telephone_region: str | None = None,
) -> Sandbox:
    """A sandbox from the ``communal-sync sandbox`` options; InputError/ConfigError if bad."""
    faults = Faults(
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        error_rate=error_rate,
        drop_rate=drop_rate,
        drop_after_apply_rate=drop_after_apply_rate,
        fault_seed=fault_seed,
    )
    return Sandbox(
        None if seed is None else load_seed(seed),
        host=host,
        port=port,
        faults=faults,
        telephone_region=telephone_region,
    )


def serve_forever(
    sandbox: Sandbox,
    on_ready: Callable[[str, str], None],
    *,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or ``stop`` is set), then stop cleanly and return.

    ``on_ready(base_url, manager_key)`` is called once the port is bound, so the caller
    prints where to point a client; this function prints nothing itself.
    """
    stop = stop or threading.Event()
    sandbox.start()
    try:
        on_ready(sandbox.base_url, sandbox.manager_key)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
