"""Building the identity map from Communal's memberships, against a real sandbox.

The client and the state are the real ones; pages hold 10 memberships here (500 in the
CLI) so a small organization spans several pages. Every test counts the requests the
sandbox received: the point of the design is to read each page and each member once, and
later only what changed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from communal_sync.api.client import CommunalClient
from communal_sync.errors import Unauthenticated, UnexpectedResponse
from communal_sync.identity.from_communal import (
    Progress,
    RosterResult,
    link_from_communal,
)
from communal_sync.sandbox import Sandbox
from communal_sync.state import StateStore, open_state

KEY = "sandbox-manager-key"
PAGE = 10
OLD = "2025-01-01T00:00:00.000000Z"


def org(count: int, *, per_member: int = 2, **extra: Any) -> dict[str, Any]:
    """``count`` members (ids from 1001), ``per_member`` memberships each, interleaved so a
    member's memberships sit on different pages, plus one user who holds none."""
    users = [
        {"id": 1000 + n, "first_name": f"F{n}", "last_name": f"L{n}", "email": f"m{n}@example.org"}
        for n in range(1, count + 1)
    ]
    users.append({"id": 1, "first_name": "No", "last_name": "Member", "email": "no@example.org"})
    memberships = [
        {"id": round_ * count + n, "user_id": 1000 + n, "created_at": OLD}
        for round_ in range(per_member)
        for n in range(1, count + 1)
    ]
    return {"api_keys": [{"key": KEY, "manager": True}], "users": users,
            "user_memberships": memberships, **extra}  # fmt: skip


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as store:
        yield store


def run(sandbox: Sandbox, state: StateStore, **options: Any) -> RosterResult:
    with CommunalClient(KEY, base_url=sandbox.base_url) as client:
        return link_from_communal(client, state, page_size=PAGE, **options)


def requests(sandbox: Sandbox) -> Counter[str]:
    """Requests by kind: ``page N`` for a membership page, ``user N`` for a user read."""
    tally: Counter[str] = Counter()
    for entry in sandbox.requests():
        path = entry["path"]
        if path.startswith("/api/user_memberships"):
            number = path.split("page%5Bnumber%5D=")[1].split("&")[0]
            tally[f"page {number}"] += 1
        elif path.startswith("/api/users/"):
            tally[f"user {path.rsplit('/', 1)[1]}"] += 1
        else:
            tally[path] += 1
    return tally


def users_read(sandbox: Sandbox) -> list[int]:
    return sorted(int(k.split()[1]) for k in requests(sandbox) if k.startswith("user "))


def add_membership(sandbox: Sandbox, membership_id: int, user_id: int, created_at: str) -> None:
    """A membership created in Communal after the seed (the sandbox has no write for it)."""
    sandbox._store.memberships[membership_id] = {
        "id": membership_id, "user_id": user_id, "status": "active", "will_auto_renew": False,
        "ends_at": None, "renewed_at": None, "created_at": created_at,
        "membership_type": {"id": 1, "title": "Membership"}, "plan": None,
    }  # fmt: skip


# --- a first run -----------------------------------------------------------------------------


def test_a_first_run_reads_every_page_once_and_every_member_once(state: StateStore) -> None:
    with Sandbox(org(25)) as sandbox:  # 50 memberships: 5 pages
        result = run(sandbox, state, concurrency=4)

        pages = {f"page {n}": 1 for n in range(1, 6)}
        members = {f"user {1000 + n}": 1 for n in range(1, 26)}
        assert requests(sandbox) == Counter({**pages, **members})
    assert result.summary() == "25 members read, 25 mapped, 0 without email"
    assert (result.tally.pages_read, result.tally.users_read) == (5, 25)
    assert (result.interrupted, result.fatal) == (False, None)
    assert state.identity.lookup_email("M7@Example.org") == [1007]
    assert state.identity.lookup_email("no@example.org") == [], "not a member: not read"


def test_a_member_read_gets_a_first_snapshot_of_what_get_shows(state: StateStore) -> None:
    with Sandbox(org(3)) as sandbox:
        run(sandbox, state)

    snapshot = state.snapshots.get(1002)
    assert snapshot is not None
    assert (snapshot.user["email"], snapshot.user["first_name"]) == ("m2@example.org", "F2")
    assert "profile_city" not in snapshot.user, "GET shows no address"
    assert (snapshot.pushed, snapshot.source_hash, snapshot.pushed_email) == ({}, None, None)


def test_a_pushed_snapshot_is_left_as_the_push_left_it(state: StateStore) -> None:
    state.snapshots.save(
        1001, user={"id": 1001, "profile_city": "Oslo"}, pushed={"telephone": "1"}, source_hash="h"
    )
    with Sandbox(org(2)) as sandbox:
        run(sandbox, state)

    snapshot = state.snapshots.get(1001)
    assert snapshot is not None
    assert (snapshot.user, snapshot.pushed, snapshot.source_hash) == (
        {"profile_city": "Oslo"},
        {"telephone": "1"},
        "h",
    )


def test_two_users_with_one_email_are_never_mapped_by_it_and_are_listed(
    state: StateStore,
) -> None:
    seed = org(4)
    seed["users"][1].update(email="Shared@example.org", tenant_id=2)  # user 1002
    seed["users"][2].update(email="shared@example.org")  # user 1003
    seed["users"][3]["email"] = None  # user 1004
    state.identity.link(1002, email_key="shared@example.org", source="push")
    with Sandbox(seed) as sandbox:
        result = run(sandbox, state)

    assert result.summary() == (
        "4 members read, 1 mapped, 1 without email, 1 email shared by 2 users: not mapped, listed"
    )
    assert result.counts.shared == {"shared@example.org": (1002, 1003)}
    assert result.counts.without_email == (1004,)
    assert state.identity.lookup_email("shared@example.org") == [1002, 1003], "ambiguous"


