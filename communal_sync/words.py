"""How counts are said to people: "1 user", "3 users", "1 person", "2 people", and the
same message about many users said once ("57 users (101, 102, 103 and 54 more): ...")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final


def plural(count: int, one: str, many: str | None = None) -> str:
    """``one`` for a count of 1, else ``many`` (default: ``one`` + "s")."""
    if count == 1:
        return one
    return many if many is not None else one + "s"


_PER_USER = re.compile(r"\AUser (\d+): (.+)\Z", re.DOTALL)
FOLD_NAMED_USERS: Final = 3
"""How many user ids a folded line names before "and N more"."""


def fold_repeated(messages: Iterable[str]) -> list[str]:
    """Messages about one user each ("User 101: ...") said once per distinct text.

    "User 101: profile_address left alone" for 57 users becomes one line, "57 users (101,
    102, 103 and 54 more): profile_address left alone", where the first of them stood; a
    text said for one user only, and every other message, stays as it was, in order.
    """
    listed = list(messages)
    users: dict[str, list[str]] = {}
    for message in listed:
        if match := _PER_USER.match(message):
            users.setdefault(match.group(2), []).append(match.group(1))
    folded: list[str] = []
    for message in listed:
        match = _PER_USER.match(message)
        if match is None or len(users[match.group(2)]) == 1:
            folded.append(message)
            continue
        ids = users[match.group(2)]
        if ids[0] != match.group(1):
            continue  # said already, where its first user stood
        named = ", ".join(ids[:FOLD_NAMED_USERS])
        if len(ids) > FOLD_NAMED_USERS:
            named = f"{named} and {len(ids) - FOLD_NAMED_USERS} more"
        folded.append(f"{len(ids)} users ({named}): {match.group(2)}")
    return folded
