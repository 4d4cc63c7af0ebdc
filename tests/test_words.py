"""How counts and repeated messages are said."""

from __future__ import annotations

from communal_sync.words import fold_repeated, plural


def test_plural_says_one_and_many() -> None:
    assert (plural(1, "user"), plural(2, "user"), plural(0, "person", "people")) == (
        "user",
        "users",
        "people",
    )


def test_the_same_message_about_many_users_is_said_once_where_the_first_stood() -> None:
    messages = [
        "The file has a BOM.",
        *(f"User {n}: profile_address left alone." for n in (101, 102, 103, 104, 105)),
        "User 106: profile_city left alone.",
        "User 107: profile_address left alone.",
    ]

    assert fold_repeated(messages) == [
        "The file has a BOM.",
        "6 users (101, 102, 103 and 3 more): profile_address left alone.",
        "User 106: profile_city left alone.",
    ]


def test_two_users_are_both_named_and_a_lone_message_is_left_as_it_was() -> None:
    assert fold_repeated(["User 1: x.", "User 2: x.", "User 3: y."]) == [
        "2 users (1, 2): x.",
        "User 3: y.",
    ]
