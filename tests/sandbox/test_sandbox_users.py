"""The sandbox's users endpoints, keys and version header, over a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from communal_sync.fields import ADDRESS_FIELDS
from communal_sync.sandbox import Sandbox, load_seed

SEED = Path(__file__).resolve().parent.parent / "data" / "sandbox" / "organization.json"
MANAGER = "manager-key-0001"
MEMBER = "member-key-0002"  # belongs to user 2
FROZEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

JONAS = {"first_name": "Jonas", "last_name": "Berg", "email": "jonas.berg@example.org"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(load_seed(SEED), clock=lambda: FROZEN) as running:
        yield running


_clients: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(sandbox: Sandbox, key: str | None = MANAGER, **headers: str) -> httpx.Client:
    """An httpx client on the sandbox's API with ``key`` (closed after the test)."""
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    _clients.append(httpx.Client(base_url=sandbox.base_url, headers=headers))
    return _clients[-1]


def test_get_user_returns_user_resource_without_address(sandbox: Sandbox) -> None:
    response = client(sandbox).get("/users/2")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "id": "2",
        "name": "Jonas Berg",
        "email": "jonas.berg@example.org",
        "telephone": "+1 416 555 0102",
        "first_name": "Jonas",
        "middle_name": "Karl",
        "last_name": "Berg",
        "preferred_name": "Jo",
        "date_of_birth": "1988-04-09T00:00:00.000000Z",
        "created_at": "2025-06-01T09:30:00.000000Z",
        "updated_at": "2025-11-02T17:45:10.250000Z",
    }
    assert not set(ADDRESS_FIELDS) & set(response.json())


def test_get_user_renders_missing_values_as_empty_strings(sandbox: Sandbox) -> None:
    body = client(sandbox, **{"X-Api-Version": "2026-03-25"}).get("/users/1").json()

    assert body["telephone"] == ""
    assert body["date_of_birth"] == ""
    assert body["middle_name"] == ""


def test_get_user_in_2026_08_25_sends_a_missing_date_as_null_and_text_as_empty(
    sandbox: Sandbox,
) -> None:
    body = client(sandbox, **{"X-Api-Version": "2026-08-25"}).get("/users/1").json()

    assert body["date_of_birth"] is None
    assert (body["telephone"], body["middle_name"]) == ("", "")
    assert body["updated_at"] == "2026-01-01T00:00:00.000000Z"


def test_put_sends_two_factor_enabled_only_from_2026_08_25(sandbox: Sandbox) -> None:
    new = client(sandbox, **{"X-Api-Version": "2026-08-25"}).put("/users/2", json=JONAS).json()
    old = client(sandbox, **{"X-Api-Version": "2026-03-25"}).put("/users/2", json=JONAS).json()

    assert new["two_factor_enabled"] == "0"
    assert "two_factor_enabled" not in old


def test_put_returns_full_user_with_address_and_bumped_updated_at(sandbox: Sandbox) -> None:
    response = client(sandbox).put("/users/2", json={**JONAS, "profile_city": "Ottawa"})

    assert response.status_code == 200
    user = response.json()
    assert user["id"] == 2
    assert user["profile_city"] == "Ottawa"
    assert user["profile_address"] == "12 Elm Street"
    assert user["profile_country"] == "CA"
    assert user["updated_at"] == "2026-03-01T12:00:00.000000Z"
    assert user["created_at"] == "2025-06-01T09:30:00.000000Z"
    assert user["manager"] is False
    assert user["base_membership_plan"] is None


def test_put_leaves_omitted_fields_unchanged(sandbox: Sandbox) -> None:
    client(sandbox).put("/users/2", json={**JONAS, "telephone": "416-555-0199"})

    stored = sandbox.state()["users"][1]
    assert stored["telephone"] == "416-555-0199"
    assert stored["middle_name"] == "Karl"
    assert stored["profile_zip"] == "M5V 2T6"
    assert stored["date_of_birth"] == "1988-04-09T00:00:00.000000Z"


