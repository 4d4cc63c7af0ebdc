"""The sandbox's paginated lists, filters and custom profile field values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from communal_sync.sandbox import Sandbox, load_seed

SEED = Path(__file__).resolve().parent.parent / "data" / "sandbox" / "organization.json"
MANAGER = "manager-key-0001"
MEMBER = "member-key-0002"  # belongs to user 2
FROZEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def big_seed(count: int) -> dict[str, Any]:
    """``count`` users, each with a signup and a value of one field, plus ``count`` fields."""
    users = [
        {"id": i, "first_name": f"User{i}", "last_name": "Pagey", "email": f"user{i}@example.org"}
        for i in range(1, count + 1)
    ]
    return {
        "users": users,
        "custom_profile_fields": [{"id": i, "name": f"Field {i}"} for i in range(1, count + 1)],
        "custom_profile_field_values": [
            {"id": i, "value": f"v{i}", "user_id": i, "custom_profile_field_id": 1}
            for i in range(1, count + 1)
        ],
        "program_signups": [{"id": i, "user_id": i} for i in range(1, count + 1)],
    }


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(load_seed(SEED), clock=lambda: FROZEN) as running:
        yield running


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {MANAGER}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as client:
        yield client


@pytest.fixture
def member(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {MEMBER}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as client:
        yield client


@pytest.mark.parametrize(
    "path", ["/custom_profile_fields", "/custom_profile_field_values", "/program_signups"]
)
def test_lists_paginate_in_pages_of_15(path: str) -> None:
    with (
        Sandbox(big_seed(33)) as sandbox,
        httpx.Client(
            base_url=sandbox.base_url, headers={"Authorization": "Bearer sandbox-manager-key"}
        ) as client,
    ):
        pages = [client.get(path, params={"page": n}).json() for n in (1, 2, 3, 4)]

    envelopes = [{k: v for k, v in page.items() if k != "data"} for page in pages]
    assert envelopes == [
        {"current_page": 1, "from": 1, "last_page": 3, "per_page": 15, "to": 15, "total": 33},
        {"current_page": 2, "from": 16, "last_page": 3, "per_page": 15, "to": 30, "total": 33},
        {"current_page": 3, "from": 31, "last_page": 3, "per_page": 15, "to": 33, "total": 33},
        {"current_page": 4, "from": None, "last_page": 3, "per_page": 15, "to": None, "total": 33},
    ]
    ids = [item["id"] for page in pages for item in page["data"]]
    assert ids == list(range(1, 34))


def test_per_page_is_honoured_up_to_100() -> None:
    with (
        Sandbox(big_seed(120)) as sandbox,
        httpx.Client(
            base_url=sandbox.base_url, headers={"Authorization": "Bearer sandbox-manager-key"}
        ) as client,
    ):
        small = client.get("/program_signups", params={"per_page": 50}).json()
        capped = client.get("/program_signups", params={"per_page": 500}).json()
        junk = client.get("/program_signups", params={"per_page": "x", "page": "-2"}).json()

    assert (small["per_page"], small["last_page"], len(small["data"])) == (50, 3, 50)
    assert (capped["per_page"], capped["last_page"], len(capped["data"])) == (100, 2, 100)
    assert (junk["per_page"], junk["current_page"]) == (15, 1)


def test_empty_list_has_null_from_and_to(api: httpx.Client) -> None:
    body = api.get("/custom_profile_field_values", params={"filter[user_id]": 1}).json()

    assert body == {
        "data": [],
        "current_page": 1,
        "from": None,
        "last_page": 1,
        "per_page": 15,
        "to": None,
        "total": 0,
    }


def test_custom_profile_fields_hide_soft_deleted_ones(api: httpx.Client) -> None:
    body = api.get("/custom_profile_fields").json()

    assert [f["name"] for f in body["data"]] == ["T-shirt size", "Badge number", "Member since"]
    assert body["data"][1]["locked"] is True
    assert "values" not in body["data"][0]


def test_custom_profile_fields_include_values(api: httpx.Client) -> None:
    body = api.get("/custom_profile_fields", params={"include": "values"}).json()

    assert [v["value"] for v in body["data"][0]["values"]] == ["M"]


def test_values_filter_by_user_and_field_and_include_field(api: httpx.Client) -> None:
    by_user = api.get("/custom_profile_field_values", params={"filter[user_id]": 2}).json()
    by_field = api.get(
        "/custom_profile_field_values",
        params={"filter[custom_profile_field_id]": 3, "include": "customProfileField"},
    ).json()

    assert [v["id"] for v in by_user["data"]] == [10, 11]
    assert [v["id"] for v in by_field["data"]] == [12]
    assert by_field["data"][0]["custom_profile_field"]["name"] == "Member since"


def test_non_integer_filter_is_422(api: httpx.Client) -> None:
    response = api.get("/custom_profile_field_values", params={"filter[user_id]": "two"})

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "filter.user_id": ["The filter.user_id field must be an integer."]
    }


def test_member_lists_only_its_own_values_and_signups(member: httpx.Client) -> None:
    values = member.get("/custom_profile_field_values").json()
    signups = member.get("/program_signups").json()

    assert {v["user_id"] for v in values["data"]} == {2}
    assert [s["id"] for s in signups["data"]] == [100]
    assert member.get("/program_signups", params={"filter[user_id]": 3}).status_code == 403


def test_signup_search_matches_name_or_email_case_insensitively(api: httpx.Client) -> None:
    def search(text: str) -> list[int]:
        body = api.get("/program_signups", params={"filter[query]": text}).json()
        return [signup["id"] for signup in body["data"]]

    assert search("BERG") == [100]
    assert search("aiko.tanaka@example") == [101]
    assert search("parent.TANAKA") == [101]
    assert search("example.org") == [100, 101]
    assert search("nobody") == []


def test_signup_search_follows_a_renamed_user(api: httpx.Client) -> None:
    api.put(
        "/users/2",
        json={"first_name": "Jonas", "last_name": "Lindqvist", "email": "jl@example.org"},
    )

    body = api.get("/program_signups", params={"filter[query]": "lindqvist"}).json()
    assert [s["id"] for s in body["data"]] == [100]


def test_signups_include_user_and_filter_by_user_id(api: httpx.Client) -> None:
    body = api.get("/program_signups", params={"filter[user_id]": 3, "include": "user"}).json()

    assert [s["id"] for s in body["data"]] == [101]
    signup = body["data"][0]
    assert signup["user_id"] == 3
    assert signup["associated_email"] == "parent.tanaka@example.net"
    assert signup["user"]["id"] == "3"
    assert signup["user"]["email"] == "Aiko.Tanaka@Example.org"
    assert "profile_zip" not in signup["user"]


def test_signups_with_trashed_include_soft_deleted(api: httpx.Client) -> None:
    body = api.get("/program_signups", params={"filter[withTrashed]": "true"}).json()

    assert [s["id"] for s in body["data"]] == [100, 101, 102]


def test_post_value_creates_then_overwrites_one_record(api: httpx.Client, sandbox: Sandbox) -> None:
    created = api.post(
        "/custom_profile_field_values",
        json={"user_id": 3, "custom_profile_field_id": 1, "value": "L"},
    )
    again = api.post(
        "/custom_profile_field_values",
        json={"user_id": 3, "custom_profile_field_id": 1, "value": "XL"},
    )

    assert created.status_code == 200
    assert created.json() == {
        "id": 13,
        "tenant_id": 1,
        "value": "L",
        "user_id": 3,
        "custom_profile_field_id": 1,
        "created_at": "2026-03-01T12:00:00.000000Z",
        "updated_at": "2026-03-01T12:00:00.000000Z",
        "deleted_at": None,
    }
    assert again.json()["id"] == 13
    assert again.json()["value"] == "XL"
    values = [v for v in sandbox.state()["custom_profile_field_values"] if v["user_id"] == 3]
    assert [(v["custom_profile_field_id"], v["value"]) for v in values] == [(3, "2019"), (1, "XL")]


def test_post_empty_value_clears_and_stores_nothing(api: httpx.Client, sandbox: Sandbox) -> None:
    response = api.post(
        "/custom_profile_field_values",
        json={"user_id": 2, "custom_profile_field_id": 1, "value": ""},
    )
    nothing = api.post(
        "/custom_profile_field_values",
        json={"user_id": 3, "custom_profile_field_id": 1, "value": None},
    )

    assert response.json() == {"message": "Profile field cleared"}
    assert nothing.json() == {"message": "Profile field cleared"}
    assert [v["id"] for v in sandbox.state()["custom_profile_field_values"]] == [11, 12]


def test_put_value_updates_and_empty_value_deletes(api: httpx.Client, sandbox: Sandbox) -> None:
    body = {"user_id": 2, "custom_profile_field_id": 1}
    updated = api.put("/custom_profile_field_values/10", json={**body, "value": "S"})
    cleared = api.put("/custom_profile_field_values/10", json={**body, "value": "  "})
    missing = api.put("/custom_profile_field_values/10", json={**body, "value": "S"})

    assert updated.json()["value"] == "S"
    assert updated.json()["updated_at"] == "2026-03-01T12:00:00.000000Z"
    assert cleared.json() == {"message": "Profile field cleared"}
    assert missing.status_code == 404
    assert missing.json() == "Resource missing."
    assert 10 not in [v["id"] for v in sandbox.state()["custom_profile_field_values"]]


def test_put_value_with_someone_elses_ids_is_422(api: httpx.Client) -> None:
    response = api.put(
        "/custom_profile_field_values/10",
        json={"user_id": 3, "custom_profile_field_id": 1, "value": "S"},
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["user_id"]


def test_value_write_to_unknown_user_or_field_is_422(api: httpx.Client) -> None:
    response = api.post(
        "/custom_profile_field_values",
        json={"user_id": 99, "custom_profile_field_id": 4, "value": "x"},
    )

    assert response.status_code == 422
    assert response.json() == {
        "message": "The selected user id is invalid. (and 1 more error)",
        "errors": {
            "user_id": ["The selected user id is invalid."],
            "custom_profile_field_id": ["The selected custom profile field id is invalid."],
        },
    }


def test_value_write_without_ids_is_422(api: httpx.Client) -> None:
    response = api.post("/custom_profile_field_values", json={"value": "x", "user_id": "abc"})

    assert response.json()["errors"] == {
        "user_id": ["The user id field must be an integer."],
        "custom_profile_field_id": ["The custom profile field id field is required."],
    }


def test_locked_field_refuses_writes_with_403(api: httpx.Client, sandbox: Sandbox) -> None:
    body = {"user_id": 2, "custom_profile_field_id": 2, "value": "B-9"}
    posted = api.post("/custom_profile_field_values", json=body)
    put = api.put("/custom_profile_field_values/11", json=body)

    assert (posted.status_code, put.status_code) == (403, 403)
    assert posted.json() == {"message": "This profile field is locked."}
    assert sandbox.state()["custom_profile_field_values"][1]["value"] == "B-0042"


def test_member_writes_only_own_user_editable_values(member: httpx.Client) -> None:
    own = member.post(
        "/custom_profile_field_values",
        json={"user_id": 2, "custom_profile_field_id": 1, "value": "L"},
    )
    not_editable = member.post(
        "/custom_profile_field_values",
        json={"user_id": 2, "custom_profile_field_id": 3, "value": "2020"},
    )
    other = member.post(
        "/custom_profile_field_values",
        json={"user_id": 3, "custom_profile_field_id": 1, "value": "L"},
    )

    assert own.status_code == 200
    assert not_editable.status_code == 403
    assert other.status_code == 403
    assert other.json() == {"message": "This action is unauthorized."}
