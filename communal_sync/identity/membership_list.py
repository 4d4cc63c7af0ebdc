"""Which pages of ``GET /user_memberships`` a run must read, judged from what it holds.

Pure logic over the positions the roster stored (position -> membership id). A first run
holds nothing and reads every page. A later run (or one resuming a killed run) first reads
the *probe* page: the one holding the last position of the unbroken stretch it has from
the start. If that page still shows the same memberships at the same positions, the list
kept its order and only grew at the end, so only the pages with positions it lacks are
read. If anything sits elsewhere (a membership deleted or inserted earlier in the list, a
list that shrank, an order that is not stable), the stored positions are no longer to be
trusted and the whole list is read again; users already read are still not read again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from communal_sync.api.models import MembershipPage
from communal_sync.state.roster import ListedMembership


@dataclass
class MembershipList:
    """The positions known so far, updated as pages are stored."""

    by_position: dict[int, int] = field(default_factory=dict)
    by_id: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, positions: Mapping[int, int]) -> MembershipList:
        """The list as the roster holds it (position -> membership id)."""
        return cls(
            by_position=dict(positions),
            by_id={membership: position for position, membership in positions.items()},
        )

    def first_missing(self) -> int:
        """The first position not held: the end of the unbroken stretch from 0."""
        position = 0
        while position in self.by_position:
            position += 1
        return position

    def probe_page(self, size: int) -> int:
        """The page to read first (1-based): the one holding the last position of the
        unbroken stretch, so what it shows can be checked against what is held."""
        return max(self.first_missing() - 1, 0) // size + 1

    def rows(self, page: MembershipPage) -> list[ListedMembership]:
        """The page's memberships with their positions in the whole list."""
        return [
            ListedMembership(
                position=page.first_position + index,
                membership_id=membership.id,
                user_id=membership.user_id,
                created_at=membership.created_at,
            )
            for index, membership in enumerate(page.memberships)
        ]

    def agrees_with(self, rows: Sequence[ListedMembership]) -> bool:
        """Whether every row sits where the held list says, or somewhere it holds nothing
        about (a position not held, for a membership not held)."""
        for row in rows:
            held = self.by_position.get(row.position)
            where = self.by_id.get(row.membership_id)
            if held not in (None, row.membership_id) or where not in (None, row.position):
                return False
        return True

    def outgrows(self, total: int) -> bool:
        """Whether a position is held past the end of a list of ``total`` rows (it shrank)."""
        return any(position >= total for position in self.by_position)

    def record(self, rows: Sequence[ListedMembership]) -> None:
        """Take the rows' positions (whatever held them before loses them)."""
        for row in rows:
            previous = self.by_position.get(row.position)
            if previous is not None and previous != row.membership_id:
                self.by_id.pop(previous, None)
            old_position = self.by_id.get(row.membership_id)
            if old_position is not None and old_position != row.position:
                self.by_position.pop(old_position, None)
            self.by_position[row.position] = row.membership_id
            self.by_id[row.membership_id] = row.position

    def pages_to_read(self, *, total: int, per_page: int, last_page: int) -> list[int]:
        """Every page (1-based, up to ``last_page``) with a position of the ``total`` not held."""
        pages = []
        for page in range(1, last_page + 1):
            start = (page - 1) * per_page
            end = min(page * per_page, total)
            if any(position not in self.by_position for position in range(start, end)):
                pages.append(page)
        return pages

    def complete(self, total: int) -> bool:
        """Whether every position of a list of ``total`` rows is held."""
        return all(position in self.by_position for position in range(total))

    def clear(self) -> None:
        """Forget every position: the whole list is read again."""
        self.by_position.clear()
        self.by_id.clear()
