"""One request pace shared by every worker, so a throttled run slows down as a whole.

Without it, each worker that meets a 429 backs off alone while the others keep hammering.
The throttle starts unpaced. On the first 429 it learns a rate from what the server
accepted in the last seconds and paces every request through a token bucket; each further
429 cuts the rate (multiplicative decrease), and each quiet second raises it a little
(additive increase), so the run settles just under the server's limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from communal_sync.api import retry

DECREASE: Final = 0.85
"""Rate kept after a 429."""
INCREASE_PER_SECOND: Final = 0.03
"""Share of the rate added back for each second without a 429."""
MIN_RATE: Final = 0.5
"""Requests per second the pace never goes below."""
WINDOW_SECONDS: Final = 2.0
"""How far back accepted requests are counted to learn the first rate."""


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
            self._recent.append(now)
            while self._recent and self._recent[0] < now - WINDOW_SECONDS:
                self._recent.popleft()
            if self._rate is None:
                return
            self._raise(now)
            slot = max(self._next_slot, now)
            self._next_slot = slot + 1.0 / self._rate
            delay = slot - now
        if delay > 0 and not retry.is_testing():
            self._sleep(delay)

    def throttled(self, retry_after: float | None) -> None:
        """A 429 arrived: slow the whole run down, at most once per pacing interval."""
        with self._lock:
            self.rate_limited += 1
            now = self._clock()
            if self._rate is None:
                seen = len(self._recent) / WINDOW_SECONDS
                self._rate = max(MIN_RATE, seen * DECREASE)
            elif now - self._last_cut >= 1.0:
                self._rate = max(MIN_RATE, self._rate * DECREASE)
            else:
                return
            self._last_cut = now
            self._last_raise = now
            pause = retry_after or 0.0
            self._next_slot = max(self._next_slot, now + min(pause, 1.0 / self._rate))

    def _raise(self, now: float) -> None:
        assert self._rate is not None
        quiet = now - max(self._last_cut, self._last_raise)
        if quiet >= 1.0:
            self._rate *= 1.0 + INCREASE_PER_SECOND * quiet
            self._last_raise = now
