"""The Communal client against a mocked API: requests it sends, models and errors it returns."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from communal_sync import __version__
from communal_sync.api import retry
from communal_sync.api.client import CommunalClient
from communal_sync.api.models import User
from communal_sync.api.retry import NO_RETRY
from communal_sync.errors import (
    ConfigError,
    Forbidden,
    NotFound,
    RateLimited,
    Rejected,
    ServerError,
    TransportError,
    Unauthenticated,
    UnexpectedResponse,
    UnsupportedVersion,
)

KEY = "sk_live_SECRET123"
BASE = "https://api.test/api"

USER_RESOURCE = {
    "id": "42",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "telephone": "0123 456",
    "first_name": "Ada",
    "middle_name": None,
    "last_name": "Lovelace",
    "preferred_name": None,
    "date_of_birth": "1815-12-10T00:00:00.000000Z",
    "created_at": "2024-01-01T00:00:00.000000Z",
    "updated_at": "2026-03-01T10:00:00.000000Z",
}
FULL_USER = {
    **USER_RESOURCE,
    "id": 42,
    "tenant_id": 7,
    "profile_address": "12 St James's Square",
    "profile_address_line_2": None,
    "profile_city": "London",
    "profile_state": None,
    "profile_zip": "01234",
    "profile_country": "GB",
    "manager": False,
    "status": 1,
}


@pytest.fixture(autouse=True)
def _no_waiting() -> Iterator[None]:
    with retry.testing():
        yield


@pytest.fixture
def client() -> Iterator[CommunalClient]:
    with CommunalClient(KEY, base_url=BASE, retry=NO_RETRY) as api:
        yield api


def page(items: list[dict[str, Any]], current: int, last: int) -> dict[str, Any]:
    return {
        "data": items,
        "current_page": current,
        "last_page": last,
        "per_page": 2,
        "from": 1 if items else None,
        "to": len(items) or None,
        "total": 2 * last,
    }


# -- what is sent ------------------------------------------------------------------------


def test_every_request_carries_key_version_accept_and_user_agent(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{BASE}/users/42",
        match_headers={
            "Authorization": f"Bearer {KEY}",
            "Accept": "application/json",
            "X-Api-Version": "2026-03-25",
            "User-Agent": f"communal-sync/{__version__}",
        },
        json=USER_RESOURCE,
    )

    client.get_user(42)


def test_api_version_is_configurable(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/users/1", match_headers={"X-Api-Version": "2025-06-01"}, json={"id": 1}
    )

    with CommunalClient(KEY, base_url=BASE, api_version="2025-06-01") as api:
        assert api.get_user(1).id == 1


def test_update_user_sends_body_as_json_and_returns_full_user(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    body = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "telephone": None,
    }
    httpx_mock.add_response(method="PUT", url=f"{BASE}/users/42", match_json=body, json=FULL_USER)

    user = client.update_user(42, body)

    assert user.id == 42
    assert user.profile_city == "London"
    assert user.profile_zip == "01234"
    assert user.profile_address_line_2 is None
    assert user.model_extra == {"manager": False, "status": 1}


def test_create_custom_value_posts_the_three_fields(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    created = {
        "id": 9,
        "tenant_id": 7,
        "value": "Blue",
        "user_id": 42,
        "custom_profile_field_id": 3,
        "created_at": None,
        "updated_at": None,
        "deleted_at": None,
    }
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE}/custom_profile_field_values",
        match_json={"value": "Blue", "user_id": 42, "custom_profile_field_id": 3},
        json=created,
    )

    value = client.create_custom_profile_field_value(42, 3, "Blue")

    assert value is not None
    assert (value.id, value.value, value.user_id, value.custom_profile_field_id) == (
        9,
        "Blue",
        42,
        3,
    )


def test_clearing_a_custom_value_returns_none(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(
        method="PUT",
        url=f"{BASE}/custom_profile_field_values/9",
        match_json={"value": "", "user_id": 42, "custom_profile_field_id": 3},
        json={"message": "Profile field cleared"},
    )

    assert client.update_custom_profile_field_value(9, 42, 3, "") is None


# -- models ------------------------------------------------------------------------------


def test_get_user_keeps_absent_fields_apart_from_nulls(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(url=f"{BASE}/users/42", json=USER_RESOURCE)

    user = client.get_user(42)

    assert user.id == 42
    assert user.first_name == "Ada"
    assert "middle_name" in user.provided_fields()
    assert "profile_city" not in user.provided_fields()
    assert user.raw() == {**USER_RESOURCE, "id": 42}


def test_full_user_survives_a_model_dump_round_trip(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(method="PUT", url=f"{BASE}/users/42", json=FULL_USER)
    user = client.update_user(42, {"first_name": "Ada", "last_name": "Lovelace", "email": "a@b.co"})

    again = User.model_validate(user.model_dump())

    assert again == user
    assert again.raw() == FULL_USER
    assert User.model_validate(user.raw()).raw() == FULL_USER


@pytest.mark.parametrize("wrapped", [False, True])
def test_single_resource_may_be_bare_or_wrapped_in_data(
    httpx_mock: HTTPXMock, client: CommunalClient, wrapped: bool
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/users/42", json={"data": USER_RESOURCE} if wrapped else USER_RESOURCE
    )

    assert client.get_user(42).email == "ada@example.com"


def test_a_user_without_an_id_is_an_unexpected_response(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(url=f"{BASE}/users/42", json={"name": "No Id"})

    with pytest.raises(UnexpectedResponse, match=r"user 42 with a User we cannot read \(id:"):
        client.get_user(42)


# -- pagination --------------------------------------------------------------------------


def test_custom_values_are_collected_across_three_pages(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    def value(n: int) -> dict[str, Any]:
        return {"id": n, "value": f"v{n}", "user_id": 42, "custom_profile_field_id": n}

    url = f"{BASE}/custom_profile_field_values"
    httpx_mock.add_response(
        url=httpx.URL(url, params={"filter[user_id]": 42}), json=page([value(1), value(2)], 1, 3)
    )
    httpx_mock.add_response(
        url=httpx.URL(url, params={"filter[user_id]": 42, "page": 2}),
        json=page([value(3), value(4)], 2, 3),
    )
    httpx_mock.add_response(
        url=httpx.URL(url, params={"filter[user_id]": 42, "page": 3}), json=page([value(5)], 3, 3)
    )

    values = client.list_custom_profile_field_values(42)

    assert [v.id for v in values] == [1, 2, 3, 4, 5]
    assert [v.value for v in values] == ["v1", "v2", "v3", "v4", "v5"]


def test_custom_field_definitions_single_page(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/custom_profile_fields",
        json=page([{"id": 3, "name": "Favourite colour", "locked": False}], 1, 1),
    )

    fields = client.list_custom_profile_fields()

    assert [(f.id, f.name, f.locked) for f in fields] == [(3, "Favourite colour", False)]


def test_program_signup_search_sends_query_and_include_user(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    signup = {
        "id": 156,
        "user_id": 89,
        "associated_email": "ada@example.com",
        "user": {"id": 89, "email": "ada@example.com"},
    }
    httpx_mock.add_response(
        url=httpx.URL(
            f"{BASE}/program_signups",
            params={"filter[query]": "ada@example.com", "include": "user", "filter[user_id]": 89},
        ),
        json=page([signup], 1, 1),
    )

    signups = client.search_program_signups("ada@example.com", user_id=89)

    assert [(s.id, s.user_id, s.associated_email) for s in signups] == [
        (156, 89, "ada@example.com")
    ]
    assert signups[0].user is not None
    assert signups[0].user.email == "ada@example.com"


def test_a_server_that_never_stops_paging_is_cut_off(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=page([], 1, 99), is_reusable=True)

    with (
        CommunalClient(KEY, base_url=BASE, max_pages=3) as api,
        pytest.raises(UnexpectedResponse, match="past 3 pages"),
    ):
        api.list_custom_profile_fields()

    assert len(httpx_mock.get_requests()) == 3


def test_a_list_without_data_is_an_unexpected_response(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(url=f"{BASE}/custom_profile_fields", json={"items": []})

    with pytest.raises(UnexpectedResponse, match="without a 'data' list"):
        client.list_custom_profile_fields()


# -- errors ------------------------------------------------------------------------------


def test_401_is_unauthenticated(httpx_mock: HTTPXMock, client: CommunalClient) -> None:
    httpx_mock.add_response(status_code=401, json={"message": f"Unauthenticated token {KEY}."})

    with pytest.raises(Unauthenticated) as caught:
        client.get_user(42)

    assert str(caught.value) == (
        "The API key was not accepted (401). Check COMMUNAL_API_KEY or --api-key-file."
    )
    assert caught.value.status == 401


def test_403_says_a_manager_key_is_needed(httpx_mock: HTTPXMock, client: CommunalClient) -> None:
    httpx_mock.add_response(status_code=403, json={"message": "This action is unauthorized."})

    with pytest.raises(Forbidden) as caught:
        client.update_user(7, {"first_name": "A", "last_name": "B", "email": "a@b.co"})

    assert caught.value.status == 403
    assert "user 7" in str(caught.value)
    assert "manager key" in str(caught.value)
    assert "This action is unauthorized." in str(caught.value)


def test_404_names_the_user(httpx_mock: HTTPXMock, client: CommunalClient) -> None:
    httpx_mock.add_response(status_code=404, json={"message": "No query results for model."})

    with pytest.raises(NotFound, match="user 999") as caught:
        client.get_user(999)

    assert caught.value.status == 404


def test_404_with_a_bare_string_body_on_custom_value(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(status_code=404, json="Resource missing.")

    with pytest.raises(NotFound, match="custom profile field value 5 of user 42"):
        client.update_custom_profile_field_value(5, 42, 3, "x")


def test_422_carries_per_field_errors(httpx_mock: HTTPXMock, client: CommunalClient) -> None:
    httpx_mock.add_response(
        status_code=422,
        json={
            "message": "The email has already been taken. (and 1 more error)",
            "errors": {
                "email": ["The email has already been taken."],
                "profile_country": ["The selected profile country is invalid."],
            },
        },
    )

    with pytest.raises(Rejected) as caught:
        client.update_user(42, {"first_name": "A", "last_name": "B", "email": "dup@b.co"})

    assert caught.value.errors == {
        "email": ["The email has already been taken."],
        "profile_country": ["The selected profile country is invalid."],
    }
    assert str(caught.value) == (
        "The API rejected the values for user 42 (422): email: The email has already been taken.; "
        "profile_country: The selected profile country is invalid. Fix them in the input."
    )
    assert caught.value.status == 422


def test_400_unsupported_version_lists_the_supported_ones(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(
        status_code=400,
        json={
            "message": "Unsupported API version.",
            "supported_versions": ["2025-01-01", "2026-03-25"],
        },
    )

    with pytest.raises(UnsupportedVersion) as caught:
        client.get_user(42)

    assert caught.value.supported == ["2025-01-01", "2026-03-25"]
    assert "2025-01-01, 2026-03-25" in str(caught.value)
    assert "--api-version" in str(caught.value)


def test_429_is_rate_limited_with_retry_after(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(
        status_code=429, headers={"Retry-After": "12"}, json={"message": "Too Many Attempts."}
    )

    with pytest.raises(RateLimited) as caught:
        client.get_user(42)

    assert caught.value.retry_after == 12.0
    assert caught.value.status == 429


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_a_server_error(httpx_mock: HTTPXMock, client: CommunalClient, status: int) -> None:
    httpx_mock.add_response(status_code=status, text="<html>Bad Gateway</html>")

    with pytest.raises(ServerError) as caught:
        client.get_user(42)

    assert caught.value.status == status


@pytest.mark.parametrize(
    ("status", "content", "fragment"),
    [
        (200, b"<!DOCTYPE html><html><body>Login</body></html>", "not JSON: '<!DOCTYPE html>"),
        (200, b'{"id": 42, "name": "Ada', "not JSON"),
        (200, b"", "an empty body"),
        (418, b'{"message": "I am a teapot"}', "undocumented status 418"),
        (302, b"", "undocumented status 302"),
        (400, b'{"message": "Bad request"}', "undocumented status 400"),
    ],
)
def test_undocumented_answers_are_unexpected_responses(
    httpx_mock: HTTPXMock, client: CommunalClient, status: int, content: bytes, fragment: str
) -> None:
    httpx_mock.add_response(status_code=status, content=content, headers={"X-Secret-Header": KEY})

    with pytest.raises(UnexpectedResponse, match=fragment) as caught:
        client.get_user(42)

    assert KEY not in str(caught.value)


def test_connect_error_is_transport_error_that_never_reached_the_server(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("Connection refused"))

    with pytest.raises(TransportError, match="ConnectError: Connection refused") as caught:
        client.get_user(42)

    assert caught.value.may_have_reached_server is False
    assert caught.value.__cause__ is None


def test_read_timeout_may_have_reached_the_server(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))

    with pytest.raises(TransportError) as caught:
        client.get_user(42)

    assert caught.value.may_have_reached_server is True


# -- the key stays secret ----------------------------------------------------------------


def test_key_never_appears_in_client_repr_or_error_messages(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(status_code=403, json={"message": f"Token {KEY} may not do this."})
    httpx_mock.add_response(status_code=422, json={"message": "bad", "errors": {"email": [KEY]}})
    httpx_mock.add_exception(httpx.ConnectError(f"refused while sending Bearer {KEY}"))

    errors: list[Exception] = []
    for _ in range(3):
        with pytest.raises((Forbidden, Rejected, TransportError)) as caught:
            client.get_user(42)
        errors.append(caught.value)

    assert KEY not in repr(client)
    assert "ApiKey('****')" in repr(client)
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in repr(error)
        assert "****" in str(error) or isinstance(error, Rejected)
    assert isinstance(errors[1], Rejected)
    assert errors[1].errors == {"email": ["****"]}


def test_client_refuses_plain_http_to_a_remote_host() -> None:
    with pytest.raises(ConfigError, match="Refusing plain http://"):
        CommunalClient(KEY, base_url="http://api.getcommunal.com/api")


# -- deprecation warnings ----------------------------------------------------------------


def test_deprecation_headers_give_one_warning_with_both_facts_per_client(
    httpx_mock: HTTPXMock, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {
        "X-Api-Version-Warning": "Version 2026-03-25 is deprecated.",
        "Sunset": "Wed, 31 Dec 2026 23:59:59 GMT",
    }
    httpx_mock.add_response(
        url=f"{BASE}/users/1", headers=headers, json={"id": 1}, is_reusable=True
    )

    with (
        caplog.at_level(logging.WARNING, logger="communal_sync.api"),
        CommunalClient(KEY, base_url=BASE) as api,
    ):
        for _ in range(3):
            api.get_user(1)

    messages = [r.getMessage() for r in caplog.records if r.name == "communal_sync.api"]
    assert messages == [
        "The Communal API warns about version 2026-03-25: Version 2026-03-25 is deprecated. "
        "It will stop working after Wed, 31 Dec 2026 23:59:59 GMT. "
        "Pass --api-version with a current version.",
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            {"X-Api-Version-Warning": "Version 2026-03-25 is deprecated"},
            "The Communal API warns about version 2026-03-25: Version 2026-03-25 is "
            "deprecated. Pass --api-version with a current version.",
        ),
        (
            {"Sunset": "Wed, 31 Dec 2026 23:59:59 GMT"},
            "The Communal API version 2026-03-25 will stop working after "
            "Wed, 31 Dec 2026 23:59:59 GMT. Pass --api-version with a current version.",
        ),
    ],
)
def test_one_deprecation_header_alone_gives_its_own_warning(
    httpx_mock: HTTPXMock, headers: dict[str, str], expected: str
) -> None:
    seen: list[str] = []
    httpx_mock.add_response(url=f"{BASE}/users/1", headers=headers, json={"id": 1})

    with CommunalClient(KEY, base_url=BASE, on_warning=seen.append) as api:
        api.get_user(1)

    assert seen == [expected]


def test_shared_client_across_threads_warns_once() -> None:
    seen: list[str] = []
    calls = 0
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        with lock:
            calls += 1
        user_id = int(request.url.path.rsplit("/", 1)[1])
        return httpx.Response(200, headers={"Sunset": "tomorrow"}, json={"id": user_id})

    with (
        CommunalClient(
            KEY, base_url=BASE, transport=httpx.MockTransport(handler), on_warning=seen.append
        ) as api,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        ids = [u.id for u in pool.map(api.get_user, range(1, 41))]

    assert ids == list(range(1, 41))
    assert calls == 40
    assert len(seen) == 1


def test_cookies_set_by_the_api_are_not_sent_back(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/users/1", headers={"Set-Cookie": "laravel_session=abc; Path=/"}, json={"id": 1}
    )
    httpx_mock.add_response(url=f"{BASE}/users/2", json={"id": 2})

    with CommunalClient(KEY, base_url=BASE) as api:
        api.get_user(1)
        api.get_user(2)

    assert "cookie" not in httpx_mock.get_requests()[1].headers


def test_each_thread_sends_with_its_own_pool_and_close_ends_every_one(
    httpx_mock: HTTPXMock,
) -> None:
    for user_id in range(1, 17):
        httpx_mock.add_response(
            url=f"{BASE}/users/{user_id}",
            match_headers={"Authorization": f"Bearer {KEY}", "X-Api-Version": "2026-03-25"},
            json={"id": user_id},
        )
    api = CommunalClient(KEY, base_url=BASE, retry=NO_RETRY)
    barrier = threading.Barrier(4, timeout=60)  # a safety net, never reached

    def read_four(first: int) -> list[int]:
        barrier.wait()  # all four threads hold a client at once
        return [api.get_user(n).id for n in range(first, first + 4)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = sorted(n for got in pool.map(read_four, (1, 5, 9, 13)) for n in got)
    assert ids == list(range(1, 17))  # every thread's client carries the key and version

    api.close()
    with pytest.raises(RuntimeError):
        api.get_user(1)  # this thread's pool is closed, and no new one is made
