"""Group commit: writes of several threads share a commit, each kept as its own would be."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from communal_sync.errors import ConfigError
from communal_sync.state import StateStore, open_state
from communal_sync.state.group_commit import _Slot


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    with open_state(tmp_path / "state.db") as opened:
        opened.db.write("CREATE TABLE scratch (n INTEGER PRIMARY KEY)")
        yield opened


def on_disk(store: StateStore) -> list[int]:
    """The rows another connection reads: only what was committed."""
    with sqlite3.connect(store.path) as reader:
        return [int(row[0]) for row in reader.execute("SELECT n FROM scratch ORDER BY n")]


def insert(store: StateStore, n: int) -> int:
    store.db.execute("INSERT INTO scratch (n) VALUES (?)", (n,))
    return n


def test_a_grouped_write_is_committed_when_it_returns(store: StateStore) -> None:
    assert store.grouped(lambda: insert(store, 1)) == 1
    assert on_disk(store) == [1]


def queue(store: StateStore, *slots: _Slot[object]) -> None:
    """Slots of threads that arrived while a commit was going on (the next leader's)."""
    store.db._group._queue.extend(slots)


def test_the_leader_commits_every_queued_write_in_one_transaction(store: StateStore) -> None:
    waiting = [_Slot(lambda n=n: insert(store, n)) for n in (2, 3)]
    queue(store, *waiting)
    commits: list[str] = []
    store.db._conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.startswith(("BEGIN", "COMMIT")) else None
    )

    assert store.grouped(lambda: insert(store, 1)) == 1

    assert commits == ["BEGIN IMMEDIATE", "COMMIT"]
    assert [(s.done, s.value, s.error) for s in waiting] == [(True, 2, None), (True, 3, None)]
    assert on_disk(store) == [1, 2, 3]


def test_a_write_that_fails_is_rolled_back_alone_and_its_thread_gets_the_error(
    store: StateStore,
) -> None:
    def fails() -> int:
        insert(store, 2)
        raise ValueError("not this one")

    failing = _Slot(fails)
    first = _Slot(lambda: insert(store, 3))
    duplicate = _Slot(lambda: insert(store, 3))  # the row ``first`` wrote: a constraint error
    queue(store, failing, first, duplicate)

    assert store.grouped(lambda: insert(store, 1)) == 1

    assert isinstance(failing.error, ValueError)
    assert (first.error, first.value) == (None, 3)
    assert isinstance(duplicate.error, ConfigError)  # how every SQLite failure is said
    with pytest.raises(ValueError, match="not this one"):
        failing.outcome()
    assert on_disk(store) == [1, 3]


def test_when_the_commit_itself_fails_no_write_of_the_group_is_kept(store: StateStore) -> None:
    waiting = _Slot(lambda: insert(store, 2))
    queue(store, waiting)
    store.db.execute("PRAGMA query_only = ON")  # every write of the group now fails

    with pytest.raises(ConfigError):
        store.grouped(lambda: 1)

    store.db.execute("PRAGMA query_only = OFF")
    assert waiting.done and isinstance(waiting.error, ConfigError)
    assert on_disk(store) == []


def test_many_threads_each_return_after_their_own_write_is_committed(store: StateStore) -> None:
    seen: dict[int, bool] = {}
    lock = threading.Lock()

    def worker(base: int) -> None:
        for n in range(base, base + 25):
            store.grouped(lambda n=n: insert(store, n))
            visible = n in on_disk(store)
            with lock:
                seen[n] = visible

    threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 200 and all(seen.values())
    assert on_disk(store) == sorted(seen)
