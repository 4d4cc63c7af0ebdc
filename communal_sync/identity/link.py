"""Loading an identity map into the state store: which Communal user each email or key is.

The Communal API cannot list users or look one up by email, so ``link FILE`` reads a file
with the Communal user id next to an email and/or an external key (a people export from
Communal, or the CRM's own table of Communal ids) into the state store, where matching
finds them. Reading and checking the file is ``link_file``; this module writes the valid
entries in one transaction and reports mappings that moved to another user.

    link_file = open_link_file("people.csv", ReadOptions())
    read = read_links(link_file)
    with acquire_lock(path, command="link people.csv"), open_state(path) as state:
        result = apply_links(state, read, dry_run=False)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from communal_sync.identity.link_file import (
    KEY_LABELS,
    LINK_FIELDS,
    LinkColumns,
    LinkEntry,
    LinkFile,
    LinkKey,
    LinkRead,
    check_link_row,
    find_contradictions,
    map_link_columns,
    open_link_file,
    read_links,
)
from communal_sync.intake.profile_row import RowError
from communal_sync.state import StateStore
from communal_sync.words import plural

__all__ = [
    "LINK_FIELDS",
    "LinkColumns",
    "LinkEntry",
    "LinkFile",
    "LinkRead",
    "LinkResult",
    "Move",
    "apply_links",
    "check_link_row",
    "find_contradictions",
    "map_link_columns",
    "open_link_file",
    "read_links",
]


@dataclass(frozen=True, slots=True)
class Move:
    """A mapping that pointed at other users before this link and now points elsewhere."""

    line: int
    key: LinkKey
    value: str
    from_users: tuple[int, ...]
    to_user: int

    def describe(self, value: str | None = None) -> str:
        """The sentence for reports: "external id M-0009 moved from user 12 to user 109".

        ``value`` replaces the key's value in the sentence (a mask, when redacting).
        """
        users = ", ".join(str(u) for u in self.from_users)
        plural = "s" if len(self.from_users) > 1 else ""
        shown = self.value if value is None else value
        return (
            f"{KEY_LABELS[self.key]} {shown} moved from user{plural} {users} to user {self.to_user}"
        )


@dataclass(frozen=True)
class LinkResult:
    """What a link run did (or, with ``dry_run``, would do)."""

    name: str
    rows: int
    people: int
    by_email: int
    by_external_id: int
    already_known: int
    moves: tuple[Move, ...]
    problems: tuple[RowError, ...]
    refused_rows: int
    dry_run: bool

    def summary(self) -> str:
        """One line: "Linked 120 people: 118 by email, 95 by external id; 2 rows refused"."""
        verb = "Would link" if self.dry_run else "Linked"
        text = (
            f"{verb} {self.people} {plural(self.people, 'person', 'people')}: "
            f"{self.by_email} by email, {self.by_external_id} by external id"
        )
        if self.already_known:
            text += f" ({self.already_known} already known)"
        if self.moves:
            text += f"; {len(self.moves)} {plural(len(self.moves), 'mapping', 'mappings')} moved"
        if self.refused_rows:
            text += f"; {self.refused_rows} {plural(self.refused_rows, 'row', 'rows')} refused"
        if self.dry_run:
            text += "; nothing written (--dry-run)"
        return text


def apply_links(store: StateStore | None, read: LinkRead, *, dry_run: bool) -> LinkResult:
    """Link every entry in one transaction, or with ``dry_run`` only work out what would change.

    Each mapping is looked up first, so a mapping that pointed at another user is reported
    as a ``Move``. ``store`` may be None for a dry run without a state file: nothing is
    known yet, so nothing moves.
    """
    moves: list[Move] = []
    known = 0
    if store is None:
        return _result(read, moves, known, dry_run=dry_run)
    # Compare everything before linking anything: a link can drop another mapping of the
    # same user, which would hide a later move from its lookup.
    with contextlib.nullcontext() if dry_run else store.transaction():
        for entry in read.entries:
            entry_moves, entry_known = _compare(store, entry)
            moves.extend(entry_moves)
            known += entry_known
        if not dry_run:
            for entry in read.entries:
                store.identity.link(
                    entry.user_id,
                    email_key=entry.email_key,
                    external_id=entry.external_id,
                    source="link",
                )
    return _result(read, moves, known, dry_run=dry_run)


def _compare(store: StateStore, entry: LinkEntry) -> tuple[list[Move], int]:
    """The moves linking ``entry`` makes, and 1 if it changes nothing at all."""
    moves: list[Move] = []
    unchanged = True
    if entry.external_id is not None:
        before = store.identity.lookup_external_id(entry.external_id)
        if before is not None and before != entry.user_id:
            moves.append(
                Move(entry.line, "external_id", entry.external_id, (before,), entry.user_id)
            )
        unchanged = unchanged and before == entry.user_id
    if entry.email_key is not None:
        users = store.identity.lookup_email(entry.email_key)
        others = tuple(u for u in users if u != entry.user_id)
        if others:
            moves.append(Move(entry.line, "email", entry.email_key, others, entry.user_id))
        unchanged = unchanged and users == [entry.user_id]
    return moves, int(unchanged)


def _result(read: LinkRead, moves: list[Move], known: int, *, dry_run: bool) -> LinkResult:
    return LinkResult(
        name=read.name,
        rows=read.rows,
        people=len({e.user_id for e in read.entries}),
        by_email=len({e.email_key for e in read.entries if e.email_key is not None}),
        by_external_id=len({e.external_id for e in read.entries if e.external_id is not None}),
        already_known=known,
        moves=tuple(moves),
        problems=read.problems,
        refused_rows=len(read.refused_lines),
        dry_run=dry_run,
    )
