"""Group commit: the writes of threads that finish at the same moment share one commit.

A result is committed with ``synchronous = FULL``, so each commit waits for the disk
(an fsync, several milliseconds); with one connection, every other worker waits for it
too. ``GroupCommit.run(work)`` keeps the promise a commit of its own gives (once it
returns, ``work``'s writes are on disk; if it raises, none of them are) while the threads
that arrive during a commit are written together in the next one: the first of them
leads, runs every queued ``work`` inside one transaction, each in a savepoint of its own
(one that raises is rolled back alone and its thread gets the error), commits once, and
wakes the others. Nobody returns before the commit that holds their writes.

    database.grouped(lambda: journal.record_result(...))   # on disk when it returns
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Transactional(Protocol):
    """What a group commit needs of the database: one transaction, and raw statements."""

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def savepoint(self) -> contextlib.AbstractContextManager[None]: ...


@dataclass
class _Slot(Generic[T]):
    """One thread's work, and what came of it once its group was committed."""

    work: Callable[[], T]
    done: bool = False
    value: T | None = None
    error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # set when work returned


@dataclass
class GroupCommit:
    """Leader and followers over one database (see the module's docstring)."""

    database: Transactional
    _state: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[_Slot[object]] = field(default_factory=list)
    _leading: bool = False

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` (database writes, no network) in a shared transaction; return its
        value once that transaction is committed, or raise its error (or the commit's)."""
        slot: _Slot[T] = _Slot(work)
        with self._state:
            self._queue.append(slot)  # type: ignore[arg-type]
            while self._leading and not slot.done:
                self._state.wait()
            if slot.done:
                return slot.outcome()
            self._leading = True
            group, self._queue = self._queue, []
        try:
            self._commit(group)
        finally:
            with self._state:
                for each in group:
                    each.done = True
                self._leading = False
                self._state.notify_all()
        return slot.outcome()

    def _commit(self, group: list[_Slot[object]]) -> None:
        try:
            with self.database.transaction():
                for slot in group:
                    with _kept_apart(slot), self.database.savepoint():
                        slot.value = slot.work()
        except BaseException as error:  # the commit itself failed: nothing was written
            for slot in group:
                if slot.error is None:
                    slot.error = error
                    slot.value = None


@contextlib.contextmanager
def _kept_apart(slot: _Slot[object]) -> Iterator[None]:
    """One thread's failing work is its own: rolled back (by the savepoint) and handed to
    that thread, while the rest of the group is still committed."""
    try:
        yield
    except Exception as error:  # re-raised in the thread that asked
        slot.error = error
