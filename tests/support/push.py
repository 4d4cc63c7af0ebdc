"""Shared helpers for the push/apply/revert tests: seeds, exports and exact expected states.

The expected state of a test is always computed the same way: take the sandbox's users
before the push, apply the changes the export means to make (``name`` follows first and
last name, dates of birth are stored as midnight UTC), and compare every field of every
user except the timestamps the sandbox moves on each write.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from communal_sync.sandbox import Sandbox

DATA = Path(__file__).resolve().parent.parent / "data" / "push"
EXPORT = DATA / "export.csv"
"""Against the demo organization: updates, an unchanged row, an invalid row, blank cells."""

MANAGER_KEY = "sandbox-manager-key"
MEMBER_KEY = "sandbox-member-key"
MOVING_FIELDS = frozenset({"updated_at"})
"""Fields the sandbox sets itself on every write; never part of an expected state."""

Users = dict[int, dict[str, Any]]

EXPORT_CHANGES: dict[int, dict[str, Any]] = {
    101: {"telephone": "+1 416 555 0199"},
    103: {"preferred_name": "CJ"},
    104: {
        "last_name": "Whitfield-Boyd",
        "name": "Dana Whitfield-Boyd",
        "date_of_birth": "1990-05-17T00:00:00.000000Z",
    },
    110: {"preferred_name": "Jo"},
}
"""What ``export.csv`` changes by default: 102 and 109 are unchanged, 105 is invalid, and
the blank telephones of 103 and 110 and the blank middle name of 109 clear nothing."""

EXPORT_CLEARS: dict[int, dict[str, Any]] = {109: {"middle_name": None}}
"""What ``--allow-clear middle_name`` adds: 109's blank middle name clears ``Lucía``."""

EXPORT_UPDATED = len(EXPORT_CHANGES)
EXPORT_UNCHANGED = 2  # 102 (only cosmetic differences) and 109
EXPORT_INVALID_LINE = 6  # 105, whose email has no domain


def users_of(sandbox: Sandbox) -> Users:
    """The sandbox's users by id, without the timestamps it moves on each write."""
    return {
        user["id"]: {k: v for k, v in user.items() if k not in MOVING_FIELDS}
        for user in sandbox.state()["users"]
    }


def expected_users(before: Users, *changes: Mapping[int, Mapping[str, Any]]) -> Users:
    """``before`` with each change set applied in order (a later one wins)."""
    expected = {user_id: dict(fields) for user_id, fields in before.items()}
    for change in changes:
        for user_id, fields in change.items():
            expected[user_id].update(fields)
    return expected


def assert_users_equal(actual: Users, expected: Users) -> None:
    """Every user, every field: list each difference, so a failure says exactly what."""
    assert sorted(actual) == sorted(expected), "a user appeared or disappeared"
    differences = [
        (user_id, name, actual[user_id].get(name), expected[user_id].get(name))
        for user_id in sorted(expected)
        for name in sorted(set(actual[user_id]) | set(expected[user_id]))
        if actual[user_id].get(name) != expected[user_id].get(name)
    ]
    assert differences == [], "(user, field, actual, expected)"


def request_counts(sandbox: Sandbox) -> Counter[str]:
    """How many API requests of each method the sandbox has served (faulted ones too)."""
    return Counter(entry["method"] for entry in sandbox.requests())


def puts_by_user(sandbox: Sandbox) -> Counter[int]:
    """How many PUTs reached each user id (including ones a fault answered)."""
    return Counter(
        int(entry["path"].rsplit("/", 1)[1])
        for entry in sandbox.requests()
        if entry["method"] == "PUT"
    )


# --- a larger organization, for faults and kills ------------------------------------------

BIG_FIRST_ID = 1001


def big_seed(count: int) -> dict[str, Any]:
    """An organization of ``count`` members (ids from 1001) plus the manager and a member key."""
    users: list[dict[str, Any]] = [
        {"id": 1, "first_name": "Sam", "last_name": "Admin", "email": "admin@example.org"}
    ]
    for n in range(count):
        users.append(
            {
                "id": BIG_FIRST_ID + n,
                "first_name": f"Member{n}",
                "last_name": f"Before{n}",
                "email": f"member{n}@example.org",
                "telephone": f"+1 416 555 {1000 + n:04d}",
            }
        )
    return {
        "api_keys": [
            {"key": MANAGER_KEY, "user_id": 1, "manager": True},
            {"key": MEMBER_KEY, "user_id": BIG_FIRST_ID, "manager": False},
        ],
        "users": users,
    }


def big_changes(count: int, *, unchanged_every: int = 6) -> dict[int, dict[str, Any]]:
    """What ``write_big_export`` changes: every member's last name but every 6th member's."""
    return {
        BIG_FIRST_ID + n: {"last_name": f"After{n}", "name": f"Member{n} After{n}"}
        for n in range(count)
        if n % unchanged_every
    }


def write_big_export(path: Path, count: int, *, unchanged_every: int = 6) -> Path:
    """Write the export for ``big_seed(count)``: an id column and the member's profile."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email", "telephone"])
        for n in range(count):
            last = f"Before{n}" if n % unchanged_every == 0 else f"After{n}"
            writer.writerow(
                [
                    BIG_FIRST_ID + n,
                    f"Member{n}",
                    last,
                    f"member{n}@example.org",
                    f"+1 416 555 {1000 + n:04d}",
                ]
            )
    return path


def env_for(sandbox: Sandbox, state: Path, *, key: str = MANAGER_KEY) -> dict[str, str]:
    """Environment for a CLI run against ``sandbox`` with ``key`` and the state at ``state``."""
    return {
        "COMMUNAL_BASE_URL": sandbox.base_url,
        "COMMUNAL_API_KEY": key,
        "COMMUNAL_SYNC_STATE": str(state),
    }


def edit_in_communal(sandbox: Sandbox, user_id: int, **changes: str | None) -> None:
    """Change a user the way someone in Communal would: a PUT straight to the sandbox."""
    current = next(u for u in sandbox.state()["users"] if u["id"] == user_id)
    body = {k: current[k] for k in ("first_name", "last_name", "email")} | changes
    response = httpx.put(
        f"{sandbox.base_url}/users/{user_id}",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.manager_key}", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
