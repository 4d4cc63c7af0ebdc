"""How counts are said to people: "1 user", "3 users", "1 person", "2 people"."""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """``one`` for a count of 1, else ``many`` (default: ``one`` + "s")."""
    if count == 1:
        return one
    return many if many is not None else one + "s"
