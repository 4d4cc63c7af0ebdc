"""Safety limits: a plan that breaks one is refused as a whole, with the reason."""

from __future__ import annotations

import pytest

from communal_sync.errors import ExitCode, UsageError
from communal_sync.plan import FieldChange, InputInfo, Plan, PlanOptions, Unchanged, UserPlan
from communal_sync.planning.limits import check_limits, parse_max_changes

TRIO = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.org"}


def user(user_id: int, *, clears: int = 0) -> UserPlan:
    changes = [
        FieldChange(field="telephone", before="1", after="2", provenance="live"),
        *(
            FieldChange(field=f"profile_{name}", before="x", after=None, provenance="snapshot")
            for name in ("city", "state", "zip")[:clears]
        ),
    ]
    body: dict[str, str | None] = {**TRIO, **{c.field: c.after for c in changes}}
    return UserPlan(
        user_id=user_id,
        line=user_id,
        matched_by="id",
        name="Ann Lee",
        changes=tuple(changes),
        body=body,
        source_hash="h",
    )


def make_plan(
    changed: int,
    unchanged: int = 0,
    *,
    clears: int = 0,
    max_changes: str | None = None,
    max_clears: int | None = None,
) -> Plan:
    users = [user(n + 2, clears=clears if n == 0 else 0) for n in range(changed)]
    same = [
        Unchanged(user_id=1000 + n, line=1000 + n, verified=False, source_hash="h")
        for n in range(unchanged)
    ]
    return Plan(
        tool_version="0",
        created_at="2026-03-25T00:00:00+00:00",
        base_url="https://api.getcommunal.com/api",
        input=InputInfo(name="x.csv", sha256=None, format="csv", rows=changed + unchanged),
        options=PlanOptions(max_changes=max_changes, max_clears=max_clears),
        users=tuple(users),
        unchanged=tuple(same),
    )


def test_no_valid_rows_is_refused() -> None:
    assert check_limits(make_plan(0), valid_rows=0) == (
        "The input has no valid rows, so nothing would be synchronized; "
        "check the file and its column mapping."
    )


def test_within_every_limit_is_not_refused() -> None:
    plan = make_plan(2, 2, clears=1, max_changes="2", max_clears=1)

    assert check_limits(plan, valid_rows=4) is None


def test_no_limits_set_allows_any_number_of_changes() -> None:
    assert check_limits(make_plan(50, clears=3), valid_rows=50) is None


@pytest.mark.parametrize(
    ("changed", "limit", "reason"),
    [
        (
            3,
            "2",
            "3 users would change, more than --max-changes 2. Check the export; "
            "raise the limit if this is intended.",
        ),
        (
            1,
            "0",
            "1 user would change, more than --max-changes 0. Check the export; "
            "raise the limit if this is intended.",
        ),
        (2, "2", None),
        (2, "2.5", None),
    ],
)
def test_max_changes_as_a_number_of_users(changed: int, limit: str, reason: str | None) -> None:
    plan = make_plan(changed, 10, max_changes=limit)

    assert check_limits(plan, valid_rows=changed + 10) == reason


@pytest.mark.parametrize(
    ("changed", "unchanged", "limit", "reason"),
    [
        (2, 2, "50%", None),
        (
            3,
            1,
            "50%",
            "3 users would change, more than --max-changes 50% (50% of 4 matched users). "
            "Check the export; raise the limit if this is intended.",
        ),
        (
            1,
            19,
            "2.5%",
            "1 user would change, more than --max-changes 2.5% (2.5% of 20 matched users). "
            "Check the export; raise the limit if this is intended.",
        ),
        (1, 9, "10%", None),
        (4, 0, "100%", None),
    ],
)
def test_max_changes_as_a_percentage_of_matched_users(
    changed: int, unchanged: int, limit: str, reason: str | None
) -> None:
    plan = make_plan(changed, unchanged, max_changes=limit)

    assert check_limits(plan, valid_rows=changed + unchanged) == reason


@pytest.mark.parametrize(
    ("clears", "limit", "reason"),
    [
        (2, 2, None),
        (
            3,
            2,
            "3 fields would be cleared, more than --max-clears 2. Check the export; "
            "raise the limit if this is intended.",
        ),
        (
            1,
            0,
            "1 field would be cleared, more than --max-clears 0. Check the export; "
            "raise the limit if this is intended.",
        ),
        (0, 0, None),
    ],
)
def test_max_clears(clears: int, limit: int, reason: str | None) -> None:
    plan = make_plan(1, clears=clears, max_clears=limit)

    assert plan.clears == clears
    assert check_limits(plan, valid_rows=1) == reason


def test_empty_input_is_refused_before_other_limits() -> None:
    plan = make_plan(0, max_changes="0", max_clears=0)

    assert (check_limits(plan, valid_rows=0) or "").startswith("The input has no valid rows")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("50", (50.0, False)),
        ("0", (0.0, False)),
        (" 200 ", (200.0, False)),
        ("5%", (5.0, True)),
        ("2.5 %", (2.5, True)),
        ("100%", (100.0, True)),
    ],
)
def test_parse_max_changes(text: str, parsed: tuple[float, bool]) -> None:
    assert parse_max_changes(text) == parsed


@pytest.mark.parametrize("text", ["", "abc", "-1", "10%%", "%5", "1e3", "5 users", "ten"])
def test_parse_max_changes_rejects_what_is_not_a_number_or_percentage(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_max_changes(text)

    assert str(error.value) == (
        f"--max-changes {text!r} is not a number of users or a percentage; "
        'use e.g. --max-changes 200 or --max-changes "10%".'
    )
    assert error.value.exit_code == ExitCode.USAGE


def test_parse_max_changes_rejects_more_than_a_hundred_percent() -> None:
    with pytest.raises(UsageError, match=r"^--max-changes '150%' is more than 100%\.$"):
        parse_max_changes("150%")
