"""One request pace shared by every worker, so a throttled run slows down as a whole.

Without it, each worker that meets a 429 backs off alone while the others keep hammering.
The throttle starts unpaced. On the first 429 it learns a rate from what the server
accepted over its window (requests sent in the last ``Retry-After`` seconds, at least one
second: a fixed-window limiter's window is about that long) and paces every request
through a token bucket; each further 429 cuts the rate (multiplicative decrease), and each
quiet second raises it a little (additive increase), so the run settles just under the
server's limit. Idle time (the plan being shown between the planning GETs and the PUTs)
earns no increase: a jump after it would overshoot, and every 429 costs the worker that
drew it a whole ``Retry-After`` of waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from communal_sync.api import retry

DECREASE: Final = 0.9
"""Rate kept after a 429."""
INCREASE_PER_SECOND: Final = 0.03
"""Share of the rate added back for each second without a 429."""
MAX_QUIET_CREDIT: Final = 2.0
"""Seconds of quiet one raise counts at most, so an idle spell is no licence to burst."""
MIN_RATE: Final = 0.5
"""Requests per second the pace never goes below."""
MIN_WINDOW_SECONDS: Final = 1.0
"""The shortest span requests are counted over to learn the first rate."""
MAX_WINDOW_SECONDS: Final = 60.0
"""The longest: Laravel's throttle counts per minute at most."""


class Throttle:
    """An adaptive token bucket: ``wait()`` before each request, ``throttled()`` on a 429."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._rate: float | None = None
        self._next_slot = 0.0
        self._last_cut = float("-inf")
        self._last_raise = 0.0
        self._recent: deque[float] = deque()
        self.rate_limited = 0

    @property
    def rate(self) -> float | None:
        """The current pace in requests per second, or None while unpaced."""
        return self._rate

    def wait(self) -> None:
        """Block until this request's turn under the current pace (never in tests)."""
        with self._lock:
            now = self._clock()
            if self._rate is None:
                self._recent.append(now)
                while self._recent and self._recent[0] < now - MAX_WINDOW_SECONDS:
                    self._recent.popleft()
                return
            self._raise(now)
            slot = max(self._next_slot, now)
            self._next_slot = slot + 1.0 / self._rate
            delay = slot - now
        if delay > 0 and not retry.is_testing():
            self._sleep(delay)

    def throttled(self, retry_after: float | None) -> None:
        """A 429 arrived: slow the whole run down, at most once a second."""
        with self._lock:
            self.rate_limited += 1
            now = self._clock()
            if self._rate is None:
                self._rate = max(MIN_RATE, self._learned_rate(now, retry_after) * DECREASE)
                self._recent.clear()
            elif now - self._last_cut >= 1.0:
                self._rate = max(MIN_RATE, self._rate * DECREASE)
            else:
                return
            self._last_cut = now
            self._last_raise = now
            pause = retry_after or 0.0
            self._next_slot = max(self._next_slot, now + min(pause, 1.0 / self._rate))

    def _learned_rate(self, now: float, retry_after: float | None) -> float:
        """Requests sent over the server's likely window, per second.

        A fixed-window limiter answers ``Retry-After`` = time left in its window, so the
        window is at least that long: counting over it (not over a fixed span) gives the
        right rate both for a burst at start-up, where everything was sent in a fraction
        of a second, and for a per-minute limit with a long ``Retry-After``.
        """
        span = min(MAX_WINDOW_SECONDS, max(MIN_WINDOW_SECONDS, retry_after or 0.0))
        sent = sum(1 for moment in self._recent if moment >= now - span)
        return sent / span

    def _raise(self, now: float) -> None:
        assert self._rate is not None
        quiet = now - max(self._last_cut, self._last_raise)
        if quiet < 1.0:
            return
        self._last_raise = now
        self._rate *= 1.0 + INCREASE_PER_SECOND * min(quiet, MAX_QUIET_CREDIT)
