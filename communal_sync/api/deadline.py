"""An overall deadline for each API request, however the server dribbles its answer.

httpx's timeouts bound each network operation, not the request: a server that sends one
byte every 0.3 s never trips a one-second read timeout, and one request can then take
forever. ``request_deadline(seconds)`` sets, for the calling thread, the moment by which
the request under way must be done; the transport's network backend gives every connect,
read and write only the time left until then (never more than its own timeout). Past the
deadline the next operation raises httpcore's timeout, which httpx turns into its own
``ReadTimeout`` (or ``WriteTimeout``, ``ConnectTimeout``), retried and reported like any
other timeout.

The client sends each request from one thread (workers each send their own), so a
thread-local is the request's own deadline; a pooled connection reused by the next
request reads that request's.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Final

import httpcore
import httpx

_deadline = threading.local()

DEADLINE_PASSED: Final = "the answer took longer than the deadline for one request"


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Let the request sent inside the block take at most ``seconds`` in all."""
    _deadline.at = time.monotonic() + seconds
    _deadline.cut = False
    try:
        yield
    finally:
        _deadline.at = None


def deadline_passed() -> bool:
    """Whether the request under way has run out of time: the deadline has passed, or the
    operation that just timed out had been given only what was left of it."""
    at: float | None = getattr(_deadline, "at", None)
    return at is not None and (time.monotonic() >= at or bool(getattr(_deadline, "cut", False)))


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to the time left before the deadline; raise ``error`` once it passed."""
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error(DEADLINE_PASSED)
    _deadline.cut = timeout is None or left < timeout
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation waits no longer than the deadline allows."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend, with every stream it opens held to the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def deadline_transport(verify: ssl.SSLContext | None = None) -> httpx.HTTPTransport:
    """httpx's default transport, its connections held to ``request_deadline``.

    httpx has no option for a network backend, so the connection pool's is wrapped; the
    fault tests' dripping server checks that the deadline still holds. ``verify`` shares
    one TLS context between transports (building one loads the CA bundle: ~0.1 s).
    """
    transport = httpx.HTTPTransport() if verify is None else httpx.HTTPTransport(verify=verify)
    pool = transport._pool
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)
    return transport
