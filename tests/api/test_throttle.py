"""The shared throttle, on a fake clock: unpaced until a 429, then paced, cut and raised.

(``test_throttle_learning.py`` covers how the first rate is learned in more detail.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from communal_sync.api import retry
from communal_sync.api.throttle import (
    DECREASE,
    INCREASE_PER_SECOND,
    MAX_WINDOW_SECONDS,
    MIN_RATE,
    Throttle,
)


class FakeTime:
    """A clock that only moves when told to, and a sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def throttle(fake: FakeTime) -> Throttle:
    return Throttle(clock=fake.clock, sleep=fake.sleep)


@pytest.fixture
def real_waiting() -> Iterator[None]:
    """Let the throttle call its (fake) sleep: conftest switches all waiting off."""
    before = retry.is_testing()
    retry.set_testing(False)
    try:
        yield
    finally:
        retry.set_testing(before)


def send(throttle: Throttle, fake: FakeTime, count: int, *, every: float) -> None:
    """``count`` requests, one each ``every`` seconds."""
    for _ in range(count):
        throttle.wait()
        fake.now += every


def test_it_starts_unpaced_and_never_waits(
    throttle: Throttle, fake: FakeTime, real_waiting: None
) -> None:
    send(throttle, fake, 500, every=0.0)

    assert throttle.rate is None
    assert fake.sleeps == []


def test_the_first_429_sets_a_pace_just_under_the_recent_traffic(
    throttle: Throttle, fake: FakeTime
) -> None:
    send(throttle, fake, 40, every=0.05)  # 20 per second

    throttle.throttled(retry_after=None)

    assert throttle.rate == pytest.approx(20 * DECREASE)
    assert throttle.rate_limited == 1


def test_old_traffic_does_not_count_towards_the_first_pace(
    throttle: Throttle, fake: FakeTime
) -> None:
    send(throttle, fake, 100, every=0.0)  # a burst long ago
    fake.now += MAX_WINDOW_SECONDS + 1
    send(throttle, fake, 10, every=0.1)  # 10 per second lately

    throttle.throttled(retry_after=1.0)

    assert throttle.rate == pytest.approx(10 * DECREASE)


def test_a_long_retry_after_spreads_the_count_over_that_window(
    throttle: Throttle, fake: FakeTime
) -> None:
    send(throttle, fake, 30, every=1.0)  # one a second: a per-minute limit was reached

    throttle.throttled(retry_after=30.0)

    assert throttle.rate == pytest.approx(1 * DECREASE)


def test_once_paced_requests_are_spaced_by_the_rate(
    throttle: Throttle, fake: FakeTime, real_waiting: None
) -> None:
    send(throttle, fake, 40, every=0.05)
    throttle.throttled(retry_after=None)
    rate = throttle.rate
    assert rate is not None

    send(throttle, fake, 3, every=0.0)  # three workers at the same instant

    assert fake.sleeps == pytest.approx([1 / rate, 2 / rate])  # the first goes at once


def test_further_429s_cut_the_rate_at_most_once_a_second(
    throttle: Throttle, fake: FakeTime
) -> None:
    send(throttle, fake, 40, every=0.05)
    throttle.throttled(retry_after=None)
    first = throttle.rate
    assert first is not None

    for _ in range(5):  # a burst of 429s from the requests already in flight
        fake.now += 0.1
        throttle.throttled(retry_after=None)
    assert throttle.rate == pytest.approx(first)

    fake.now += 0.6  # over a second since the last cut
    throttle.throttled(retry_after=None)
    assert throttle.rate == pytest.approx(first * DECREASE)
    assert throttle.rate_limited == 7


def test_quiet_seconds_raise_the_rate_again(throttle: Throttle, fake: FakeTime) -> None:
    send(throttle, fake, 40, every=0.05)
    throttle.throttled(retry_after=None)
    paced = throttle.rate
    assert paced is not None

    fake.now += 2.0
    throttle.wait()
    raised = paced * (1 + INCREASE_PER_SECOND * 2.0)
    assert throttle.rate == pytest.approx(raised)

    fake.now += 0.5  # under a second since the last raise: no change
    throttle.wait()
    assert throttle.rate == pytest.approx(raised)

    fake.now += 1.0
    throttle.wait()
    assert throttle.rate == pytest.approx(raised * (1 + INCREASE_PER_SECOND * 1.5))


def test_the_rate_never_falls_below_the_minimum(throttle: Throttle, fake: FakeTime) -> None:
    throttle.throttled(retry_after=None)  # a 429 before anything was sent
    assert throttle.rate == MIN_RATE

    for _ in range(10):
        fake.now += 1.0
        throttle.throttled(retry_after=30.0)

    assert throttle.rate == MIN_RATE


def test_under_tests_a_paced_throttle_never_sleeps(throttle: Throttle, fake: FakeTime) -> None:
    assert retry.is_testing()  # conftest
    send(throttle, fake, 40, every=0.05)
    throttle.throttled(retry_after=5.0)

    send(throttle, fake, 50, every=0.0)

    assert throttle.rate is not None
    assert fake.sleeps == []


def test_the_default_throttle_does_not_sleep_in_tests() -> None:
    """Push and apply build ``Throttle()`` with the real clock and sleep: still no waiting."""
    throttle = Throttle()
    throttle.throttled(retry_after=300.0)

    for _ in range(100):
        throttle.wait()

    assert throttle.rate == MIN_RATE  # 100 requests at 0.5 a second would take minutes
