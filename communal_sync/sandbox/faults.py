"""Switchable faults for the sandbox's ``/api``: latency, a rate limit, 5xx and dropped sockets.

Each API request gets one verdict, decided BEFORE the request is handled, so an injected
5xx or a plain drop never changes state. ``drop_after_apply_rate`` is the other case: the
write is applied and then the connection is closed with no response, which is what a
client's idempotent retry has to survive. One ``random.Random`` (seeded by ``fault_seed``)
draws one number per API request, so a run with the same seed and the same request order
meets the same faults. The rate limit is a fixed one-second window, like Laravel's
throttle; requests it rejects do not count against the window.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Final, Literal

from communal_sync.errors import ConfigError
from communal_sync.sandbox.reply import HTML_TYPE, Reply

FaultKind = Literal["error", "drop", "drop_after_apply", "rate_limited"]
Monotonic = Callable[[], float]

ERROR_STATUSES: Final = (500, 502, 503)
RATE_WINDOW_SECONDS: Final = 1.0
SERVICE_UNAVAILABLE_RETRY_AFTER: Final = 1


@dataclass(frozen=True)
class Faults:
    """Which faults the sandbox injects into ``/api`` requests (all off by default)."""

    latency_ms: int = 0
    rate_limit: int | None = None
    error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_apply_rate: float = 0.0
    fault_seed: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.latency_ms, bool) or not isinstance(self.latency_ms, int):
            raise ConfigError("latency_ms must be a whole number of milliseconds.")
        if self.latency_ms < 0:
            raise ConfigError("latency_ms must be 0 or more.")
        if self.rate_limit is not None and (
            isinstance(self.rate_limit, bool)
            or not isinstance(self.rate_limit, int)
            or self.rate_limit < 1
        ):
            raise ConfigError(
                "rate_limit must be a whole number of requests per second, 1 or more."
            )
        rates = {
            "error_rate": self.error_rate,
            "drop_rate": self.drop_rate,
            "drop_after_apply_rate": self.drop_after_apply_rate,
        }
        for name, rate in rates.items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigError(f"{name} must be a probability between 0 and 1.")
        if sum(rates.values()) > 1:
            raise ConfigError(
                "error_rate + drop_rate + drop_after_apply_rate must not exceed 1; lower one."
            )
        if self.fault_seed is not None and (
            isinstance(self.fault_seed, bool) or not isinstance(self.fault_seed, int)
        ):
            raise ConfigError("fault_seed must be a whole number.")

    @classmethod
    def from_mapping(cls, data: Any) -> Faults:
        """Build faults from JSON (``POST /_sandbox/faults``); absent fields are off."""
        if not isinstance(data, Mapping):
            raise ConfigError('Faults must be a JSON object, e.g. {"error_rate": 0.1}.')
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown fault setting(s) {', '.join(unknown)}; use {', '.join(sorted(known))}."
            )
        return cls(**{str(k): v for k, v in data.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """The faults as JSON-ready data, in the shape ``from_mapping`` reads."""
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """What happens to one API request: a fault (or None) and the throttle headers."""

    fault: FaultKind | None = None
    error_status: int | None = None
    retry_after: int | None = None
    limit_headers: Mapping[str, str] | None = None

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` (and on a 429 ``Retry-After``) headers for the response."""
        headers = dict(self.limit_headers or {})
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class FaultInjector:
    """Decides each API request's verdict; callers hold the sandbox lock around ``judge``."""

    def __init__(self, faults: Faults, *, monotonic: Monotonic = time.monotonic) -> None:
        self._monotonic = monotonic
        self.faults = faults
        self._random = random.Random(faults.fault_seed)
        self._window_start = -math.inf
        self._window_count = 0

    def configure(self, faults: Faults) -> None:
        """Switch faults: the random stream restarts from the new seed, the window empties."""
        self.faults = faults
        self._random = random.Random(faults.fault_seed)
        self._window_start = -math.inf
        self._window_count = 0

    def judge(self) -> Verdict:
        """Draw this request's fault, then apply the rate limit to what gets through."""
        faults = self.faults
        draw = self._random.random()
        if draw < faults.error_rate:
            return Verdict(fault="error", error_status=self._random.choice(ERROR_STATUSES))
        draw -= faults.error_rate
        if draw < faults.drop_rate:
            return Verdict(fault="drop")
        draw -= faults.drop_rate
        after_apply = draw < faults.drop_after_apply_rate
        if faults.rate_limit is None:
            return Verdict(fault="drop_after_apply" if after_apply else None)
        return self._throttle(faults.rate_limit, after_apply)

    def _throttle(self, limit: int, after_apply: bool) -> Verdict:
        now = self._monotonic()
        if now - self._window_start >= RATE_WINDOW_SECONDS:
            self._window_start = now
            self._window_count = 0
        if self._window_count >= limit:
            wait = max(1, math.ceil(self._window_start + RATE_WINDOW_SECONDS - now))
            return Verdict(
                fault="rate_limited",
                retry_after=wait,
                limit_headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"},
            )
        self._window_count += 1
        return Verdict(
            fault="drop_after_apply" if after_apply else None,
            limit_headers={
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(limit - self._window_count),
            },
        )


def error_reply(status: int) -> Reply:
    """An injected server error, with the body each layer would really send.

    500 is Laravel's JSON, 502 the HTML page of a proxy in front of it, 503 Laravel's JSON
    with a ``Retry-After``, so a client meets both JSON and non-JSON error bodies.
    """
    if status == 502:
        page = (
            "<html><head><title>502 Bad Gateway</title></head><body>"
            "<center><h1>502 Bad Gateway</h1></center></body></html>"
        )
        return Reply(status=502, body=page.encode(), content_type=HTML_TYPE)
    if status == 503:
        reply = Reply.message(503, "Service Unavailable")
        reply.headers["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER)
        return reply
    return Reply.message(status, "Server Error")
