"""The three-way, normalization-aware diff and the PUT body built from it."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

import pytest

from communal_sync.plan import Conflict, ConflictPolicy, FieldChange
from communal_sync.planning.diff import (
    CURRENT_UNKNOWN_NOTE,
    UNKNOWN,
    CurrentValue,
    build_put_body,
    clear_allowed,
    comparison_key,
    diff_fields,
    same_value,
)

AMARA = {
    "first_name": "Amara",
    "last_name": "Okafor",
    "email": "amara.okafor@example.org",
}


def live(value: str | None) -> CurrentValue:
    return CurrentValue(value, "live")


def snap(value: str | None) -> CurrentValue:
    return CurrentValue(value, "snapshot")


def live_record(values: Mapping[str, str | None]) -> dict[str, CurrentValue]:
    return {name: live(value) for name, value in values.items()}


# --- normalization: cosmetic differences are not changes ----------------------------------


@pytest.mark.parametrize(
    ("field", "current", "source", "region"),
    [
        ("email", "amara.okafor@example.org", "Amara.Okafor@Example.ORG", None),
        ("email", "amara.okafor@example.org", "  amara.okafor@example.org ", None),
        ("first_name", "Zoë", unicodedata.normalize("NFD", "Zoë"), None),
        ("last_name", unicodedata.normalize("NFD", "Lefèvre"), "Lefèvre", None),
        ("last_name", "Van der Berg", "  Van   der\tBerg ", None),
        ("preferred_name", "Ann\u00a0Lee", "Ann Lee", None),
        ("telephone", "(416) 555-0101", "+1 416 555 0101", "CA"),
        ("telephone", "416.555.0101", "+1 (416) 555-0101", "CA"),
        ("telephone", "514-555-0102", "514 555 0102", None),
        ("profile_country", "CA", "Canada", None),
        ("profile_country", "CA", "CAN", None),
        ("profile_country", "CA", "ca", None),
        ("date_of_birth", "1984-03-12T00:00:00.000000Z", "1984-03-12", None),
        ("middle_name", "", None, None),
        ("middle_name", None, "", None),
    ],
)
def test_cosmetic_difference_is_not_a_change(
    field: str, current: str | None, source: str | None, region: str | None
) -> None:
    diff = diff_fields({field: source}, {field: live(current)}, None, region=region)

    assert diff.changes == ()
    assert diff.conflicts == ()


@pytest.mark.parametrize(
    ("field", "value", "region", "key"),
    [
        ("email", " Ann@Example.ORG ", None, "ann@example.org"),
        ("telephone", "(416) 555-0101", "CA", "+14165550101"),
        ("telephone", "+1 416 555 0101", None, "+14165550101"),
        ("telephone", "(416) 555-0101", None, "4165550101"),
        ("profile_country", "Canada", None, "CA"),
        ("profile_country", "Narnia", None, "NARNIA"),
        ("date_of_birth", "1984-03-12T00:00:00.000000Z", None, "1984-03-12"),
        ("first_name", "  Ann   Lee ", None, "Ann Lee"),
        ("middle_name", "   ", None, ""),
        ("middle_name", None, None, ""),
    ],
)
def test_comparison_key(field: str, value: str | None, region: str | None, key: str) -> None:
    assert comparison_key(field, value, region=region) == key


def test_a_national_phone_is_read_in_the_country_of_the_international_one() -> None:
    """Without --default-region, the number that carries its country code says where the
    other is dialled from (issue 12: no false change, no E.164 overwritten by a national form)."""
    assert same_value("telephone", "(416) 555-0101", "+1 416 555 0101", region=None)
    assert same_value("telephone", "+14165550101", "416-555-0101", region=None)
    assert same_value("telephone", "020 7946 0018", "+44 20 7946 0018", region=None)
    assert not same_value("telephone", "(416) 555-0199", "+1 416 555 0101", region=None)
    assert same_value("telephone", "(416) 555-0101", "+1 416 555 0101", region="CA")
    # A configured region is the region: the national number is then a UK one.
    assert not same_value("telephone", "(416) 555-0101", "+1 416 555 0101", region="GB")
    # Neither carries a country code: compared by the digits they have.
    assert same_value("telephone", "(416) 555-0101", "416.555.0101", region=None)
    assert not same_value("telephone", "", "+1 416 555 0101", region=None)
    assert same_value("telephone", None, " ", region=None)


@pytest.mark.parametrize(
    ("field", "current", "source"),
    [
        ("telephone", "+1 416 555 0101", "+1 416 555 0199"),
        ("email", "amara.okafor@example.org", "amara.o@example.org"),
        ("last_name", "Whitfield", "Whitfield-Boyd"),
        ("first_name", "Zoe", "Zoë"),
        ("profile_country", "CA", "US"),
        ("date_of_birth", "1984-03-12T00:00:00.000000Z", "1984-03-13"),
        ("middle_name", None, "Lucía"),
    ],
)
def test_real_difference_is_a_change_from_current_to_source(
    field: str, current: str | None, source: str
) -> None:
    diff = diff_fields({field: source}, {field: live(current)}, None, region="CA")

    assert diff.changes == (
        FieldChange(field=field, before=current, after=source, provenance="live"),
    )
    assert diff.final == {field: source}


# --- three-way ----------------------------------------------------------------------------


def test_source_changed_and_communal_untouched_since_push_is_a_change() -> None:
    diff = diff_fields(
        {"telephone": "+1 416 555 0199"},
        {"telephone": live("(416) 555-0101")},
        {"telephone": "+1 416 555 0101"},
        region="CA",
    )

    assert diff.conflicts == ()
    assert diff.changes == (
        FieldChange(
            field="telephone", before="(416) 555-0101", after="+1 416 555 0199", provenance="live"
        ),
    )


@pytest.mark.parametrize(
    ("policy", "resolution", "changed"),
    [("skip", "skipped", False), ("source", "source", True), ("communal", "communal", False)],
)
def test_both_sides_changed_since_push_is_a_conflict_resolved_by_policy(
    policy: ConflictPolicy, resolution: str, changed: bool
) -> None:
    diff = diff_fields(
        {"last_name": "Whitfield-Boyd"},
        {"last_name": live("Whitfield")},
        {"last_name": "Whitfield-Smith"},
        on_conflict=policy,
    )

    assert diff.conflicts == (
        Conflict(
            field="last_name",
            base="Whitfield-Smith",
            current="Whitfield",
            source="Whitfield-Boyd",
            resolution=resolution,
        ),
    )
    expected = (
        FieldChange(
            field="last_name", before="Whitfield", after="Whitfield-Boyd", provenance="live"
        ),
    )
    assert diff.changes == (expected if changed else ())
    assert diff.final == {"last_name": "Whitfield-Boyd" if changed else "Whitfield"}
    assert ("last_name" in diff.asserted) is changed


def test_communal_changed_and_source_agrees_with_it_is_nothing() -> None:
    diff = diff_fields(
        {"last_name": "Whitfield-Boyd"},
        {"last_name": live("Whitfield-Boyd")},
        {"last_name": "Whitfield"},
    )

    assert diff.changes == ()
    assert diff.conflicts == ()
    assert diff.asserted == {"last_name": "Whitfield-Boyd"}


def test_communal_changed_and_source_still_as_last_pushed_keeps_communal_edit() -> None:
    diff = diff_fields(
        {"telephone": "+1 416 555 0101"},
        {"telephone": live("+1 416 555 0177")},
        {"telephone": "(416) 555-0101"},
        region="CA",
    )

    assert diff.changes == ()
    assert diff.conflicts == ()
    assert diff.asserted == {}, "the base must stay what we last sent"


def test_field_never_pushed_is_a_plain_change_even_with_a_snapshot() -> None:
    diff = diff_fields(
        {"telephone": "+1 416 555 0199", "first_name": "Amara"},
        {"telephone": live("+1 416 555 0101"), "first_name": live("Amara")},
        {"first_name": "Amara"},
    )

    assert diff.conflicts == ()
    assert [c.field for c in diff.changes] == ["telephone"]


def test_cosmetic_difference_from_base_is_not_a_communal_edit() -> None:
    diff = diff_fields(
        {"email": "amara.o@example.org"},
        {"email": live("Amara.Okafor@Example.org")},
        {"email": "amara.okafor@example.org"},
    )

    assert diff.conflicts == ()
    assert [(c.field, c.after) for c in diff.changes] == [("email", "amara.o@example.org")]


def test_unknown_current_is_planned_as_a_change_marked_current_unknown() -> None:
    diff = diff_fields({"profile_city": "Toronto"}, {}, None)

    assert diff.changes == (
        FieldChange(
            field="profile_city",
            before=None,
            after="Toronto",
            provenance="unknown",
            note=CURRENT_UNKNOWN_NOTE,
        ),
    )
    assert CURRENT_UNKNOWN_NOTE == "current unknown"
    assert diff.final == {"profile_city": "Toronto"}


def test_unknown_current_ignores_the_base() -> None:
    diff = diff_fields(
        {"profile_city": "Toronto"}, {"profile_city": UNKNOWN}, {"profile_city": "Ottawa"}
    )

    assert diff.conflicts == ()
    assert [(c.field, c.provenance) for c in diff.changes] == [("profile_city", "unknown")]


def test_snapshot_value_is_compared_and_its_provenance_reported() -> None:
    diff = diff_fields(
        {"profile_city": "Toronto", "profile_zip": "M5H 2N2"},
        {"profile_city": snap("Ottawa"), "profile_zip": snap("M5H 2N2")},
        None,
    )

    assert diff.changes == (
        FieldChange(
            field="profile_city",
            before="Ottawa",
            after="Toronto",
            provenance="snapshot",
            note="last pushed by us; Communal may differ (it does not show this field)",
        ),
    )


def test_a_snapshot_value_with_its_date_says_when_we_last_pushed_it() -> None:
    dated = CurrentValue("Ottawa", "snapshot", as_of="2026-03-24")

    diff = diff_fields({"profile_city": "Toronto"}, {"profile_city": dated}, None)

    (change,) = diff.changes
    assert change.note == (
        "last pushed by us on 2026-03-24; Communal may differ (it does not show this field)"
    )


# --- blanks and clears --------------------------------------------------------------------


@pytest.mark.parametrize("blank", [None, "", "   ", "\u200b"])
def test_blank_cell_never_clears_by_default(blank: str | None) -> None:
    diff = diff_fields({"telephone": blank}, {"telephone": live("+1 416 555 0101")}, None)

    assert diff.changes == ()
    assert diff.asserted == {}


@pytest.mark.parametrize("allow", [("telephone",), ("all",), ("middle_name", "telephone")])
def test_allowed_blank_clears_the_field(allow: tuple[str, ...]) -> None:
    diff = diff_fields(
        {"telephone": "", "middle_name": None},
        {"telephone": live("+1 416 555 0101"), "middle_name": live(None)},
        None,
        allow_clear=allow,
    )

    assert diff.changes == (
        FieldChange(field="telephone", before="+1 416 555 0101", after=None, provenance="live"),
    )
    assert diff.changes[0].is_clear


def test_clear_of_an_already_empty_field_is_nothing() -> None:
    diff = diff_fields({"middle_name": None}, {"middle_name": live("")}, None, allow_clear=["all"])

    assert diff.changes == ()


def test_allow_clear_names_only_that_field() -> None:
    diff = diff_fields(
        {"telephone": None, "middle_name": None},
        {"telephone": live("+1 416 555 0101"), "middle_name": live("Lucía")},
        None,
        allow_clear=["middle_name"],
    )

    assert [(c.field, c.after) for c in diff.changes] == [("middle_name", None)]


@pytest.mark.parametrize(
    ("field", "allow", "allowed"),
    [
        ("telephone", (), False),
        ("telephone", ("telephone",), True),
        ("telephone", ("middle_name",), False),
        ("telephone", ("all",), True),
        ("profile_zip", ("all",), True),
        ("email", ("all",), False),
        ("email", ("email",), False),
        ("first_name", ("all", "first_name"), False),
        ("last_name", ("last_name",), False),
    ],
)
def test_clear_allowed_never_for_a_required_field(
    field: str, allow: tuple[str, ...], allowed: bool
) -> None:
    assert clear_allowed(field, allow) is allowed


@pytest.mark.parametrize("field", ["first_name", "last_name", "email"])
def test_blank_required_field_is_never_cleared_even_with_all(field: str) -> None:
    diff = diff_fields({field: ""}, {field: live("Amara")}, None, allow_clear=["all"])

    assert diff.changes == ()


# --- the PUT body -------------------------------------------------------------------------


def test_body_is_the_trio_plus_changed_fields_only() -> None:
    current = live_record(
        {**AMARA, "telephone": "+1 416 555 0101", "date_of_birth": "1984-03-12T00:00:00.000000Z"}
    )
    source = {**AMARA, "telephone": "+1 416 555 0199", "date_of_birth": "1984-03-12"}
    diff = diff_fields(source, current, None)

    assert build_put_body(diff, current) == {**AMARA, "telephone": "+1 416 555 0199"}


def test_body_is_none_when_nothing_changes() -> None:
    current = live_record({**AMARA, "telephone": "(416) 555-0101"})
    diff = diff_fields({**AMARA, "telephone": "+1 416 555 0101"}, current, None, region="CA")

    assert build_put_body(diff, current) is None


def test_body_trio_uses_communal_value_when_file_differs_only_cosmetically() -> None:
    current = live_record({**AMARA, "telephone": "+1 416 555 0101"})
    source = {
        "first_name": " Amara ",
        "last_name": "Okafor",
        "email": "Amara.Okafor@EXAMPLE.org",
        "telephone": "+1 416 555 0199",
    }
    diff = diff_fields(source, current, None)

    assert build_put_body(diff, current) == {**AMARA, "telephone": "+1 416 555 0199"}


def test_body_carries_a_changed_trio_field() -> None:
    current = live_record(AMARA)
    diff = diff_fields({**AMARA, "email": "amara.o@example.org"}, current, None)

    assert build_put_body(diff, current) == {**AMARA, "email": "amara.o@example.org"}


def test_body_has_null_only_for_an_allowed_clear() -> None:
    current = live_record({**AMARA, "telephone": "+1 416 555 0101", "middle_name": "Ngozi"})
    source = {**AMARA, "telephone": None, "middle_name": None}
    diff = diff_fields(source, current, None, allow_clear=["middle_name"])

    assert build_put_body(diff, current) == {**AMARA, "middle_name": None}


def test_body_keeps_communal_value_of_a_skipped_conflict_in_the_trio() -> None:
    current = live_record({**AMARA, "last_name": "Okafor-Bello", "telephone": "1"})
    source = {**AMARA, "last_name": "Okafor-Obi", "telephone": "+1 416 555 0199"}
    base = {**AMARA, "telephone": "1"}
    diff = diff_fields(source, current, base)

    assert [c.field for c in diff.conflicts] == ["last_name"]
    assert build_put_body(diff, current) == {
        **AMARA,
        "last_name": "Okafor-Bello",
        "telephone": "+1 416 555 0199",
    }


def test_body_takes_file_value_of_a_conflict_resolved_for_source() -> None:
    current = live_record({**AMARA, "last_name": "Okafor-Bello"})
    diff = diff_fields(
        {**AMARA, "last_name": "Okafor-Obi"}, current, dict(AMARA), on_conflict="source"
    )

    assert build_put_body(diff, current) == {**AMARA, "last_name": "Okafor-Obi"}


def test_body_sends_address_fields_of_unknown_current() -> None:
    current = live_record(AMARA)
    diff = diff_fields({**AMARA, "profile_city": "Toronto", "profile_zip": None}, current, None)

    assert build_put_body(diff, current) == {**AMARA, "profile_city": "Toronto"}


def test_asserted_leaves_out_blank_cells_and_held_back_conflicts() -> None:
    current = live_record(
        {**AMARA, "last_name": "Okafor-Bello", "telephone": "+1 416 555 0101", "middle_name": "N"}
    )
    source = {
        **AMARA,
        "email": "AMARA.OKAFOR@example.org",
        "last_name": "Okafor-Obi",
        "telephone": "+1 416 555 0199",
        "middle_name": None,
        "profile_city": "Toronto",
    }
    diff = diff_fields(source, current, dict(AMARA))

    assert diff.asserted == {
        "first_name": "Amara",
        "email": "amara.okafor@example.org",
        "telephone": "+1 416 555 0199",
        "profile_city": "Toronto",
    }
