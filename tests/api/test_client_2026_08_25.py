"""The client's calls that are new in 2026-08-25, and its warnings about versions.

``/user_memberships``, ``/transactions`` and signups' ``filter[signup_status]`` exist only
from 2026-08-25, so those requests carry ``X-Api-Version: 2026-08-25`` even when the
client is pinned to 2026-03-25; every other request keeps the pin. An answer in another
version than the one asked for, or from the server's default, is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from communal_sync.api import retry
from communal_sync.api.client import CommunalClient
from communal_sync.api.retry import NO_RETRY
from communal_sync.errors import UnexpectedResponse

KEY = "sk_live_SECRET123"
BASE = "https://api.test/api"
PINNED = {"X-Api-Version": "2026-03-25"}
NEW = {"X-Api-Version": "2026-08-25"}
CANCELLED = "2026-02-01T00:00:00.000000Z"


@pytest.fixture(autouse=True)
def _no_waiting() -> Iterator[None]:
    with retry.testing():
        yield


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def client(warnings: list[str]) -> Iterator[CommunalClient]:
    with CommunalClient(KEY, base_url=BASE, retry=NO_RETRY, on_warning=warnings.append) as api:
        yield api


def envelope(items: list[dict[str, Any]], page: int, last: int, size: int, total: int) -> Any:
    start = (page - 1) * size
    return {
        "data": items,
        "current_page": page,
        "from": start + 1 if items else None,
        "last_page": last,
        "per_page": size,
        "to": start + len(items) if items else None,
        "total": total,
    }


def membership(membership_id: int, user_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": membership_id,
        "user_id": user_id,
        "status": "active",
        "will_auto_renew": True,
        "ends_at": "2030-01-01T00:00:00.000000Z",
        "renewed_at": None,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "membership_type": {"id": 1, "title": "Adult"},
        "plan": None,
        **extra,
    }


# -- user memberships ---------------------------------------------------------------------


def test_a_membership_page_asks_for_500_rows_as_2026_08_25_while_pinned_to_2026_03_25(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/user_memberships?page%5Bnumber%5D=3&page%5Bsize%5D=500",
        match_headers=NEW,
        json=envelope([membership(7, 42), membership(8, 43)], 3, 3, 500, 1002),
    )

    page = client.list_user_memberships(3)

    assert [(m.id, m.user_id) for m in page.memberships] == [(7, 42), (8, 43)]
    assert (page.number, page.last_page, page.per_page, page.total) == (3, 3, 500, 1002)
    assert page.first_position == 1000
    assert page.memberships[0].membership_type == {"id": 1, "title": "Adult"}


def test_user_requests_keep_the_pinned_version_beside_membership_pages(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(url=f"{BASE}/users/42", match_headers=PINNED, json={"id": "42"})
    httpx_mock.add_response(
        url=f"{BASE}/user_memberships?page%5Bnumber%5D=1&page%5Bsize%5D=500",
        match_headers=NEW,
        json=envelope([], 1, 1, 500, 0),
    )

    client.get_user(42)
    client.list_user_memberships(1)

    versions = [r.headers["X-Api-Version"] for r in httpx_mock.get_requests()]
    assert versions == ["2026-03-25", "2026-08-25"]


def test_a_page_that_says_nothing_of_its_place_is_placed_by_number_and_size(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(json={"data": [membership(9, 1)], "current_page": 2, "last_page": 2})

    page = client.list_user_memberships(2, size=25)

    assert (page.first_position, page.per_page, page.total) == (25, 25, None)


def test_a_membership_without_a_user_id_is_an_unexpected_answer(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    httpx_mock.add_response(json=envelope([{"id": 9, "status": "active"}], 1, 1, 500, 1))

    with pytest.raises(UnexpectedResponse, match=r"page 1 of the user memberships.*user_id"):
        client.list_user_memberships(1)


@pytest.mark.parametrize(
    "numbers",
    [
        {"current_page": 1, "last_page": 10**12, "per_page": 500, "total": 5 * 10**14},
        {"current_page": 1, "last_page": 1, "per_page": 500, "total": 10**9},
        {"current_page": 1, "last_page": 2, "per_page": 10**9},
        {"current_page": 0, "last_page": 2, "per_page": 500},
        {"current_page": 1, "last_page": 2, "per_page": 500, "total": -1},
        {"current_page": 1, "last_page": 2, "per_page": 500, "from": -40},
    ],
)
def test_page_numbers_no_list_has_are_an_unexpected_answer_not_a_run_without_end(
    httpx_mock: HTTPXMock, client: CommunalClient, numbers: dict[str, int]
) -> None:
    httpx_mock.add_response(json={"data": [membership(9, 1)], **numbers})

    with pytest.raises(UnexpectedResponse, match=r"^The API answered page 1 of the user "):
        client.list_user_memberships(1)


def test_the_largest_believable_list_is_read(httpx_mock: HTTPXMock, client: CommunalClient) -> None:
    httpx_mock.add_response(json=envelope([membership(9, 1)], 1, 20_000, 500, 10_000_000))

    assert client.list_user_memberships(1).last_page == 20_000


# -- transactions and signups -------------------------------------------------------------


def test_the_transaction_search_pages_with_page_number_as_2026_08_25(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    owner = {"id": 9001, "user_id": 105, "email": "family@example.org", "name": "Family"}
    base = f"{BASE}/transactions?filter%5Bquery%5D=ann%40example.org&page%5Bsize%5D=100"
    httpx_mock.add_response(
        url=base, match_headers=NEW, json=envelope([{"id": 1, "owner": owner}], 1, 2, 1, 2)
    )
    httpx_mock.add_response(
        url=f"{base}&page%5Bnumber%5D=2",
        match_headers=NEW,
        json=envelope([{"id": 2, "owner": None}], 2, 2, 1, 2),
    )

    found = client.search_transactions("ann@example.org")

    assert [t.id for t in found] == [1, 2]
    assert found[0].owner is not None
    assert (found[0].owner.id, found[0].owner.user_id) == (9001, 105)
    assert found[1].owner is None


def test_a_signup_search_by_status_is_sent_as_2026_08_25_and_without_it_as_pinned(
    httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    search = f"{BASE}/program_signups?filter%5Bquery%5D=ann&include=user"
    httpx_mock.add_response(
        url=f"{search}&filter%5Bsignup_status%5D=cancelled",
        match_headers=NEW,
        json=envelope([{"id": 5, "user_id": 7, "cancelled_at": CANCELLED}], 1, 1, 15, 1),
    )
    httpx_mock.add_response(url=search, match_headers=PINNED, json=envelope([], 1, 1, 15, 0))

    cancelled = client.search_program_signups("ann", signup_status="cancelled")
    client.search_program_signups("ann")

    assert [(s.id, s.user_id, s.cancelled_at) for s in cancelled] == [(5, 7, CANCELLED)]


# -- version warnings ---------------------------------------------------------------------


def test_an_answer_from_the_servers_default_version_is_a_warning(
    httpx_mock: HTTPXMock, client: CommunalClient, warnings: list[str]
) -> None:
    httpx_mock.add_response(
        headers={"X-Api-Version": "2026-08-25", "X-Api-Version-Source": "default"},
        json={"id": "42"},
        is_reusable=True,
    )

    client.get_user(42)
    client.get_user(42)

    assert warnings == [
        "The Communal API answered with its default version (2026-08-25), not the 2026-03-25 "
        "communal-sync asked for: the X-Api-Version header did not reach it. Check any proxy "
        "between here and the API; answers may not be read correctly."
    ]


def test_an_answer_in_another_version_than_asked_is_a_warning(
    httpx_mock: HTTPXMock, client: CommunalClient, warnings: list[str]
) -> None:
    httpx_mock.add_response(
        headers={"X-Api-Version": "2026-08-25", "X-Api-Version-Source": "header"},
        json={"id": "42"},
    )

    client.get_user(42)

    assert warnings == [
        "The Communal API answered in version 2026-08-25, not the 2026-03-25 communal-sync "
        "asked for; answers may not be read correctly."
    ]


def test_an_answer_in_the_version_asked_for_warns_of_nothing(
    httpx_mock: HTTPXMock, client: CommunalClient, warnings: list[str]
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/users/42",
        headers={"X-Api-Version": "2026-03-25", "X-Api-Version-Source": "header"},
        json={"id": "42"},
    )
    httpx_mock.add_response(
        url=f"{BASE}/user_memberships?page%5Bnumber%5D=1&page%5Bsize%5D=500",
        headers={"X-Api-Version": "2026-08-25", "X-Api-Version-Source": "header"},
        json=envelope([], 1, 1, 500, 0),
    )

    client.get_user(42)
    client.list_user_memberships(1)

    assert warnings == []


def test_a_version_communal_sync_does_not_know_is_sent_and_warned_about_once_answered(
    httpx_mock: HTTPXMock,
) -> None:
    seen: list[str] = []
    httpx_mock.add_response(status_code=400, json={"message": "Unsupported API version."})
    httpx_mock.add_response(json={"id": "1"})
    with CommunalClient(
        KEY, base_url=BASE, api_version="2027-01-01", retry=NO_RETRY, on_warning=seen.append
    ) as api:
        with pytest.raises(UnexpectedResponse):
            api.get_user(1)
        assert seen == [], "no warning before the API has answered the version"
        api.get_user(1)

    assert seen == [
        "communal-sync is written against Communal API versions 2026-03-25 and 2026-08-25; "
        "2027-01-01 is sent as asked, and its answers may not be read correctly."
    ]
    assert {r.headers["X-Api-Version"] for r in httpx_mock.get_requests()} == {"2027-01-01"}


def test_a_2026_08_25_user_with_null_dates_reads_as_no_dates(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        json={
            "id": "42",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "date_of_birth": None,
            "created_at": None,
            "updated_at": None,
        }
    )
    with CommunalClient(KEY, base_url=BASE, api_version="2026-08-25") as api:
        user = api.get_user(42)

    assert (user.date_of_birth, user.updated_at) == (None, None)
    assert {"date_of_birth", "updated_at"} <= user.provided_fields()


def test_the_full_user_keeps_two_factor_enabled_as_it_came(httpx_mock: HTTPXMock) -> None:
    full = {"id": 42, "first_name": "Ada", "email": "ada@example.com", "two_factor_enabled": "0"}
    httpx_mock.add_response(method="PUT", json=full)
    with CommunalClient(KEY, base_url=BASE, api_version="2026-08-25") as api:
        user = api.update_user(42, {"first_name": "Ada", "last_name": "L", "email": "a@b.co"})

    assert user.raw()["two_factor_enabled"] == "0"


def test_a_wrapped_transport_error_names_the_new_listing(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    with (
        CommunalClient(KEY, base_url=BASE, retry=NO_RETRY) as api,
        pytest.raises(Exception, match="page 2 of the user memberships"),
    ):
        api.list_user_memberships(2)
