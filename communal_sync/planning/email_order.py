"""The order of email changes: who must move off an address before someone else takes it.

Communal keeps emails unique, so a PUT that gives a user the address another user still
holds is refused (422 "already taken"), even when that other user's own change in the
same plan moves them off it. The email changes of a plan form a graph: an edge from A to
B when A's new address is B's current one and B's email changes too. Every user has at
most one such edge out (one new address) and one in (one current address), so the graph
is disjoint chains and cycles:

- a **chain** (A takes B's address, B takes C's, C moves to a new one) is applied from its
  end: each PUT waits until the user it depends on has moved (``UserPlan.email_after``),
  whatever the concurrency;
- a **cycle** (a swap: A takes B's, B takes A's) has no PUT that can go first. It is
  reported (``email_cycle`` issues, not sent) with the way out, or, with
  ``--break-email-cycles``, broken through a temporary address: the cycle's lowest user id
  first moves to ``temporary_address(...)``, which frees its address; the cycle is then a
  chain ending in that first step, and that user's real PUT comes last.

Pure functions of the plan's users; no request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from communal_sync.fields import NAME_MAX_LENGTH
from communal_sync.plan import RowIssue, UserPlan
from communal_sync.values.normalize import email_key

TEMPORARY_TAG: Final = "communal-sync-swap"
"""Added to a local part (``amara+communal-sync-swap@example.org``) for a cycle's first step."""
BREAK_FLAG: Final = "--break-email-cycles"


@dataclass(frozen=True)
class EmailMove:
    """One user's email change as the plan sends it: from Communal's address to the file's."""

    user_id: int
    line: int
    old: str
    new: str


def email_moves(users: Sequence[UserPlan]) -> dict[int, EmailMove]:
    """Each user whose PUT changes their email, by user id."""
    moves: dict[int, EmailMove] = {}
    for user in users:
        if user.body is None:
            continue
        for change in user.changes:
            if change.field == "email" and change.before and change.after:
                moves[user.user_id] = EmailMove(
                    user.user_id, user.line, change.before, change.after
                )
    return moves


def email_dependencies(moves: Mapping[int, EmailMove]) -> dict[int, int]:
    """User id -> the user whose current address it takes (and whose email also changes)."""
    holders = {email_key(move.old): move.user_id for move in moves.values()}
    after: dict[int, int] = {}
    for move in moves.values():
        holder = holders.get(email_key(move.new))
        if holder is not None and holder != move.user_id:
            after[move.user_id] = holder
    return after


def email_cycles(after: Mapping[int, int]) -> list[tuple[int, ...]]:
    """The cycles of the dependency graph, each from its lowest user id, in id order.

    Each tuple lists users so that every one takes the next one's address, and the last
    takes the first's.
    """
    cycles: list[tuple[int, ...]] = []
    done: set[int] = set()
    for start in sorted(after):
        path: list[int] = []
        seen: dict[int, int] = {}
        node: int | None = start
        while node is not None and node not in done and node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = after.get(node)
        if node is not None and node in seen:
            cycle = path[seen[node] :]
            first = cycle.index(min(cycle))
            cycles.append(tuple(cycle[first:] + cycle[:first]))
        done.update(path)
    return sorted(cycles)


def temporary_address(address: str, user_id: int) -> str:
    """The address a cycle's first user moves to: their own with ``+communal-sync-swap``.

    Plus-addressing keeps it the person's own mailbox at most providers, so a notice
    Communal sends about the change reaches them. One too long for the API falls back to
    a short local part on the same domain.
    """
    local, _, domain = address.rpartition("@")
    candidate = f"{local}+{TEMPORARY_TAG}@{domain}"
    if len(candidate) > NAME_MAX_LENGTH:
        candidate = f"{TEMPORARY_TAG}-{user_id}@{domain}"
    return candidate


def order_email_changes(
    users: Sequence[UserPlan], *, break_cycles: bool
) -> tuple[list[UserPlan], list[RowIssue]]:
    """The users with each PUT's place in its chain, and the rows of unbroken cycles.

    Without ``break_cycles`` the users of a cycle leave the plan as ``email_cycle`` issues
    (nothing is sent for them: exit 3), each saying who is in the cycle and the way out.
    """
    moves = email_moves(users)
    after = email_dependencies(moves)
    cycles = email_cycles(after)
    issues: list[RowIssue] = []
    temporary: dict[int, str] = {}
    dropped: set[int] = set()
    for cycle in cycles:
        first = moves[cycle[0]]
        address = temporary_address(first.old, first.user_id)
        if break_cycles:
            temporary[first.user_id] = address
        else:
            issues += cycle_issues([moves[uid] for uid in cycle], address)
            dropped.update(cycle)
    kept = [u for u in users if u.user_id not in dropped]
    ordered = [_placed(user, after.get(user.user_id), temporary.get(user.user_id)) for user in kept]
    return ordered, issues


def _placed(user: UserPlan, after: int | None, temporary: str | None) -> UserPlan:
    """``user`` with its dependency, temporary address and a note on its email change."""
    if after is None and temporary is None:
        return user
    note = f"after user {after} moves off it" if after is not None else None
    if temporary is not None:
        note = f"first to a temporary address ({BREAK_FLAG}), then {note}"
    changes = tuple(
        c.model_copy(update={"note": note}) if c.field == "email" else c for c in user.changes
    )
    return user.model_copy(
        update={"email_after": after, "temporary_email": temporary, "changes": changes}
    )


def cycle_issues(cycle: Sequence[EmailMove], temporary: str) -> list[RowIssue]:
    """One issue per row of an unbroken cycle: what the cycle is, and the way out."""
    who = [f"user {m.user_id} (line {m.line})" for m in cycle]
    if len(cycle) == 2:
        what = f"{who[0]} and {who[1]} swap email addresses"
    else:
        takes = ", ".join(
            f"{m.user_id} takes {cycle[(i + 1) % len(cycle)].user_id}'s"
            for i, m in enumerate(cycle)
        )
        what = f"{', '.join(who[:-1])} and {who[-1]} pass email addresses round ({takes})"
    first = cycle[0]
    message = (
        f"{what[0].upper()}{what[1:]}: each new address is another's current one and "
        "Communal keeps addresses unique, so no change can be sent first; nothing is sent "
        f"for these {len(cycle)} rows. The input is right. Way out: push again with "
        f"{BREAK_FLAG} (user {first.user_id} moves to {temporary} first, then each takes "
        "the address just freed), or change one address in Communal by hand first."
    )
    return [
        RowIssue(
            line=move.line,
            kind="email_cycle",
            field="email",
            value=move.new,
            message=message,
            quoted=(temporary,),
        )
        for move in cycle
    ]
