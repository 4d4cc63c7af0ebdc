"""The shared pace: what rate the first 429 teaches, and how it moves after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from communal_sync.api import retry
from communal_sync.api.throttle import DECREASE, INCREASE_PER_SECOND, MIN_RATE, Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def real_waits() -> Iterator[None]:
    """The throttle skips sleeping under testing mode; these tests record the sleeps."""
    before = retry.is_testing()
    retry.set_testing(False)
    yield
    retry.set_testing(before)


def send(throttle: Throttle, clock: FakeClock, count: int, spacing: float) -> None:
    for _ in range(count):
        throttle.wait()
        clock.now += spacing


def test_starts_unpaced_and_never_sleeps_before_a_429() -> None:
    clock, sleeps = FakeClock(), list[float]()
    throttle = Throttle(clock=clock, sleep=sleeps.append)

    send(throttle, clock, 500, 0.001)

    assert throttle.rate is None
    assert sleeps == []


def test_a_burst_at_start_up_learns_the_per_second_limit_not_half_of_it() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=lambda s: None)
    send(throttle, clock, 51, 0.001)  # 51 requests in 51 ms, then "Retry-After: 1"

    throttle.throttled(1.0)

    assert throttle.rate == pytest.approx(51 * DECREASE)


def test_a_per_minute_limit_is_learned_from_its_long_retry_after() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=lambda s: None)
    send(throttle, clock, 600, 0.002)  # 600 accepted in 1.2 s; the minute resets in 59 s

    throttle.throttled(59.0)

    assert throttle.rate == pytest.approx(600 / 59 * DECREASE)


def test_without_retry_after_requests_of_the_last_second_count() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=lambda s: None)
    send(throttle, clock, 100, 0.02)  # 50/s for two seconds

    throttle.throttled(None)

    assert throttle.rate == pytest.approx(50 * DECREASE)


def test_the_learned_rate_never_drops_below_the_floor() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=lambda s: None)

    throttle.throttled(30.0)

    assert throttle.rate == MIN_RATE


def test_requests_are_spaced_at_the_learned_rate() -> None:
    clock, sleeps = FakeClock(), list[float]()
    throttle = Throttle(clock=clock, sleep=sleeps.append)
    send(throttle, clock, 20, 0.0)
    throttle.throttled(None)  # 20 in the last second: 17/s
    sleeps.clear()

    throttle.wait()  # the first goes at once: no Retry-After was given
    throttle.wait()
    throttle.wait()

    interval = 1 / (20 * DECREASE)
    assert sleeps == pytest.approx([interval, 2 * interval])


def test_further_429s_cut_at_most_once_a_second() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=lambda s: None)
    send(throttle, clock, 40, 0.0)
    throttle.throttled(None)
    learned = throttle.rate
    assert learned is not None

    clock.now += 0.5
    throttle.throttled(1.0)
    assert throttle.rate == learned
    clock.now += 0.6
    throttle.throttled(1.0)

    assert throttle.rate == pytest.approx(learned * DECREASE)
    assert throttle.rate_limited == 3


def test_quiet_seconds_raise_the_rate_a_little() -> None:
    clock = FakeClock()
    throttle = Throttle(clock=clock, sleep=lambda s: None)
    send(throttle, clock, 40, 0.0)
    throttle.throttled(None)
    learned = throttle.rate
    assert learned is not None

    clock.now += 2.0
    throttle.wait()

    assert throttle.rate == pytest.approx(learned * (1 + INCREASE_PER_SECOND * 2.0))


def test_testing_mode_never_sleeps() -> None:
    clock, sleeps = FakeClock(), list[float]()
    throttle = Throttle(clock=clock, sleep=sleeps.append)
    send(throttle, clock, 10, 0.0)
    throttle.throttled(None)

    with retry.testing():
        send(throttle, clock, 5, 0.0)

    assert sleeps == []
