"""The sandbox answers 2026-08-25's new lists as the API would: memberships, transactions,
signups by status, and nothing of them to a request that asks for 2026-03-25.

The demo organization holds members with several memberships, expired ones, a cancelled
signup, a user's own transaction, an account's and a guest's. The clock is fixed at
2026-09-01, so which memberships have expired does not depend on the day the test runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from communal_sync.sandbox import Sandbox

MANAGER = "sandbox-manager-key"
MEMBER = "sandbox-member-key"  # user 104
TODAY = datetime(2026, 9, 1, tzinfo=UTC)
NEW = {"X-Api-Version": "2026-08-25"}
OLD = {"X-Api-Version": "2026-03-25"}
ENVELOPE_KEYS = {"data", "current_page", "from", "last_page", "per_page", "to", "total"}


@pytest.fixture
def sandbox(demo_seed: dict[str, Any]) -> Iterator[Sandbox]:
    with Sandbox(demo_seed, clock=lambda: TODAY) as running:
        yield running


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {MANAGER}", **NEW}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as client:
        yield client


def memberships(api: httpx.Client, **params: Any) -> list[tuple[int, int]]:
    response = api.get("/user_memberships", params={"page[size]": 500, **params})
    assert response.status_code == 200, response.text
    return [(m["id"], m["user_id"]) for m in response.json()["data"]]


# --- user memberships ----------------------------------------------------------------------


def test_memberships_are_listed_in_id_order_with_their_type_and_plan(api: httpx.Client) -> None:
    body = api.get("/user_memberships", params={"page[size]": 500}).json()

    assert set(body) == ENVELOPE_KEYS
    assert (body["total"], body["per_page"], body["last_page"], body["from"]) == (19, 500, 1, 1)
    assert [m["id"] for m in body["data"]] == list(range(1, 20))
    assert body["data"][1] == {
        "id": 2,
        "user_id": 101,
        "status": "active",
        "will_auto_renew": True,
        "ends_at": "2030-06-30T00:00:00.000000Z",
        "renewed_at": "2026-01-01T00:00:00.000000Z",
        "created_at": "2025-07-01T00:00:00.000000Z",
        "membership_type": {"id": 1, "title": "Adult"},
        "plan": {"id": 1, "nickname": "Annual", "amount": 12000, "interval": "year"},
    }


def test_members_with_several_memberships_and_users_with_none(api: httpx.Client) -> None:
    holders = [user for _, user in memberships(api)]

    assert holders.count(103) == 3
    assert holders.count(101) == 2
    assert {1, 113, 114, 115, 116}.isdisjoint(holders), "these users hold no membership"


def test_pages_follow_page_number_and_size_and_a_page_past_the_end_is_empty(
    api: httpx.Client,
) -> None:
    second = api.get("/user_memberships", params={"page[number]": 2, "page[size]": 5}).json()
    past = api.get("/user_memberships", params={"page[number]": 9, "page[size]": 5}).json()

    assert [m["id"] for m in second["data"]] == [6, 7, 8, 9, 10]
    assert (second["from"], second["to"], second["last_page"]) == (6, 10, 4)
    assert (past["data"], past["from"], past["to"], past["current_page"]) == ([], None, None, 9)


def test_without_a_page_size_a_page_holds_laravels_default_of_15(api: httpx.Client) -> None:
    body = api.get("/user_memberships").json()

    assert (len(body["data"]), body["per_page"], body["last_page"]) == (15, 15, 2)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"page[size]": 501}, "page.size", "The page.size field must not be greater than 500."),
        ({"page[size]": 0}, "page.size", "The page.size field must be at least 1."),
        ({"page[number]": "two"}, "page.number", "The page.number field must be an integer."),
        (
            {"filter[active]": "yes"},
            "filter.active",
            "The filter.active field must be true or false.",
        ),
        (
            {"filter[user_id]": "101,102"},
            "filter.user_id",
            "The filter.user_id field must be an integer.",
        ),
        (
            {"filter[expires_ending_at]": "soon"},
            "filter.expires_ending_at",
            "The filter.expires_ending_at field must be a valid date.",
        ),
    ],
)  # fmt: skip
def test_a_bad_page_or_filter_is_laravels_422(
    api: httpx.Client, params: dict[str, Any], field: str, message: str
) -> None:
    response = api.get("/user_memberships", params=params)

    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}


def test_filters_by_user_active_expired_and_expiry_range(api: httpx.Client) -> None:
    assert memberships(api, **{"filter[user_id]": 103}) == [(4, 103), (5, 103), (6, 103)]
    expired = memberships(api, **{"filter[expired]": "true"})
    assert expired == [(1, 101), (5, 103), (10, 107), (15, 112)]
    assert memberships(api, **{"filter[expired]": 0}) == [
        m for m in memberships(api) if m not in expired
    ]
    active = memberships(api, **{"filter[active]": 1})
    assert (12, 109) in active, "a retrying membership is still in force"
    assert set(active).isdisjoint(expired)
    assert memberships(
        api,
        **{
            "filter[expires_starting_at]": "2025-12-01T00:00:00Z",
            "filter[expires_ending_at]": "2026-06-30T23:59:59Z",
        },
    ) == [(10, 107), (15, 112)]


def test_a_member_key_lists_only_its_own_memberships(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {MEMBER}", **NEW}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as member:
        own = member.get("/user_memberships").json()["data"]
        other = member.get("/user_memberships", params={"filter[user_id]": 101})
        shown = member.get("/user_memberships/1")

    assert [(m["id"], m["user_id"]) for m in own] == [(7, 104)]
    assert other.status_code == 403
    assert shown.status_code == 403


def test_one_membership_is_shown_unwrapped_and_an_unknown_one_is_404(api: httpx.Client) -> None:
    shown = api.get("/user_memberships/10")
    missing = api.get("/user_memberships/999")

    assert (shown.status_code, shown.json()["user_id"], shown.json()["status"]) == (
        200,
        107,
        "expired",
    )
    assert missing.status_code == 404
    assert missing.json() == {
        "message": "No query results for model [App\\Models\\UserMembership] 999"
    }


def test_2026_03_25_has_no_memberships_or_transactions(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {MANAGER}", **OLD}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as old:
        for path in ("/user_memberships", "/user_memberships/1", "/transactions"):
            response = old.get(path)
            assert response.status_code == 404, path
            assert response.json()["message"].endswith("could not be found.")


# --- transactions --------------------------------------------------------------------------


def transactions(api: httpx.Client, query: str) -> list[tuple[int, Any]]:
    response = api.get("/transactions", params={"filter[query]": query})
    assert response.status_code == 200, response.text
    return [(t["id"], t["owner"]) for t in response.json()["data"]]


def test_a_users_own_transaction_is_owned_by_that_user(api: httpx.Client) -> None:
    own = {"id": 114, "user_id": 114, "email": "olivia.chen@example.org", "name": "Olivia Chen"}

    assert transactions(api, "olivia.chen@example.org") == [(9001, own)]


def test_the_search_finds_an_accounts_contact_email_and_its_users_name(
    api: httpx.Client,
) -> None:
    account = {
        "id": 8001,
        "user_id": 117,
        "email": "costa.family@example.org",
        "name": "Costa family account",
    }

    assert transactions(api, "COSTA.FAMILY@example.org") == [(9002, account)]
    assert transactions(api, "rafael") == [(9002, account)], "the user behind the account"
    assert transactions(api, "walk-in")[0][1]["user_id"] is None, "a guest has no user"
    assert transactions(api, "nobody@example.org") == []


def test_transactions_page_by_number_and_filter_by_user(api: httpx.Client) -> None:
    first = api.get("/transactions", params={"page[size]": 2}).json()
    second = api.get("/transactions", params={"page[size]": 2, "page[number]": 2}).json()
    mine = api.get("/transactions", params={"filter[user_id]": 117}).json()

    assert [t["id"] for t in first["data"] + second["data"]] == [9001, 9002, 9003]
    assert (first["last_page"], first["total"]) == (2, 3)
    assert [t["id"] for t in mine["data"]] == [9002]


def test_one_transaction_is_shown_wrapped_in_data(api: httpx.Client) -> None:
    shown = api.get("/transactions/9003")

    assert shown.status_code == 200
    assert shown.json()["data"]["owner"]["name"] == "Walk-in Guest"
    assert api.get("/transactions/1").status_code == 404


# --- program signups by status -------------------------------------------------------------


def signups(client: httpx.Client, **params: Any) -> list[int]:
    response = client.get("/program_signups", params=params)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["data"]]


def test_2026_08_25_hides_cancelled_signups_unless_asked_for(api: httpx.Client) -> None:
    assert signups(api) == [501, 502, 504]
    assert signups(api, **{"filter[signup_status]": "cancelled"}) == [503]
    assert signups(api, **{"filter[signup_status]": "cancelled:member"}) == [503]
    assert signups(api, **{"filter[signup_status]": "cancelled:admin"}) == []
    assert signups(api, **{"filter[signup_status]": "active"}) == [501, 502, 504]


def test_a_cancelled_signup_says_when_and_by_whom(api: httpx.Client) -> None:
    body = api.get("/program_signups", params={"filter[signup_status]": "cancelled"}).json()

    (signup,) = body["data"]
    assert (signup["cancelled_at"], signup["cancellation_actor"]) == (
        "2026-02-10T15:00:00.000000Z",
        "member",
    )


def test_2026_03_25_lists_every_signup_without_the_new_fields(sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {MANAGER}", **OLD}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as old:
        body = old.get("/program_signups", params={"filter[signup_status]": "active"}).json()

    assert [s["id"] for s in body["data"]] == [501, 502, 503, 504]
    assert all("cancelled_at" not in s for s in body["data"])


def test_a_bad_signup_status_is_422_and_a_member_may_not_ask_for_one(
    sandbox: Sandbox, api: httpx.Client
) -> None:
    bad = api.get("/program_signups", params={"filter[signup_status]": "gone"})
    headers = {"Authorization": f"Bearer {MEMBER}", **NEW}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as member:
        refused = member.get("/program_signups", params={"filter[signup_status]": "cancelled"})

    assert bad.status_code == 422
    assert bad.json()["errors"] == {
        "filter.signup_status": ["The selected filter.signup_status is invalid."]
    }
    assert refused.status_code == 403
