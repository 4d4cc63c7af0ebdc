"""Injected faults: latency, the rate limit, 5xx, dropped connections, repeatability."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from communal_sync.errors import ConfigError
from communal_sync.sandbox import Faults, Sandbox

KEY = "sandbox-manager-key"
SEED: dict[str, Any] = {
    "users": [{"id": 1, "first_name": "Ines", "last_name": "Duarte", "email": "ines@example.org"}]
}
UPDATE = {
    "first_name": "Ines",
    "last_name": "Duarte",
    "email": "ines@example.org",
    "telephone": "555",
}


class FakeTime:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def started(faults: Faults, **options: Any) -> Sandbox:
    sandbox = Sandbox(SEED, faults=faults, **options)
    sandbox.start()
    return sandbox


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as http:
        yield http


def test_latency_sleeps_through_the_injected_sleep_on_api_only(client: httpx.Client) -> None:
    slept: list[float] = []
    sandbox = started(Faults(latency_ms=250), sleep=slept.append)
    try:
        assert client.get(f"{sandbox.base_url}/users/1").status_code == 200
        assert client.get(f"{sandbox.root_url}/_sandbox/state").status_code == 200
    finally:
        sandbox.stop()

    assert slept == [0.25]


def test_rate_limit_answers_429_with_retry_after_and_headers(
    client: httpx.Client, clock: FakeTime
) -> None:
    sandbox = started(Faults(rate_limit=2), monotonic=clock)
    try:
        url = f"{sandbox.base_url}/users/1"
        first, second, third = (client.get(url) for _ in range(3))
        refused_write = client.put(url, json=UPDATE)
        clock.now += 1.0
        later = client.get(url)
    finally:
        sandbox.stop()

    assert [r.status_code for r in (first, second, third, refused_write, later)] == [
        200,
        200,
        429,
        429,
        200,
    ]
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "2",
        "1",
    )
    assert second.headers["X-RateLimit-Remaining"] == "0"
    assert third.json() == {"message": "Too Many Attempts."}
    assert third.headers["Retry-After"] == "1"
    assert (third.headers["X-RateLimit-Limit"], third.headers["X-RateLimit-Remaining"]) == (
        "2",
        "0",
    )
    assert later.headers["X-RateLimit-Remaining"] == "1"
    assert sandbox.state()["users"][0]["telephone"] is None


def test_no_rate_limit_means_no_rate_limit_headers(client: httpx.Client) -> None:
    sandbox = started(Faults())
    try:
        response = client.get(f"{sandbox.base_url}/users/1")
    finally:
        sandbox.stop()

    assert "X-RateLimit-Limit" not in response.headers


def test_error_rate_one_fails_every_request_and_applies_no_write(client: httpx.Client) -> None:
    sandbox = started(Faults(error_rate=1.0, fault_seed=3))
    try:
        responses = [client.put(f"{sandbox.base_url}/users/1", json=UPDATE) for _ in range(12)]
        control = client.get(f"{sandbox.root_url}/_sandbox/state")
    finally:
        sandbox.stop()

    assert {r.status_code for r in responses} == {500, 502, 503}
    by_status = {r.status_code: r for r in responses}
    assert by_status[500].json() == {"message": "Server Error"}
    assert by_status[503].headers["Retry-After"] == "1"
    assert by_status[502].headers["content-type"].startswith("text/html")
    assert control.status_code == 200
    assert control.json()["users"][0]["telephone"] is None
    assert {entry["fault"] for entry in sandbox.requests()} == {"error"}


def test_drop_rate_one_closes_without_response_and_applies_nothing(client: httpx.Client) -> None:
    sandbox = started(Faults(drop_rate=1.0))
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            client.put(f"{sandbox.base_url}/users/1", json=UPDATE)
        state = sandbox.state()
    finally:
        sandbox.stop()

    assert state["users"][0]["telephone"] is None
    assert sandbox.requests() == [
        {
            "method": "PUT",
            "path": "/api/users/1",
            "status": None,
            "fault": "drop",
            "api_version": None,
            "body": UPDATE,
        }
    ]


def test_drop_after_apply_applies_the_write_then_drops(client: httpx.Client) -> None:
    sandbox = started(Faults(drop_after_apply_rate=1.0))
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            client.put(f"{sandbox.base_url}/users/1", json=UPDATE)
        state = sandbox.state()
    finally:
        sandbox.stop()

    assert state["users"][0]["telephone"] == "555"
    assert [(e["status"], e["fault"]) for e in sandbox.requests()] == [(200, "drop_after_apply")]


def run_statuses(faults: Faults, count: int = 30) -> list[int | None]:
    sandbox = started(faults)
    statuses: list[int | None] = []
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as http:
            for _ in range(count):
                try:
                    statuses.append(http.get(f"{sandbox.base_url}/users/1").status_code)
                except httpx.TransportError:
                    statuses.append(None)
    finally:
        sandbox.stop()
    return statuses


def test_fault_seed_repeats_the_same_faults() -> None:
    faults = Faults(error_rate=0.3, drop_rate=0.2, fault_seed=42)

    first = run_statuses(faults)
    second = run_statuses(faults)
    other = run_statuses(Faults(error_rate=0.3, drop_rate=0.2, fault_seed=43))

    assert first == second
    assert first != other
    assert None in first
    assert 200 in first
    assert {s for s in first if s not in (None, 200)} <= {500, 502, 503}


def test_faults_switch_at_run_time_over_http(client: httpx.Client) -> None:
    sandbox = started(Faults())
    try:
        switched = client.post(f"{sandbox.root_url}/_sandbox/faults", json={"error_rate": 1})
        failing = client.get(f"{sandbox.base_url}/users/1")
        shown = client.get(f"{sandbox.root_url}/_sandbox/faults").json()
        client.post(f"{sandbox.root_url}/_sandbox/faults", json={})
        healthy = client.get(f"{sandbox.base_url}/users/1")
        refused = client.post(f"{sandbox.root_url}/_sandbox/faults", json={"error_rat": 1})
    finally:
        sandbox.stop()

    assert switched.status_code == 200
    assert failing.status_code >= 500
    assert shown["error_rate"] == 1
    assert healthy.status_code == 200
    assert refused.status_code == 422
    assert "error_rat" in refused.json()["message"]


def test_set_faults_from_code_takes_effect(client: httpx.Client) -> None:
    sandbox = started(Faults())
    try:
        sandbox.set_faults(Faults(error_rate=1.0))
        status = client.get(f"{sandbox.base_url}/users/1").status_code
    finally:
        sandbox.stop()

    assert status in (500, 502, 503)
    assert sandbox.faults == Faults(error_rate=1.0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"error_rate": 1.5}, "error_rate must be a probability between 0 and 1."),
        ({"error_rate": 0.6, "drop_rate": 0.6}, "must not exceed 1"),
        ({"latency_ms": -1}, "latency_ms must be 0 or more."),
        ({"rate_limit": 0}, "rate_limit must be a whole number"),
        ({"fault_seed": "x"}, "fault_seed must be a whole number."),
    ],
)
def test_bad_fault_settings_are_config_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Faults.from_mapping(settings)