def test_put_null_clears_a_field(sandbox: Sandbox) -> None:
    user = client(sandbox).put("/users/2", json={**JONAS, "middle_name": None}).json()

    assert user["middle_name"] is None
    assert client(sandbox).get("/users/2").json()["middle_name"] == ""


def test_put_trims_strings_and_turns_blank_into_null_like_laravel(sandbox: Sandbox) -> None:
    body = {**JONAS, "first_name": "  Jonas ", "preferred_name": "   "}
    user = client(sandbox).put("/users/2", json=body).json()

    assert user["first_name"] == "Jonas"
    assert user["preferred_name"] is None


def test_put_derives_name_and_ignores_unknown_and_readonly_fields(sandbox: Sandbox) -> None:
    body = {**JONAS, "last_name": "Lind", "name": "Someone Else", "manager": True, "x": 1}
    user = client(sandbox).put("/users/2", json=body).json()

    assert user["name"] == "Jonas Lind"
    assert user["manager"] is False
    assert "x" not in user


def test_put_without_required_trio_is_422_with_laravel_messages(sandbox: Sandbox) -> None:
    response = client(sandbox).put("/users/2", json={"telephone": "1"})

    assert response.status_code == 422
    assert response.json() == {
        "message": "The first name field is required. (and 2 more errors)",
        "errors": {
            "first_name": ["The first name field is required."],
            "last_name": ["The last name field is required."],
            "email": ["The email field is required."],
        },
    }
    assert sandbox.state()["users"][1]["telephone"] == "+1 416 555 0102"


def test_put_with_one_error_has_no_count_suffix(sandbox: Sandbox) -> None:
    response = client(sandbox).put("/users/2", json={**JONAS, "email": "not-an-email"})

    assert response.json() == {
        "message": "The email field must be a valid email address.",
        "errors": {"email": ["The email field must be a valid email address."]},
    }


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"first_name": "x" * 256}, "first_name", "must not be greater than 255 characters."),
        ({"last_name": 42}, "last_name", "The last name field must be a string."),
        ({"profile_country": "CAN"}, "profile_country", "must be 2 characters."),
        ({"profile_country": "XQ"}, "profile_country", "The selected profile country is invalid."),
        ({"date_of_birth": "1988-02-30"}, "date_of_birth", "must be a valid date."),
    ],
)
def test_put_rejects_bad_values(
    sandbox: Sandbox, change: dict[str, object], field: str, message: str
) -> None:
    response = client(sandbox).put("/users/2", json={**JONAS, **change})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert response.json()["errors"][field][0].endswith(message)


def test_put_accepts_255_character_names_and_stores_dates_as_date_times(sandbox: Sandbox) -> None:
    body = {
        **JONAS,
        "first_name": "x" * 255,
        "date_of_birth": "2001-07-15",
        "profile_country": "de",
    }
    user = client(sandbox).put("/users/2", json=body).json()

    assert user["first_name"] == "x" * 255
    assert user["date_of_birth"] == "2001-07-15T00:00:00.000000Z"
    assert user["profile_country"] == "de"


def test_duplicate_email_is_422_case_insensitively(sandbox: Sandbox) -> None:
    response = client(sandbox).put("/users/2", json={**JONAS, "email": "AIKO.tanaka@example.ORG"})

    assert response.status_code == 422
    assert response.json()["errors"] == {"email": ["The email has already been taken."]}


def test_keeping_own_email_in_other_case_is_allowed(sandbox: Sandbox) -> None:
    response = client(sandbox).put("/users/2", json={**JONAS, "email": "Jonas.Berg@example.org"})

    assert response.status_code == 200
    assert response.json()["email"] == "Jonas.Berg@example.org"


def test_unknown_user_is_404_with_laravel_model_message(sandbox: Sandbox) -> None:
    for response in (
        client(sandbox).get("/users/123"),
        client(sandbox).put("/users/123", json=JONAS),
    ):
        assert response.status_code == 404
        assert response.json() == {"message": "No query results for model [App\\Models\\User] 123"}


