"""When to try an API call again, and how long to wait first.

Retries happen only on conditions named here (``should_retry``): a transport failure, a
429 or a 5xx. Any other 4xx means the request itself is wrong and is never repeated.
Waits are capped exponential backoff with full jitter, but never shorter than the
server's ``Retry-After``. ``set_testing(True)`` turns every wait off in one place so tests
never sleep, while an injected ``sleep`` still records what was asked for.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final, TypeVar

from communal_sync.errors import ApiError, RateLimited, ServerError, TransportError

DEFAULT_ATTEMPTS: Final = 5
"""Total tries per call, the first included."""
DEFAULT_BASE_DELAY: Final = 0.5
DEFAULT_MAX_DELAY: Final = 30.0
DEFAULT_MAX_RETRY_AFTER: Final = 300.0
"""A server asking us to wait longer than this gets its 429 surfaced instead of a stall."""

RETRYABLE_ERRORS: Final = (TransportError, RateLimited, ServerError)

T = TypeVar("T")
RetryListener = Callable[[ApiError, int, float], None]
"""Called before each wait with the error, the attempt that failed (1-based), the delay."""

logger = logging.getLogger("communal_sync.api")

_testing = threading.Event()


def set_testing(on: bool) -> None:
    """Turn all real waiting off (``True``) or back on, for every policy in the process.

    An explicitly injected ``sleep`` is still called, so tests can record the delays.
    """
    if on:
        _testing.set()
    else:
        _testing.clear()


def is_testing() -> bool:
    """Whether ``set_testing(True)`` is in effect."""
    return _testing.is_set()


@contextmanager
def testing() -> Iterator[None]:
    """Turn waiting off inside the ``with`` block and restore the previous state after."""
    before = is_testing()
    set_testing(True)
    try:
        yield
    finally:
        set_testing(before)


def full_jitter(ceiling: float) -> float:
    """A uniformly random delay in ``[0, ceiling]``: spreads out clients retrying together."""
    return random.uniform(0.0, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try, how long to wait between tries, and how to wait.

    ``sleep`` defaults to ``time.sleep`` (skipped under ``set_testing``); ``jitter`` maps
    the backoff ceiling to the actual delay and is injectable for exact assertions.
    """

    attempts: int = DEFAULT_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    sleep: Callable[[float], None] | None = field(default=None, compare=False)
    jitter: Callable[[float], float] = field(default=full_jitter, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1.")

    def backoff(self, failed_attempt: int) -> float:
        """The jittered wait after the ``failed_attempt``-th try (1-based), capped."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (failed_attempt - 1))
        return max(0.0, self.jitter(ceiling))

    def delay(self, error: ApiError, failed_attempt: int) -> float:
        """The wait before the next try: the backoff, but at least the server's Retry-After."""
        wait = self.backoff(failed_attempt)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` via the injected sleep, or not at all under ``set_testing``."""
        if self.sleep is not None:
            self.sleep(seconds)
        elif not is_testing():
            time.sleep(seconds)


NO_RETRY: Final = RetryPolicy(attempts=1)
"""Try once; for callers that do their own retrying."""


def should_retry(error: ApiError, *, idempotent: bool) -> bool:
    """Whether ``error`` is worth another try of the same request.

    A 429 is retried even for a create: the throttle answers before the request is
    processed, so nothing was written. A 5xx or a lost response may have been written,
    so a non-idempotent request is retried only when it certainly never left
    (``may_have_reached_server`` False).
    """
    if isinstance(error, RateLimited):
        return True
    if isinstance(error, TransportError):
        return idempotent or not error.may_have_reached_server
    if isinstance(error, ServerError):
        return idempotent
    return False


def call_with_retries(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    on_retry: RetryListener | None = None,
) -> T:
    """Run ``call`` until it succeeds, fails in a way not worth retrying, or tries run out.

    The last error is raised unchanged when giving up, so callers see the real cause.
    """
    failed = 0
    while True:
        try:
            return call()
        except RETRYABLE_ERRORS as error:
            failed += 1
            if failed >= policy.attempts or not should_retry(error, idempotent=idempotent):
                raise
            if isinstance(error, RateLimited) and (error.retry_after or 0) > policy.max_retry_after:
                raise
            seconds = policy.delay(error, failed)
            if on_retry is not None:
                on_retry(error, failed, seconds)
            policy.wait(seconds)
