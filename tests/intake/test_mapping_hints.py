"""Mapping hints: suggestions are questions about real columns, never guesses applied."""

from __future__ import annotations

import pytest

from communal_sync.intake.mapping_hints import closest_field, suggest_field, suggestions


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("EmailAddr", "email"),
        ("E-mail Adress", "email"),
        ("Cel Phone", "telephone"),
        ("Frist Name", "first_name"),
        ("Postal Cod", "profile_zip"),
    ],
)
def test_a_near_miss_of_a_known_column_name_is_suggested(header: str, field: str) -> None:
    assert suggest_field(header) == field


@pytest.mark.parametrize(
    "header",
    ["Name", "Full Name", "County", "Region", "Home Phone", "Title", "T-shirt size", "ID#"],
)
def test_ambiguous_or_unrelated_headers_get_no_suggestion(header: str) -> None:
    assert suggest_field(header) is None


def test_a_field_already_mapped_is_not_suggested_again() -> None:
    assert suggest_field("EmailAddr", taken={"email"}) is None
    assert suggestions(["EmailAddr", "E-mail Adress"], taken=()) == {"EmailAddr": "email"}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("first_nam", "first_name"),
        ("emial", "email"),
        ("zip", "profile_zip"),
        ("telephon", "telephone"),
    ],
)
def test_a_mistyped_target_has_a_did_you_mean(typed: str, meant: str) -> None:
    assert closest_field(typed) == meant


def test_a_target_like_nothing_has_no_did_you_mean() -> None:
    assert closest_field("xq") is None
