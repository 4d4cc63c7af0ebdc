"""Small loopback servers that behave like a broken API, for the fatal-fault tests.

- ``SilentServer`` accepts TCP connections and never answers a byte.
- ``GarbageServer`` answers every request with one fixed response (an HTML page, truncated
  JSON, JSON of the wrong shape).
- ``BreakingProxy`` forwards to a real sandbox and breaks chosen answers *after* the
  upstream handled them (the write landed, the client never learns it), or revokes the
  key it sees after a number of PUTs, or dribbles the answer to each PUT one byte at a
  time (``drip_puts``), slower than any deadline but never slow enough for a read timeout.
- ``HoldingProxy`` answers the first N PUTs, then applies every later one upstream and
  never answers it: a crash window held open for a test to kill a push in.

Every server binds 127.0.0.1 on a free port, serves from daemon threads and is a context
manager: leaving the ``with`` block stops accepting, wakes every held handler and closes
every connection, so a test can never leave a thread or a socket behind.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self

import httpx

HOST: Final = "127.0.0.1"
POLL_SECONDS: Final = 0.02
"""How often accept loops look for ``close()``."""
HOLD_SECONDS: Final = 20.0
"""The longest a silent handler holds a connection if nobody closes the server."""
HANDLER_IDLE_SECONDS: Final = 5.0
UPSTREAM_TIMEOUT_SECONDS: Final = 10.0
REVOKED_KEY: Final = "revoked-key"
"""What the proxy sends upstream in place of a revoked key, so the sandbox answers 401."""
HOP_HEADERS: Final = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}
)


@dataclass(frozen=True)
class Canned:
    """One fixed HTTP answer."""

    status: int
    body: bytes
    content_type: str = "application/json"


HTML_PAGE: Final = Canned(
    200, b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>", "text/html"
)
TRUNCATED_JSON: Final = Canned(200, b'{"id": 1001, "first_name": "Mem')
WRONG_SHAPE: Final = Canned(200, b'{"data": 5}')


class SilentServer:
    """Accepts every connection and never answers: a hung API or a black-holed proxy."""

    def __init__(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(POLL_SECONDS)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}/api"

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        with self._lock:
            return len(self._accepted)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._accepted.append(connection)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
        with self._lock:
            for connection in self._accepted:
                connection.close()


Responder = Callable[["_Handler", bytes], "Canned | None"]
"""Answers one request (handler, body); None means the handler answered or held it itself."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, responder: Responder, release: threading.Event) -> None:
        self.responder = responder
        self.release = release
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.errors: list[str] = []
        super().__init__((HOST, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep a handler's failure for the test to show, instead of printing it.

        A client that hangs up mid-answer (it timed out, on purpose) is not a failure.
        """
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            self.errors.append(traceback.format_exc())

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
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = HANDLER_IDLE_SECONDS
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.server.responder(self, body)
        if answer is not None:
            self.send(answer)

    def send(self, answer: Canned, headers: dict[str, str] | None = None) -> None:
        """Write ``answer`` with an honest Content-Length (keep-alive stays usable)."""
        self.send_response(answer.status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def drip(self, answer: Canned, seconds: float) -> None:
        """Write ``answer`` one byte every ``seconds`` (until the server closes)."""
        head = (
            f"HTTP/1.1 {answer.status} OK\r\nContent-Type: {answer.content_type}\r\n"
            f"Content-Length: {len(answer.body)}\r\n\r\n"
        ).encode()
        for byte in head + answer.body:
            if self.server.release.wait(seconds):
                break
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
        self.close_connection = True

    def hold(self) -> None:
        """Never answer: keep the connection until the server closes (bounded)."""
        self.server.release.wait(HOLD_SECONDS)
        self.close_connection = True


class _ServedHttp:
    """The lifecycle shared by the HTTP fault servers."""

    def __init__(self, responder: Responder) -> None:
        self._release = threading.Event()
        self._server = _HttpServer(responder, self._release)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name=type(self).__name__,
            daemon=True,
        )

    @property
    def errors(self) -> list[str]:
        """Tracebacks of handler failures (a bug in the fault server, not in the client)."""
        return list(self._server.errors)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join()


class GarbageServer(_ServedHttp):
    """Answers every request with ``answer``, and counts requests by method."""

    def __init__(self, answer: Canned) -> None:
        self.answer = answer
        self._lock = threading.Lock()
        self.methods: list[str] = []
        super().__init__(self._respond)

    def _respond(self, handler: _Handler, body: bytes) -> Canned:
        with self._lock:
            self.methods.append(handler.command)
        return self.answer


class BreakingProxy(_ServedHttp):
    """Forwards to ``upstream_root`` (a sandbox's ``root_url``), breaking chosen answers.

    ``break_puts`` (a ``Canned`` answer, or ``"silence"``) replaces the answer of every
    PUT *after* the sandbox applied it. ``revoke_after_puts=N`` lets N PUTs through with
    the caller's key, then treats that key as revoked: every later request carrying it
    is forwarded with an unknown key, so the sandbox itself answers 401. Other keys pass.
    """

    def __init__(
        self,
        upstream_root: str,
        *,
        break_puts: Canned | str | None = None,
        revoke_after_puts: int | None = None,
        drip_puts: float | None = None,
    ) -> None:
        self.break_puts = break_puts
        self.drip_puts = drip_puts
        self.revoke_after_puts = revoke_after_puts
        self._lock = threading.Lock()
        self._puts_seen = 0
        self._revoked: set[str] = set()
        self._upstream = httpx.Client(base_url=upstream_root, timeout=UPSTREAM_TIMEOUT_SECONDS)
        super().__init__(self._respond)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        super().__exit__(exc_type, exc, tb)
        self._upstream.close()

    def _respond(self, handler: _Handler, body: bytes) -> Canned | None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
        headers["Authorization"] = self._authorization(handler)
        upstream = self._upstream.request(
            handler.command, handler.path, headers=headers, content=body
        )
        if handler.command == "PUT" and self.drip_puts is not None:
            handler.drip(Canned(upstream.status_code, upstream.content), self.drip_puts)
            return None
        if handler.command == "PUT" and self.break_puts is not None:
            if self.break_puts == "silence":
                handler.hold()
                return None
            assert isinstance(self.break_puts, Canned)
            return self.break_puts
        passed = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in HOP_HEADERS | {"content-type", "server", "date"}
        }
        content_type = upstream.headers.get("content-type", "application/json")
        handler.send(Canned(upstream.status_code, upstream.content, content_type), passed)
        return None

    def _authorization(self, handler: _Handler) -> str:
        """The caller's Authorization header, unless this request revokes (or hits) its key."""
        given = handler.headers.get("Authorization", "")
        with self._lock:
            if handler.command == "PUT" and given not in self._revoked:
                self._puts_seen += 1
                revoke = self.revoke_after_puts is not None and not self._revoked
                if revoke and self._puts_seen > (self.revoke_after_puts or 0):
                    self._revoked.add(given)
            if given in self._revoked:
                return f"Bearer {REVOKED_KEY}"
        return given


class HoldingProxy(BreakingProxy):
    """Answers the first ``answered`` PUTs; every later one reaches the sandbox (and is
    applied there) but its answer never comes back: a crash window held wide open."""

    def __init__(self, upstream_root: str, *, answered: int) -> None:
        super().__init__(upstream_root)
        self.answered = answered
        self._count_lock = threading.Lock()
        self._puts = 0

    def _respond(self, handler: _Handler, body: bytes) -> Canned | None:
        if handler.command == "PUT":
            with self._count_lock:
                self._puts += 1
                held = self._puts > self.answered
            if held:
                headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS}
                self._upstream.request("PUT", handler.path, headers=headers, content=body)
                handler.hold()
                return None
        return super()._respond(handler, body)
