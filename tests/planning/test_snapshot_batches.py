"""Planning reads snapshots a batch of rows at a time: the same plan on every side of a
batch's edge, from the state store (one query per batch) and from a reader with ``get``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from communal_sync.planning.planner import SNAPSHOT_BATCH, snapshots_of
from communal_sync.state import Snapshot, open_state
from tests.planning.test_planner import FakeApi, FakeState, export, plan_of, resource

ROWS = 2 * SNAPSHOT_BATCH + 3
"""Three batches, the last one short."""
CHANGED = {7, SNAPSHOT_BATCH - 1, SNAPSHOT_BATCH, 2 * SNAPSHOT_BATCH + 2}
"""Row numbers (from 0) edited since the last push: at each edge of a batch."""


def members(count: int) -> dict[int, dict[str, Any]]:
    return {
        1000 + n: resource(1000 + n, "Ana", f"Lee{n}", f"ana{n}@example.org") for n in range(count)
    }


def rows(phone_of: dict[int, str]) -> list[str]:
    return [
        f"M-{n},{1000 + n},Ana,Lee{n},ana{n}@example.org,{phone_of.get(n, '+1 416 555 0100')},"
        for n in range(ROWS)
    ]


@pytest.mark.parametrize("reader", ["state store", "get only"])
def test_rows_recorded_unchanged_are_skipped_across_batch_edges(
    tmp_path: Path, reader: str
) -> None:
    api = FakeApi(members(ROWS))
    first = plan_of(export(tmp_path, *rows({})), FakeState(), api)
    hashes = {u.user_id: u.source_hash for u in first.users}
    assert len(hashes) == ROWS
    edited = export(tmp_path, *rows({n: "+1 416 555 0199" for n in CHANGED}))
    api.calls.clear()

    if reader == "state store":
        with open_state(tmp_path / "state.db") as store:
            for user_id, digest in hashes.items():
                store.snapshots.save(user_id, user={}, pushed={}, source_hash=digest)
            plan = plan_of(edited, store, api, concurrency=4)
    else:
        fake = FakeState()
        for user_id, digest in hashes.items():
            fake.snapshot(user_id, source_hash=digest)
        plan = plan_of(edited, fake, api, concurrency=4)

    changed_ids = sorted(1000 + n for n in CHANGED)
    assert sorted(user_id for _, user_id in api.calls) == changed_ids
    assert [u.user_id for u in plan.users] == changed_ids
    assert sorted(u.line for u in plan.unchanged) == [
        n + 2 for n in range(ROWS) if n not in CHANGED
    ]
    assert all(not u.verified for u in plan.unchanged)


def test_snapshots_of_a_reader_with_get_only_returns_those_that_exist() -> None:
    snapshots = FakeState()
    snapshots.snapshot(5, source_hash="h5")
    found = snapshots_of(snapshots.snapshots, [5, 6, 5])
    assert list(found) == [5]
    assert isinstance(found[5], Snapshot) and found[5].source_hash == "h5"
