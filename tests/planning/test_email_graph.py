"""The order of email changes, pure: chains, cycles, temporary addresses."""

from __future__ import annotations

from communal_sync.applying.email_steps import temporary_body
from communal_sync.plan import FieldChange, UserPlan
from communal_sync.planning.email_order import (
    email_cycles,
    order_email_changes,
    temporary_address,
)


def mover(user_id: int, old: str, new: str, *, line: int | None = None) -> UserPlan:
    """A user whose PUT changes only the email, from ``old`` to ``new``."""
    return UserPlan(
        user_id=user_id,
        line=line or user_id - 99,
        matched_by="id",
        name=f"User {user_id}",
        changes=(FieldChange(field="email", before=old, after=new, provenance="live"),),
        body={"first_name": f"First{user_id}", "last_name": f"Last{user_id}", "email": new},
        source_hash=None,
    )


def after_of(users: list[UserPlan]) -> dict[int, int | None]:
    return {u.user_id: u.email_after for u in users}


def test_a_chain_is_ordered_from_its_end_and_changes_nobody_else() -> None:
    users = [
        mover(101, "a@x.org", "b@x.org"),
        mover(102, "b@x.org", "c@x.org"),
        mover(103, "c@x.org", "new@x.org"),
        mover(104, "d@x.org", "other@x.org"),
    ]

    ordered, issues = order_email_changes(users, break_cycles=False)

    assert issues == []
    assert after_of(ordered) == {101: 102, 102: 103, 103: None, 104: None}
    assert [c.note for c in ordered[0].changes] == ["after user 102 moves off it"]
    assert ordered[2] == users[2] and ordered[3] == users[3]


def test_addresses_are_compared_as_keys_case_and_spaces_aside() -> None:
    users = [mover(101, "a@x.org", "B@X.org"), mover(102, "b@x.org", "new@x.org")]

    ordered, _ = order_email_changes(users, break_cycles=False)

    assert after_of(ordered) == {101: 102, 102: None}


def test_a_user_keeping_their_address_is_not_a_link_of_a_chain() -> None:
    """Taking the address of someone who keeps it is refused by Communal: not ordered,
    not a cycle (the duplicate check of the file reports two rows with one address)."""
    keeper = mover(102, "b@x.org", "b@x.org").model_copy(update={"changes": ()})
    users = [mover(101, "a@x.org", "b@x.org"), keeper]

    ordered, issues = order_email_changes(users, break_cycles=False)

    assert (after_of(ordered), issues) == ({101: None, 102: None}, [])


def test_a_swap_leaves_the_plan_as_two_cycle_issues_naming_each_other() -> None:
    users = [mover(101, "a@x.org", "b@x.org"), mover(102, "b@x.org", "a@x.org")]

    ordered, issues = order_email_changes(users, break_cycles=False)

    assert ordered == []
    assert [(i.line, i.kind, i.value) for i in issues] == [
        (2, "email_cycle", "b@x.org"),
        (3, "email_cycle", "a@x.org"),
    ]
    assert issues[0].message.startswith("User 101 (line 2) and user 102 (line 3) swap")
    assert "--break-email-cycles (user 101 moves to a+communal-sync-swap@x.org" in (
        issues[0].message
    )
    assert issues[0].quoted == ("a+communal-sync-swap@x.org",)


def test_breaking_a_cycle_starts_at_its_lowest_id_through_a_temporary_address() -> None:
    users = [
        mover(103, "c@x.org", "a@x.org"),
        mover(101, "a@x.org", "b@x.org"),
        mover(102, "b@x.org", "c@x.org"),
    ]

    ordered, issues = order_email_changes(users, break_cycles=True)

    assert issues == []
    assert after_of(ordered) == {103: 101, 101: 102, 102: 103}
    assert {u.user_id: u.temporary_email for u in ordered} == {
        103: None,
        101: "a+communal-sync-swap@x.org",
        102: None,
    }
    assert temporary_body(ordered[1]) == {
        "first_name": "First101",
        "last_name": "Last101",
        "email": "a+communal-sync-swap@x.org",
    }


def test_cycles_are_found_once_each_from_their_lowest_id() -> None:
    after = {5: 7, 7: 5, 1: 2, 2: 3, 3: 1, 9: 5, 10: 11}

    assert email_cycles(after) == [(1, 2, 3), (5, 7)]


def test_a_temporary_address_too_long_for_the_api_falls_back_to_a_short_one() -> None:
    long_local = "x" * 240

    assert temporary_address(f"{long_local}@x.org", 7) == "communal-sync-swap-7@x.org"
