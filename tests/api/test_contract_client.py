"""Every request the client builds is valid against the official Communal OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from openapi_core.exceptions import OpenAPIError
from support.openapi import load_openapi, validate_httpx_request, validate_httpx_response

from communal_sync.api import retry
from communal_sync.api.client import CommunalClient

KEY = "sk_test_contract"
LOOPBACK_BASE = "http://127.0.0.1:8765/api"


@pytest.fixture(autouse=True)
def _spec_and_no_waiting() -> Iterator[None]:
    load_openapi()  # skips the module's tests, saying where it looked, when the spec is absent
    with retry.testing():
        yield


def page(items: list[dict[str, Any]], current: int, last: int) -> dict[str, Any]:
    return {
        "data": items,
        "current_page": current,
        "last_page": last,
        "per_page": 1,
        "from": current,
        "to": current,
        "total": last,
    }


def fake_api(request: httpx.Request) -> httpx.Response:
    """Answers like the API would, enough for every client call to complete."""
    path = request.url.path.removeprefix("/api")
    current = int(request.url.params.get("page", "1"))
    value = {"id": 9, "value": "Blue", "user_id": 42, "custom_profile_field_id": 3}
    if path == "/users/42":
        return httpx.Response(
            200, json={"id": "42", "name": "Ada", "email": "a@b.co", "date_of_birth": "1815-12-10"}
        )
    if path == "/custom_profile_fields":
        return httpx.Response(200, json=page([{"id": current, "name": f"F{current}"}], current, 2))
    if path == "/custom_profile_field_values" and request.method == "GET":
        return httpx.Response(200, json=page([value], current, 2))
    if path.startswith("/custom_profile_field_values"):
        return httpx.Response(200, json=value)
    if path == "/program_signups":
        return httpx.Response(200, json=page([{"id": 1, "user_id": 42}], current, 1))
    return httpx.Response(404, json={"message": "Not found."})


def every_client_call(api: CommunalClient) -> None:
    api.get_user(42)
    api.update_user(
        42,
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "middle_name": None,
            "telephone": "+44 20 7946 0000",
            "profile_address": "12 St James's Square",
            "profile_zip": "01234",
            "profile_country": "GB",
            "date_of_birth": None,
        },
    )
    api.list_custom_profile_fields()
    api.list_custom_profile_field_values(42)
    api.create_custom_profile_field_value(42, 3, "Blue")
    api.create_custom_profile_field_value(42, 3, None)
    api.update_custom_profile_field_value(9, 42, 3, "Green")
    api.update_custom_profile_field_value(9, 42, 3, "")
    api.search_program_signups("ada@example.com")
    api.search_program_signups("ada", user_id=42)


def recording(
    handler: Callable[[httpx.Request], httpx.Response], into: list[httpx.Request]
) -> httpx.MockTransport:
    def record(request: httpx.Request) -> httpx.Response:
        into.append(request)
        return handler(request)

    return httpx.MockTransport(record)


@pytest.mark.parametrize("base_url", [LOOPBACK_BASE, "https://api.getcommunal.com/api"])
def test_every_request_the_client_sends_matches_the_spec(base_url: str) -> None:
    sent: list[httpx.Request] = []

    with CommunalClient(KEY, base_url=base_url, transport=recording(fake_api, sent)) as api:
        every_client_call(api)

    assert [(r.method, r.url.path) for r in sent] == [
        ("GET", "/api/users/42"),
        ("PUT", "/api/users/42"),
        ("GET", "/api/custom_profile_fields"),
        ("GET", "/api/custom_profile_fields"),
        ("GET", "/api/custom_profile_field_values"),
        ("GET", "/api/custom_profile_field_values"),
        ("POST", "/api/custom_profile_field_values"),
        ("POST", "/api/custom_profile_field_values"),
        ("PUT", "/api/custom_profile_field_values/9"),
        ("PUT", "/api/custom_profile_field_values/9"),
        ("GET", "/api/program_signups"),
        ("GET", "/api/program_signups"),
    ]
    for request in sent:
        validate_httpx_request(request, base_url=base_url)


def test_validator_rejects_a_put_without_a_required_field() -> None:
    sent: list[httpx.Request] = []
    with CommunalClient(KEY, base_url=LOOPBACK_BASE, transport=recording(fake_api, sent)) as api:
        api.update_user(42, {"first_name": "Ada", "email": "ada@example.com"})

    with pytest.raises(OpenAPIError, match="last_name"):
        validate_httpx_request(sent[0], base_url=LOOPBACK_BASE)


def test_validator_rejects_a_request_without_the_bearer_key() -> None:
    request = httpx.Request("GET", f"{LOOPBACK_BASE}/users/42")

    with pytest.raises(OpenAPIError, match="Security"):
        validate_httpx_request(request, base_url=LOOPBACK_BASE)


def test_response_validation_helper_checks_bodies_against_the_spec() -> None:
    request = httpx.Request(
        "GET", f"{LOOPBACK_BASE}/users/42", headers={"Authorization": f"Bearer {KEY}"}
    )
    good = fake_api(request)
    bad = httpx.Response(200, json={"id": 42})

    validate_httpx_response(request, good, base_url=LOOPBACK_BASE)
    with pytest.raises(OpenAPIError):
        validate_httpx_response(request, bad, base_url=LOOPBACK_BASE)
