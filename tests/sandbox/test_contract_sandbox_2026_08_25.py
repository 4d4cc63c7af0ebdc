"""The sandbox's 2026-08-25 answers against schemas written from the version's notes.

The 2026-08-25 OpenAPI document is not available; ``support.schemas_2026_08_25`` holds
schemas written from the engineer's notes, each citing its pointer into the document.
Every new or changed endpoint is called into every status the sandbox gives it, and each
answer is checked against the schema of that status.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.schemas_2026_08_25 import POINTERS, SCHEMAS, validate

from communal_sync.sandbox import Sandbox

MANAGER = "sandbox-manager-key"
MEMBER = "sandbox-member-key"
NEW = {"X-Api-Version": "2026-08-25"}
JONAS = {"first_name": "Jonas", "last_name": "Berg", "email": "jonas.berg@example.org"}


@pytest.fixture
def seen(demo_seed: dict[str, Any]) -> Iterator[list[httpx.Response]]:
    responses: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        responses.append(response)

    with Sandbox(demo_seed) as sandbox:
        clients = [
            httpx.Client(
                base_url=sandbox.base_url,
                headers={**NEW, **({"Authorization": f"Bearer {key}"} if key else {})},
                event_hooks={"response": [record]},
            )
            for key in (MANAGER, MEMBER, None)
        ]
        with clients[0] as manager, clients[1] as member, clients[2] as anonymous:
            exercise(manager, member, anonymous)
        yield responses


def exercise(manager: httpx.Client, member: httpx.Client, anonymous: httpx.Client) -> None:
    """Every new or changed endpoint, into every status the sandbox can give it."""
    manager.get("/user_memberships", params={"page[size]": 500})
    manager.get("/user_memberships", params={"page[number]": 3, "page[size]": 10})
    manager.get("/user_memberships", params={"filter[expired]": 1, "filter[user_id]": 101})
    manager.get("/user_memberships", params={"page[size]": 501})
    member.get("/user_memberships")
    member.get("/user_memberships", params={"filter[user_id]": 101})
    anonymous.get("/user_memberships")
    manager.get("/user_memberships/2")
    manager.get("/user_memberships/999")
    member.get("/user_memberships/2")
    anonymous.get("/user_memberships/2")
    manager.get("/transactions", params={"filter[query]": "costa"})
    manager.get("/transactions", params={"page[number]": 4, "page[size]": 1})
    manager.get("/transactions", params={"filter[user_id]": "x"})
    anonymous.get("/transactions")
    manager.get("/transactions/9001")
    manager.get("/transactions/1")
    manager.get("/users/101")
    manager.get("/users/118")
    manager.put("/users/110", json=JONAS)
    manager.get("/program_signups", params={"include": "user"})
    manager.get("/program_signups", params={"filter[signup_status]": "cancelled"})
    manager.get("/program_signups", params={"filter[signup_status]": "gone"})


def schema_for(response: httpx.Response) -> str:
    """Which schema an answer must fit, by endpoint and status."""
    path = response.request.url.path.removeprefix("/api")
    status = response.status_code
    if status == 422:
        return "ValidationException"
    if status in (401, 403, 404):
        return "MessageOnly"
    if path == "/user_memberships":
        return "UserMembershipPage"
    if path.startswith("/user_memberships/"):
        return "UserMembershipResource"
    if path == "/transactions":
        return "TransactionPage"
    if path.startswith("/transactions/"):
        return "TransactionShow"
    if path.startswith("/users/"):
        return "User" if response.request.method == "PUT" else "UserResource"
    return "ProgramSignupPage"


def without_embedded_users(body: Any) -> Any:
    """A signup page with ``include=user`` objects taken out (the document types the
    relation as a string; the embedded user is checked as a ``UserResource``)."""
    items = body.get("data") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item.get("user"), dict):
            validate("UserResource", item.pop("user"))
    return body


def test_every_new_answer_fits_the_schema_written_from_the_notes(
    seen: list[httpx.Response],
) -> None:
    checked: dict[str, set[int]] = {}
    for response in seen:
        name = schema_for(response)
        validate(name, without_embedded_users(response.json()))
        checked.setdefault(name, set()).add(response.status_code)

    assert checked == {
        "UserMembershipPage": {200},
        "UserMembershipResource": {200},
        "TransactionPage": {200},
        "TransactionShow": {200},
        "UserResource": {200},
        "User": {200},
        "ProgramSignupPage": {200},
        "ValidationException": {422},
        "MessageOnly": {401, 403, 404},
    }


def test_every_schema_cites_where_in_the_document_it_came_from() -> None:
    for name in SCHEMAS:
        assert POINTERS[name].startswith("/"), name


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("UserMembershipResource", {"id": 1, "status": "active"}),
        ("UserResource", {"id": 1, "name": "A", "email": "a@b.c", "date_of_birth": None}),
        ("TransactionResource", {"owner": {"id": 1, "user_id": 2, "email": None}}),
        ("UserMembershipPage", {"data": [], "current_page": 1}),
    ],
)
def test_the_schemas_refuse_what_the_notes_rule_out(name: str, bad: Any) -> None:
    with pytest.raises(Exception, match=r"required|is not of type"):
        validate(name, bad)


def test_a_page_with_links_or_meta_does_not_fit_the_envelope() -> None:
    page = {
        "data": [],
        "current_page": 1,
        "from": None,
        "last_page": 1,
        "per_page": 500,
        "to": None,
        "total": 0,
    }
    validate("UserMembershipPage", page)
    with pytest.raises(Exception, match="should not be valid"):
        validate("UserMembershipPage", {**page, "links": {}})
