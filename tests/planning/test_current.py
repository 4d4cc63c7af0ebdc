"""What Communal holds now, field by field: live, from our snapshot, or unknown."""

from __future__ import annotations

from typing import Any

import pytest

from communal_sync.api.models import User
from communal_sync.plan import UNKNOWN, CurrentValue
from communal_sync.planning.current import current_record

USER_RESOURCE: dict[str, Any] = {
    "id": "101",
    "name": "Amara Okafor",
    "email": "amara.okafor@example.org",
    "telephone": "+1 416 555 0101",
    "first_name": "Amara",
    "middle_name": None,
    "last_name": "Okafor",
    "preferred_name": "",
    "date_of_birth": "1984-03-12T00:00:00.000000Z",
    "updated_at": "2026-01-15T09:30:00.000000Z",
}
SNAPSHOT_USER: dict[str, Any] = {
    "id": 101,
    "first_name": "Amara",
    "last_name": "Okafor-Old",
    "email": "amara.okafor@example.org",
    "telephone": "+1 416 555 0000",
    "profile_address": "12 Queen St W",
    "profile_address_line_2": None,
    "profile_city": "Toronto",
    "profile_zip": 90210,
}
LIVE = User.model_validate(USER_RESOURCE)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("first_name", CurrentValue("Amara", "live")),
        ("last_name", CurrentValue("Okafor", "live")),
        ("telephone", CurrentValue("+1 416 555 0101", "live")),
        ("date_of_birth", CurrentValue("1984-03-12T00:00:00.000000Z", "live")),
        ("middle_name", CurrentValue(None, "live")),
        ("preferred_name", CurrentValue("", "live")),
        ("profile_address", CurrentValue("12 Queen St W", "snapshot")),
        ("profile_address_line_2", CurrentValue(None, "snapshot")),
        ("profile_city", CurrentValue("Toronto", "snapshot")),
        ("profile_zip", CurrentValue("90210", "snapshot")),
        ("profile_country", UNKNOWN),
        ("profile_state", CurrentValue(None, "unknown")),
    ],
)
def test_each_field_comes_from_live_then_snapshot_then_unknown(
    field: str, expected: CurrentValue
) -> None:
    assert current_record([field], LIVE, SNAPSHOT_USER) == {field: expected}


def test_live_value_wins_over_the_snapshot() -> None:
    record = current_record(["last_name", "telephone"], LIVE, SNAPSHOT_USER)

    assert record == {
        "last_name": CurrentValue("Okafor", "live"),
        "telephone": CurrentValue("+1 416 555 0101", "live"),
    }


def test_live_null_is_live_not_a_reason_to_read_the_snapshot() -> None:
    live = User.model_validate({"id": 101, "telephone": None})

    assert current_record(["telephone"], live, SNAPSHOT_USER) == {
        "telephone": CurrentValue(None, "live")
    }


def test_without_a_snapshot_address_fields_are_unknown() -> None:
    record = current_record(["profile_city", "email"], LIVE, None)

    assert record == {
        "profile_city": UNKNOWN,
        "email": CurrentValue("amara.okafor@example.org", "live"),
    }


def test_without_a_live_read_everything_comes_from_the_snapshot() -> None:
    record = current_record(["last_name", "profile_state"], None, SNAPSHOT_USER)

    assert record == {"last_name": CurrentValue("Okafor-Old", "snapshot"), "profile_state": UNKNOWN}


def test_record_has_exactly_the_fields_asked_for_in_order() -> None:
    fields = ["profile_city", "email", "first_name"]

    assert list(current_record(fields, LIVE, SNAPSHOT_USER)) == fields
