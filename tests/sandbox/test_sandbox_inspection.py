"""Seeds, the state and request log endpoints, and the sandbox's lifecycle."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from communal_sync.errors import ConfigError, InputError
from communal_sync.sandbox import (
    DEFAULT_MANAGER_KEY,
    Sandbox,
    build_sandbox,
    load_seed,
    parse_seed,
    serve_forever,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "sandbox"
SEED = DATA / "organization.json"
MANAGER = "manager-key-0001"
MEMBER = "member-key-0002"
JONAS = {"first_name": "Jonas", "last_name": "Berg", "email": "jonas.berg@example.org"}


def test_state_round_trips_as_a_seed() -> None:
    with Sandbox(load_seed(SEED)) as sandbox:
        headers = {"Authorization": f"Bearer {MANAGER}"}
        with httpx.Client(base_url=sandbox.base_url, headers=headers) as api:
            api.put("/users/2", json={**JONAS, "profile_city": None, "telephone": "1"})
            api.post(
                "/custom_profile_field_values",
                json={"user_id": 1, "custom_profile_field_id": 1, "value": "XS"},
            )
        state = httpx.get(f"{sandbox.root_url}/_sandbox/state").json()

    assert state == sandbox.state()
    assert state["users"][1]["telephone"] == "1"
    assert state["users"][1]["profile_city"] is None
    with Sandbox(parse_seed(state)) as again:
        assert again.state() == state
        assert again.manager_key == MANAGER


def test_seed_defaults_fill_timestamps_and_signup_contacts() -> None:
    state = Sandbox(load_seed(SEED)).state()

    assert state["users"][0]["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert state["users"][0]["name"] == "Mara Okafor"
    assert state["program_signups"][0]["associated_email"] == "jonas.berg@example.org"
    assert state["program_signups"][0]["associated_name"] == "Jonas Berg"


def test_seed_without_api_keys_has_the_default_manager_key() -> None:
    with Sandbox({"users": []}) as sandbox:
        response = httpx.get(
            f"{sandbox.base_url}/custom_profile_fields",
            headers={"Authorization": f"Bearer {DEFAULT_MANAGER_KEY}"},
        )

    assert sandbox.manager_key == "sandbox-manager-key"
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("duplicate_email.json", "email (case-insensitive) 'x@example.org' appears more than once"),
        ("broken.json", "the seed is not valid JSON"),
        ("unknown_field.json", "users.0.favourite_colour: Extra inputs are not permitted"),
        ("absent.json", "cannot read the seed file"),
    ],
)
def test_bad_seed_file_is_an_input_error_naming_file_and_problem(name: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        load_seed(DATA / name)

    assert caught.value.file == str(DATA / name)
    assert problem in str(caught.value)
    assert str(caught.value).startswith(str(DATA / name))


def test_seed_with_dangling_reference_is_an_input_error() -> None:
    seed = {"api_keys": [{"key": "k", "user_id": 9}], "users": []}

    with pytest.raises(InputError, match="member key"):
        Sandbox({"api_keys": [{"key": "k"}]})
    with pytest.raises(InputError, match="no such user"):
        Sandbox({**seed, "api_keys": [{"key": "k", "user_id": 9, "manager": True}]})


def test_request_log_has_bodies_of_writes_but_never_the_key() -> None:
    with Sandbox(load_seed(SEED)) as sandbox:
        headers = {"Authorization": f"Bearer {MEMBER}", "X-Api-Version": "2026-03-25"}
        with httpx.Client(base_url=sandbox.base_url, headers=headers) as api:
            api.get("/program_signups", params={"filter[query]": "berg"})
            api.put("/users/2", json={**JONAS, "telephone": "2"})
            api.put("/users/2", content=b"{not json", headers={"Content-Type": "application/json"})
        log = httpx.get(f"{sandbox.root_url}/_sandbox/requests").json()
        cleared = httpx.delete(f"{sandbox.root_url}/_sandbox/requests").json()
        after = httpx.get(f"{sandbox.root_url}/_sandbox/requests").json()

    assert log == [
        {
            "method": "GET",
            "path": "/api/program_signups?filter%5Bquery%5D=berg",
            "status": 200,
            "fault": None,
            "api_version": "2026-03-25",
        },
        {
            "method": "PUT",
            "path": "/api/users/2",
            "status": 200,
            "fault": None,
            "api_version": "2026-03-25",
            "body": {**JONAS, "telephone": "2"},
        },
        {
            "method": "PUT",
            "path": "/api/users/2",
            "status": 422,
            "fault": None,
            "api_version": "2026-03-25",
            "body": "{not json",
        },
    ]
    assert MEMBER not in json.dumps(log)
    assert cleared["cleared"] == 3
    assert after == []


def test_control_endpoints_need_no_key_and_unknown_ones_are_404() -> None:
    with Sandbox() as sandbox:
        unknown = httpx.get(f"{sandbox.root_url}/_sandbox/nothing")
        outside = httpx.get(f"{sandbox.root_url}/elsewhere")

    assert unknown.status_code == 404
    assert outside.status_code == 404


def test_stop_closes_keep_alive_connections() -> None:
    sandbox = Sandbox()
    sandbox.start()
    with httpx.Client(headers={"Authorization": f"Bearer {DEFAULT_MANAGER_KEY}"}) as api:
        url = f"{sandbox.base_url}/custom_profile_fields"
        assert api.get(url).status_code == 200
        sandbox.stop()
        with pytest.raises(httpx.TransportError):
            api.get(url)


def test_base_url_before_start_says_to_start() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = Sandbox().base_url


def test_serve_forever_reports_address_and_key_then_stops() -> None:
    stop = threading.Event()
    ready: list[tuple[str, str]] = []
    reached = threading.Event()
    sandbox = build_sandbox(seed=SEED, latency_ms=0, fault_seed=1)

    def on_ready(base_url: str, key: str) -> None:
        ready.append((base_url, key))
        reached.set()

    thread = threading.Thread(target=serve_forever, args=(sandbox, on_ready), kwargs={"stop": stop})
    thread.start()
    assert reached.wait(5)
    base_url, key = ready[0]
    response = httpx.get(f"{base_url}/users/1", headers={"Authorization": f"Bearer {key}"})
    stop.set()
    thread.join(5)

    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api")
    assert key == MANAGER
    assert response.json()["name"] == "Mara Okafor"
    assert not thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/users/1")


def test_build_sandbox_rejects_bad_fault_options() -> None:
    with pytest.raises(ConfigError, match="drop_rate"):
        build_sandbox(drop_rate=2.0)


def test_concurrent_writes_are_all_applied_with_distinct_timestamps() -> None:
    seed = {
        "users": [
            {"id": i, "first_name": "P", "last_name": str(i), "email": f"p{i}@example.org"}
            for i in range(1, 9)
        ]
    }

    def update(user_id: int) -> list[str]:
        stamps = []
        with httpx.Client(headers={"Authorization": f"Bearer {DEFAULT_MANAGER_KEY}"}) as api:
            for n in range(10):
                body = {
                    "first_name": "P",
                    "last_name": str(user_id),
                    "email": f"p{user_id}@example.org",
                }
                body["telephone"] = f"{user_id}-{n}"
                response = api.put(f"{sandbox.base_url}/users/{user_id}", json=body)
                stamps.append(response.json()["updated_at"])
        return stamps

    with Sandbox(seed) as sandbox, ThreadPoolExecutor(max_workers=8) as pool:
        stamps = [stamp for batch in pool.map(update, range(1, 9)) for stamp in batch]

    assert len(set(stamps)) == 80
    assert [user["telephone"] for user in sandbox.state()["users"]] == [
        f"{i}-9" for i in range(1, 9)
    ]
    assert len(sandbox.requests()) == 80
