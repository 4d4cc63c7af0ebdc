"""Which failures the client retries, how long it waits, and when it gives up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from pytest_httpx import HTTPXMock

from communal_sync.api import retry
from communal_sync.api.client import CommunalClient
from communal_sync.api.responses import parse_retry_after
from communal_sync.api.retry import RetryPolicy, call_with_retries, should_retry
from communal_sync.errors import (
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    Unauthenticated,
    UnexpectedResponse,
)

KEY = "sk_live_SECRET123"
BASE = "https://api.test/api"
USER = {"id": 42, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
BODY = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


@pytest.fixture(autouse=True)
def _no_waiting() -> Iterator[None]:
    with retry.testing():
        yield


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[CommunalClient]:
    # jitter returns the ceiling, so backoffs are exactly 0.5, 1, 2, 4 seconds.
    policy = RetryPolicy(attempts=5, sleep=sleeps.append, jitter=lambda ceiling: ceiling)
    with CommunalClient(KEY, base_url=BASE, retry=policy) as api:
        yield api


# -- the client retries what is worth retrying -------------------------------------------


def test_get_retries_429_5xx_and_network_errors_then_succeeds(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    url = f"{BASE}/users/42"
    httpx_mock.add_response(url=url, status_code=429)
    httpx_mock.add_response(url=url, status_code=503)
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), url=url)
    httpx_mock.add_response(url=url, json=USER)

    assert client.get_user(42).email == "ada@example.com"

    assert len(httpx_mock.get_requests()) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured_as_a_minimum_wait(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "7"})
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "0"})
    httpx_mock.add_response(method="PUT", json=USER)

    client.update_user(42, BODY)

    assert sleeps == [7.0, 1.0]


def test_rate_limit_hook_hears_every_429(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    heard: list[float | None] = []
    before: list[int] = []
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "3"})
    httpx_mock.add_response(status_code=429)
    httpx_mock.add_response(json=USER)

    with CommunalClient(
        KEY,
        base_url=BASE,
        retry=RetryPolicy(sleep=sleeps.append, jitter=lambda c: 0.0),
        on_rate_limited=heard.append,
        before_request=lambda: before.append(1),
    ) as api:
        api.get_user(42)

    assert heard == [3.0, None]
    assert len(before) == 3
    assert sleeps == [3.0, 0.0]


def test_attempts_are_bounded_and_the_last_error_is_raised(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=502, is_reusable=True)

    with pytest.raises(ServerError) as caught:
        client.get_user(42)

    assert caught.value.status == 502
    assert len(httpx_mock.get_requests()) == 5
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_backoff_is_capped(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), is_reusable=True)
    policy = RetryPolicy(attempts=8, max_delay=3.0, sleep=sleeps.append, jitter=lambda c: c)

    with (
        CommunalClient(KEY, base_url=BASE, retry=policy) as api,
        pytest.raises(TransportError),
    ):
        api.get_user(42)

    assert sleeps == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0]


def test_a_retry_after_beyond_the_limit_is_surfaced_not_waited(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "3600"})

    with pytest.raises(RateLimited) as caught:
        client.get_user(42)

    assert caught.value.retry_after == 3600.0
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UnexpectedResponse),
        (401, Unauthenticated),
        (403, Forbidden),
        (404, NotFound),
        (422, Rejected),
    ],
)
def test_other_4xx_are_never_retried(
    httpx_mock: HTTPXMock,
    client: CommunalClient,
    sleeps: list[float],
    status: int,
    error: type[Exception],
) -> None:
    httpx_mock.add_response(status_code=status, json={"message": "no", "errors": {}})

    with pytest.raises(error):
        client.update_user(42, BODY)

    assert len(httpx_mock.get_requests()) == 1
    assert sleeps == []


def test_post_is_not_retried_after_a_5xx(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(method="POST", status_code=500)

    with pytest.raises(ServerError):
        client.create_custom_profile_field_value(42, 3, "Blue")

    assert len(httpx_mock.get_requests()) == 1
    assert sleeps == []


def test_post_is_not_retried_after_a_read_timeout(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), method="POST")

    with pytest.raises(TransportError):
        client.create_custom_profile_field_value(42, 3, "Blue")

    assert len(httpx_mock.get_requests()) == 1


def test_post_is_retried_after_a_connect_error_and_a_429(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    created = {"id": 9, "value": "Blue", "user_id": 42, "custom_profile_field_id": 3}
    httpx_mock.add_exception(httpx.ConnectError("refused"), method="POST")
    httpx_mock.add_response(method="POST", status_code=429, headers={"Retry-After": "2"})
    httpx_mock.add_response(method="POST", json=created)

    value = client.create_custom_profile_field_value(42, 3, "Blue")

    assert value is not None
    assert value.id == 9
    assert len(httpx_mock.get_requests()) == 3
    assert sleeps == [0.5, 2.0]


def test_put_custom_value_is_retried_after_a_5xx(
    httpx_mock: HTTPXMock, client: CommunalClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(method="PUT", status_code=500)
    httpx_mock.add_response(method="PUT", json={"message": "Profile field cleared"})

    assert client.update_custom_profile_field_value(9, 42, 3, None) is None
    assert sleeps == [0.5]


def test_set_testing_turns_real_waiting_off(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "30"})
    httpx_mock.add_response(json=USER)
    started = time.monotonic()

    with CommunalClient(KEY, base_url=BASE) as api:  # default policy, real time.sleep
        api.get_user(42)

    assert time.monotonic() - started < 5


# -- the policy on its own ---------------------------------------------------------------


def test_should_retry_names_the_retryable_conditions() -> None:
    never_sent = TransportError("x", may_have_reached_server=False)
    maybe_sent = TransportError("x", may_have_reached_server=True)
    throttled = RateLimited("x", retry_after=1)
    failed = ServerError("x", status=500)

    assert should_retry(never_sent, idempotent=True)
    assert should_retry(maybe_sent, idempotent=True)
    assert should_retry(throttled, idempotent=True)
    assert should_retry(failed, idempotent=True)
    assert should_retry(never_sent, idempotent=False)
    assert should_retry(throttled, idempotent=False)
    assert not should_retry(maybe_sent, idempotent=False)
    assert not should_retry(failed, idempotent=False)
    assert not should_retry(Rejected("x"), idempotent=True)
    assert not should_retry(NotFound("x"), idempotent=True)


def test_non_api_errors_pass_straight_through() -> None:
    calls = 0

    def broken() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retries(broken, policy=RetryPolicy(), idempotent=True)
    assert calls == 1


def test_full_jitter_stays_within_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)

    delays = [policy.backoff(attempt) for attempt in range(1, 12) for _ in range(20)]

    assert all(0.0 <= d <= 30.0 for d in delays)
    assert max(policy.backoff(1) for _ in range(50)) <= 0.5


def test_testing_context_restores_the_previous_state() -> None:
    retry.set_testing(False)
    try:
        with retry.testing():
            assert retry.is_testing()
        assert not retry.is_testing()
    finally:
        retry.set_testing(True)


def test_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)


# -- Retry-After parsing -----------------------------------------------------------------


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120", now=0.0) == 120.0
    assert parse_retry_after(" 1.5 ", now=0.0) == 1.5
    assert parse_retry_after("-3", now=0.0) == 0.0


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 3, 25, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 3, 25, 12, 0, 45, tzinfo=UTC), usegmt=True)
    earlier = format_datetime(datetime(2026, 3, 25, 11, 0, 0, tzinfo=UTC), usegmt=True)

    assert later == "Wed, 25 Mar 2026 12:00:45 GMT"
    assert parse_retry_after(later, now=now.timestamp()) == 45.0
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "inf"])
def test_unparseable_retry_after_means_not_given(value: str | None) -> None:
    assert parse_retry_after(value, now=0.0) is None
