"""The schedule of a run's PUTs: each sent only once the address it takes is free."""

from __future__ import annotations

from communal_sync.applying.email_steps import Schedule, Step
from communal_sync.plan import FieldChange, Outcome, UserPlan
from communal_sync.planning.email_order import order_email_changes


def mover(user_id: int, old: str, new: str) -> UserPlan:
    """A user whose PUT changes only the email, from ``old`` to ``new``."""
    return UserPlan(
        user_id=user_id,
        line=user_id - 99,
        matched_by="id",
        name=f"User {user_id}",
        changes=(FieldChange(field="email", before=old, after=new, provenance="live"),),
        body={"first_name": "F", "last_name": "L", "email": new},
        source_hash=None,
    )


def landed(user: UserPlan) -> Outcome:
    return Outcome(user_id=user.user_id, line=user.line, status="applied")


def failed(user: UserPlan) -> Outcome:
    return Outcome(user_id=user.user_id, line=user.line, status="failed", message="no")


def test_the_schedule_releases_each_step_only_once_its_address_is_freed() -> None:
    users, _ = order_email_changes(
        [mover(101, "a@x.org", "b@x.org"), mover(102, "b@x.org", "a@x.org")], break_cycles=True
    )
    amara, bruno = users
    schedule = Schedule.of(users)

    first = schedule.take()
    assert first == Step(amara, "temporary") and schedule.take() is None
    assert schedule.finished(first, landed(amara)) == []
    second = schedule.take()
    assert second == Step(bruno) and schedule.take() is None
    assert schedule.finished(second, landed(bruno)) == []
    assert schedule.take() == Step(amara) and schedule.left == 0


def test_a_failed_step_holds_everyone_down_its_chain() -> None:
    users, _ = order_email_changes(
        [
            mover(101, "a@x.org", "b@x.org"),
            mover(102, "b@x.org", "c@x.org"),
            mover(103, "c@x.org", "new@x.org"),
        ],
        break_cycles=False,
    )
    schedule = Schedule.of(users)
    step = schedule.take()
    assert step == Step(users[2])

    held = schedule.finished(step, failed(users[2]))

    assert [(o.user_id, o.status) for o in held] == [(102, "failed"), (101, "failed")]
    assert held[0].message is not None
    assert held[0].message.startswith(
        "Not sent: the new email is still user 103's, and user 103's change failed"
    )
    assert schedule.take() is None and schedule.left == 0


def test_an_unbroken_cycle_in_a_saved_plan_is_held_instead_of_waiting_forever() -> None:
    users = [
        mover(101, "a@x.org", "b@x.org").model_copy(update={"email_after": 102}),
        mover(102, "b@x.org", "a@x.org").model_copy(update={"email_after": 101}),
    ]
    schedule = Schedule.of(users)
    assert schedule.take() is None

    held = schedule.stalled()

    assert sorted(o.user_id for o in held) == [101, 102]
    assert schedule.left == 0
