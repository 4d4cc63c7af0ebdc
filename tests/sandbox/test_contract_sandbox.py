"""Every sandbox response the spec documents is checked against the 2026-03-25 document.

Statuses the document does not list for an operation (404 on ``PUT /users/{user}``, 400
for an unsupported version, 405, 429, 5xx) are checked for their Laravel shape instead.
Relations embedded with ``include=`` are objects, which the document types as strings
(see ``communal_sync.sandbox.resources``); they are checked as the resource the document
defines for them and removed before the envelope is validated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_schema_validator import OAS31Validator
from support.openapi import load_openapi, spec_path, validate_httpx_response

from communal_sync.sandbox import Sandbox, load_seed

SEED = Path(__file__).resolve().parent.parent / "data" / "sandbox" / "organization.json"
MANAGER = "manager-key-0001"
MEMBER = "member-key-0002"
VERSION = {"X-Api-Version": "2026-03-25"}
"""The document these tests check against is 2026-03-25's; the sandbox's default is newer."""
JONAS = {"first_name": "Jonas", "last_name": "Berg", "email": "jonas.berg@example.org"}
UNDOCUMENTED = {
    ("PUT", "/users/{user}", 404),
    ("GET", "/program_signups", 403),
    ("GET", "/program_signups", 422),
}


@pytest.fixture
def exchanges() -> Iterator[tuple[Sandbox, list[httpx.Response]]]:
    load_openapi()  # skip early, with the reason, when the spec is absent
    seen: list[httpx.Response] = []
    with Sandbox(load_seed(SEED)) as sandbox:
        yield sandbox, seen


def clients(sandbox: Sandbox, seen: list[httpx.Response]) -> tuple[httpx.Client, ...]:
    def record(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    return tuple(
        httpx.Client(
            base_url=sandbox.base_url,
            headers={**VERSION, **({"Authorization": f"Bearer {key}"} if key else {})},
            event_hooks={"response": [record]},
        )
        for key in (MANAGER, MEMBER, None)
    )


def exercise(manager: httpx.Client, member: httpx.Client, anonymous: httpx.Client) -> None:
    """Call every endpoint into every status the sandbox can give it."""
    values = "/custom_profile_field_values"
    manager.get("/users/2")
    manager.get("/users/1")
    manager.get("/users/999")
    member.get("/users/3")
    anonymous.get("/users/2")
    manager.put("/users/2", json={**JONAS, "profile_country": "CA", "date_of_birth": "1990-01-02"})
    manager.put("/users/2", json={**JONAS, "middle_name": None, "telephone": None})
    manager.put("/users/2", json={"email": "nope"})
    manager.put("/users/999", json=JONAS)
    member.put("/users/3", json=JONAS)
    anonymous.put("/users/2", json=JONAS)
    manager.get("/custom_profile_fields")
    manager.get("/custom_profile_fields", params={"include": "values", "page": 2})
    anonymous.get("/custom_profile_fields")
    manager.get(values)
    manager.get(values, params={"filter[user_id]": 2, "include": "customProfileField"})
    manager.get(values, params={"filter[user_id]": "x"})
    member.get(values, params={"filter[user_id]": 3})
    anonymous.get(values)
    manager.post(values, json={"user_id": 3, "custom_profile_field_id": 1, "value": "L"})
    manager.post(values, json={"user_id": 3, "custom_profile_field_id": 1, "value": ""})
    manager.post(values, json={"user_id": 99, "custom_profile_field_id": 1, "value": "L"})
    manager.post(values, json={"user_id": 2, "custom_profile_field_id": 2, "value": "L"})
    anonymous.post(values, json={"user_id": 2, "custom_profile_field_id": 1, "value": "L"})
    manager.put(f"{values}/10", json={"user_id": 2, "custom_profile_field_id": 1, "value": "S"})
    manager.put(f"{values}/10", json={"user_id": 2, "custom_profile_field_id": 1, "value": None})
    manager.put(f"{values}/10", json={"user_id": 2, "custom_profile_field_id": 1, "value": "S"})
    manager.put(f"{values}/12", json={"user_id": 2, "custom_profile_field_id": 3, "value": "S"})
    member.put(f"{values}/12", json={"user_id": 3, "custom_profile_field_id": 3, "value": "S"})
    anonymous.put(f"{values}/12", json={"user_id": 3, "custom_profile_field_id": 3, "value": "S"})
    manager.get("/program_signups")
    manager.get("/program_signups", params={"filter[query]": "tanaka", "include": "user"})
    manager.get("/program_signups", params={"filter[withTrashed]": "true", "page": 5})
    member.get("/program_signups")
    anonymous.get("/program_signups")


def without_relations(response: httpx.Response) -> httpx.Response:
    """The response with include=-embedded relation objects taken out of each item."""
    body = response.json()
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return response
    for item in items:
        for relation in ("user", "custom_profile_field"):
            if isinstance(item.get(relation), dict):
                item.pop(relation)
    stripped = httpx.Response(
        response.status_code,
        headers={"Content-Type": response.headers["Content-Type"]},
        content=json.dumps(body).encode(),
        request=response.request,
    )
    stripped.read()
    return stripped


def validate_schema(component: str, instance: Any) -> None:
    """Validate ``instance`` against ``#/components/schemas/<component>`` of the spec."""
    document = json.loads(spec_path().read_text(encoding="utf-8"))
    schema = {**document["components"]["schemas"][component], "components": document["components"]}
    OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER).validate(instance)