def test_a_member_communal_cannot_find_is_counted_not_mapped(state: StateStore) -> None:
    with Sandbox(org(2)) as sandbox:
        add_membership(sandbox, 99, 4040, OLD)  # a membership whose user is gone
        result = run(sandbox, state)

    assert result.counts.not_found == (4040,)
    assert result.summary().endswith("1 not found")


# --- later runs ------------------------------------------------------------------------------


def test_a_second_run_with_nothing_new_reads_one_page_and_no_user(state: StateStore) -> None:
    with Sandbox(org(25)) as sandbox:
        run(sandbox, state)
        sandbox.clear_requests()

        result = run(sandbox, state)

        assert requests(sandbox) == Counter({"page 5": 1})
    assert result.activity() == "1 page and 0 users read"
    assert result.summary() == "25 members read, 25 mapped, 0 without email"


def test_a_later_run_reads_only_new_pages_new_members_and_members_who_joined_again(
    state: StateStore,
) -> None:
    seed = org(25)
    seed["users"].append({"id": 2001, "first_name": "N", "last_name": "Ew", "email": "new@x.org"})
    with Sandbox(seed) as sandbox:
        run(sandbox, state)
        sandbox.clear_requests()
        add_membership(sandbox, 51, 2001, "2030-01-01T00:00:00.000000Z")  # page 6: a new member
        add_membership(sandbox, 52, 1003, "2030-01-01T00:00:00.000000Z")  # rejoined since read
        add_membership(sandbox, 53, 1004, OLD)  # began before we read 1004: nothing to learn

        result = run(sandbox, state)

        assert requests(sandbox) == Counter(
            {"page 5": 1, "page 6": 1, "user 2001": 1, "user 1003": 1}
        )
    assert (result.tally.users_read, result.tally.refreshed) == (2, 1)
    assert state.identity.lookup_email("new@x.org") == [2001]


def test_a_membership_deleted_early_in_the_list_rereads_the_list_but_no_member(
    state: StateStore,
) -> None:
    with Sandbox(org(25)) as sandbox:
        run(sandbox, state)
        sandbox.clear_requests()
        del sandbox._store.memberships[3]

        result = run(sandbox, state)

        pages = {k: v for k, v in requests(sandbox).items() if k.startswith("page ")}
        assert users_read(sandbox) == []
    assert pages == {"page 1": 1, "page 2": 1, "page 3": 1, "page 4": 1, "page 5": 2}
    assert result.tally.reread_list
    assert result.tally.dropped == 1
    assert result.counts.memberships == 49


def test_full_refresh_reads_every_page_and_member_and_repoints_a_changed_email(
    state: StateStore,
) -> None:
    with Sandbox(org(5)) as sandbox:
        run(sandbox, state)
        sandbox._store.users[1002]["email"] = "renamed@example.org"
        sandbox.clear_requests()

        result = run(sandbox, state, full_refresh=True)

        assert users_read(sandbox) == [1001, 1002, 1003, 1004, 1005]
    assert (result.tally.pages_read, result.tally.refreshed) == (1, 5)
    assert state.identity.lookup_email("renamed@example.org") == [1002]
    assert state.identity.lookup_email("m2@example.org") == []


# --- stopping and continuing -----------------------------------------------------------------


def test_a_run_stopped_midway_continues_without_reading_a_stored_member_again(
    tmp_path: Path,
) -> None:
    stop = threading.Event()

    def stop_after_ten(progress: Progress) -> None:
        if progress.users_read >= 10:
            stop.set()

    with Sandbox(org(40)) as sandbox:  # 80 memberships: 8 pages
        with open_state(tmp_path / "state.db") as first:
            stopped = run(sandbox, first, concurrency=3, stop=stop, on_progress=stop_after_ten)
            stored = {user for user in range(1001, 1041) if first.roster.user(user) is not None}
        assert stopped.interrupted
        assert 10 <= len(stored) < 40
        first_pages = {k for k in requests(sandbox) if k.startswith("page ")}
        sandbox.clear_requests()

        with open_state(tmp_path / "state.db") as second:
            resumed = run(sandbox, second, concurrency=3)

        again = set(users_read(sandbox))
        pages = {k for k in requests(sandbox) if k.startswith("page ")}
    assert again.isdisjoint(stored), "a stored member was read again"
    assert again | stored == set(range(1001, 1041))
    assert resumed.summary() == "40 members read, 40 mapped, 0 without email"
    assert not resumed.interrupted
    assert len(pages & first_pages) <= 1, "only the probe page may be read twice"
    assert resumed.tally.continued > 0


def test_a_key_that_is_refused_stops_the_run_and_keeps_what_was_read(state: StateStore) -> None:
    with (
        Sandbox(org(3)) as sandbox,
        CommunalClient("wrong-key", base_url=sandbox.base_url) as client,
    ):
        result = link_from_communal(client, state, page_size=PAGE)

    assert isinstance(result.fatal, Unauthenticated)
    assert not result.interrupted


class NoMemberships:
    """An API that has no membership list (an older deployment)."""

    def list_user_memberships(self, page: int, *, size: int = 500) -> Any:
        from communal_sync.errors import NotFound

        raise NotFound("The API found no page 1 of the user memberships (404).", status=404)

    def get_user(self, user_id: int) -> Any:
        raise AssertionError("no member to read")


def test_an_api_without_a_membership_list_is_a_fatal_error_that_says_why(
    state: StateStore,
) -> None:
    result = link_from_communal(NoMemberships(), state)

    assert isinstance(result.fatal, UnexpectedResponse)
    assert "needs Communal API version 2026-08-25" in str(result.fatal)