def test_each_put_gets_a_distinct_later_updated_at_under_a_frozen_clock(sandbox: Sandbox) -> None:
    api = client(sandbox)
    first = api.put("/users/2", json=JONAS).json()["updated_at"]
    second = api.put("/users/2", json=JONAS).json()["updated_at"]
    other = api.put("/users/3", json={**JONAS, "email": "aiko@example.org"}).json()["updated_at"]

    assert (first, second, other) == (
        "2026-03-01T12:00:00.000000Z",
        "2026-03-01T12:00:00.000001Z",
        "2026-03-01T12:00:00.000002Z",
    )


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_unknown_key_is_401(sandbox: Sandbox, key: str | None) -> None:
    response = client(sandbox, key).get("/users/2")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


def test_non_bearer_authorization_is_401(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.base_url}/users/2", headers={"Authorization": MANAGER})

    assert response.status_code == 401


def test_member_key_may_read_and_update_only_itself(sandbox: Sandbox) -> None:
    member = client(sandbox, MEMBER)

    assert member.get("/users/2").status_code == 200
    assert member.put("/users/2", json={**JONAS, "telephone": "1"}).status_code == 200
    for response in (member.get("/users/3"), member.put("/users/3", json=JONAS)):
        assert response.status_code == 403
        assert response.json() == {"message": "This action is unauthorized."}
    assert sandbox.state()["users"][2]["email"] == "Aiko.Tanaka@Example.org"


def test_unsupported_version_is_400_before_auth(sandbox: Sandbox) -> None:
    response = client(sandbox, None, **{"X-Api-Version": "2025-01-01"}).get("/users/2")

    assert response.status_code == 400
    assert response.json() == {
        "message": "Unsupported API version.",
        "supported_versions": ["2026-02-01", "2026-03-25", "2026-08-25"],
    }


def test_api_version_header_alias_is_honoured(sandbox: Sandbox) -> None:
    response = client(sandbox, **{"Api-Version": "1999-01-01"}).get("/users/2")

    assert response.status_code == 400


def test_default_version_is_2026_08_25_and_says_it_is_the_default(sandbox: Sandbox) -> None:
    response = client(sandbox).get("/users/2")

    assert response.headers["X-Api-Version"] == "2026-08-25"
    assert response.headers["X-Api-Version-Source"] == "default"
    assert "X-Api-Version-Warning" not in response.headers
    assert "Sunset" not in response.headers


@pytest.mark.parametrize("name", ["X-Api-Version", "Api-Version"])
def test_a_version_asked_for_is_served_and_says_it_came_from_the_header(
    sandbox: Sandbox, name: str
) -> None:
    response = client(sandbox, **{name: "2026-03-25"}).get("/users/2")

    assert response.headers["X-Api-Version"] == "2026-03-25"
    assert response.headers["X-Api-Version-Source"] == "header"


def test_deprecated_version_carries_warning_and_sunset(sandbox: Sandbox) -> None:
    response = client(sandbox, **{"X-Api-Version": "2026-02-01"}).get("/users/2")

    assert response.status_code == 200
    assert "deprecated" in response.headers["X-Api-Version-Warning"]
    assert response.headers["Sunset"] == "Wed, 01 Jul 2026 00:00:00 GMT"


def test_unknown_route_and_wrong_method_answer_like_laravel(sandbox: Sandbox) -> None:
    api = client(sandbox)

    assert api.get("/users").json() == {"message": "The route api/users could not be found."}
    response = api.delete("/users/2")
    assert response.status_code == 405
    assert response.json()["message"].endswith("Supported methods: GET, PUT.")


def test_keep_alive_connection_serves_many_requests(sandbox: Sandbox) -> None:
    with client(sandbox) as api:
        statuses = [api.get("/users/2").status_code for _ in range(20)]

    assert statuses == [200] * 20
    assert len(sandbox.requests()) == 20
