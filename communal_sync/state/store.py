"""The state store: one SQLite file, composed of the parts that use it.

``store.identity`` (the identity map), ``store.snapshots`` (each user as we last left
them), ``store.journal`` (runs, intents and per-request results), ``store.binding``
(the API the file belongs to) and ``store.roster`` (Communal's member list, as
``link --from-communal`` read it) share one connection and one lock; ``store.transaction()``
groups writes of several parts into one commit (a result and its snapshot, say).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self, TypeVar

from communal_sync.state.binding import ApiBinding
from communal_sync.state.database import Clock, Database, connect, utc_now
from communal_sync.state.identity import IdentityMap
from communal_sync.state.journal import RunJournal
from communal_sync.state.roster import Roster
from communal_sync.state.snapshots import Snapshots

T = TypeVar("T")


def open_state(path: Path, *, clock: Clock = utc_now) -> StateStore:
    """Open the state file at ``path``, creating and migrating it as needed.

    Use it as a context manager (``with open_state(path) as state:``) so it is closed.
    Opening does not take the run lock: take ``acquire_lock`` first for any run.
    """
    return StateStore(Database(path, connect(path), clock))


class StateStore:
    """Everything communal-sync remembers between runs, in one SQLite file."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.identity = IdentityMap(db)
        self.snapshots = Snapshots(db)
        self.journal = RunJournal(db)
        self.binding = ApiBinding(db)
        self.roster = Roster(db)

    @property
    def path(self) -> Path:
        """The state file this store reads and writes."""
        return self.db.path

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes of any parts into one atomic commit (see ``Database.transaction``)."""
        with self.db.transaction():
            yield

    def grouped(self, work: Callable[[], T]) -> T:
        """Run ``work``'s writes in a commit shared with other threads' (group commit);
        return once they are on disk (see ``Database.grouped``)."""
        return self.db.grouped(work)

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