def operation_of(response: httpx.Response) -> tuple[str, str]:
    path = response.request.url.path.removeprefix("/api")
    for template, pattern in (
        ("/users/{user}", "/users/"),
        ("/custom_profile_field_values/{id}", "/custom_profile_field_values/"),
    ):
        if path.startswith(pattern):
            return response.request.method, template
    return response.request.method, path


def test_every_sandbox_response_matches_the_spec(
    exchanges: tuple[Sandbox, list[httpx.Response]],
) -> None:
    sandbox, seen = exchanges
    manager, member, anonymous = clients(sandbox, seen)
    with manager, member, anonymous:
        exercise(manager, member, anonymous)

    statuses = set()
    for response in seen:
        method, template = operation_of(response)
        statuses.add((method, template, response.status_code))
        if (method, template, response.status_code) in UNDOCUMENTED:
            assert isinstance(response.json()["message"], str)
            continue
        validate_httpx_response(
            response.request, without_relations(response), base_url=sandbox.base_url
        )
    assert {status for *_, status in statuses} == {200, 401, 403, 404, 422}


def test_embedded_relations_match_their_own_schemas(
    exchanges: tuple[Sandbox, list[httpx.Response]],
) -> None:
    sandbox, _ = exchanges
    headers = {"Authorization": f"Bearer {MANAGER}", **VERSION}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as api:
        signups = api.get("/program_signups", params={"include": "user"}).json()["data"]
        values = api.get(
            "/custom_profile_field_values", params={"include": "customProfileField"}
        ).json()["data"]
        fields = api.get("/custom_profile_fields", params={"include": "values"}).json()["data"]

    for signup in signups:
        validate_schema("UserResource", signup["user"])
    for value in values:
        validate_schema("CustomProfileFieldResource", value["custom_profile_field"])
    for field in fields:
        validate_schema("CustomProfileFieldResource", field)


def test_undocumented_errors_keep_laravel_shapes(
    exchanges: tuple[Sandbox, list[httpx.Response]],
) -> None:
    sandbox, _ = exchanges
    with httpx.Client(base_url=sandbox.base_url) as api:
        version = api.get("/users/1", headers={"X-Api-Version": "2020-01-01"})
        method = api.delete("/users/1")

    assert version.status_code == 400
    assert set(version.json()) == {"message", "supported_versions"}
    assert method.status_code == 405
    assert set(method.json()) == {"message"}
