"""Mapping hints: suggestions are questions about real columns, never guesses applied."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from communal_sync.errors import InputError
from communal_sync.intake.mapping import build_mapping
from communal_sync.intake.mapping_hints import (
    closest_field,
    suggest_field,
    suggestions,
    unmapped_advice,
)


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


# --- the rule: every example a hint gives names a column the file has --------------------


EXAMPLE = re.compile(r'--map "([^"=]*)=')
HEADER_WORDS = st.sampled_from(
    ["Name", "EmailAddr", "Cell", "Cel Phone", "T-shirt size", "Notes", "Frist Name", "Surname",
     "E-mail", "Postal Cod", "Member No", "Region", "Tel", "Adress", "Birth"]
)  # fmt: skip


@given(st.lists(HEADER_WORDS, min_size=1, max_size=6, unique=True))
def test_every_example_in_a_hint_names_a_column_of_the_file(headers: list[str]) -> None:
    texts = []
    try:
        mapping = build_mapping(headers)
        texts.append(unmapped_advice(mapping.unmapped, taken=mapping.fields))
    except InputError as error:
        texts.append(str(error))

    named = {column for text in texts for column in EXAMPLE.findall(text)}
    assert named <= {*headers, "Column"}, (headers, texts)
