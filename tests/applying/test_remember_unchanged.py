"""Rows a push verified unchanged are remembered, many to a commit, and cost nothing next time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.push import big_seed, env_for, request_counts, write_big_export

from communal_sync.applying import apply
from communal_sync.sandbox import Sandbox
from communal_sync.state import open_state

Cli = Callable[..., CliResult]

MEMBERS = 10


@pytest.mark.parametrize("per_commit", [1, 3, MEMBERS, apply.UNCHANGED_PER_COMMIT])
def test_every_verified_unchanged_row_is_remembered_across_commit_edges(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_commit: int
) -> None:
    monkeypatch.setattr(apply, "UNCHANGED_PER_COMMIT", per_commit)
    export = write_big_export(tmp_path / "members.csv", MEMBERS, unchanged_every=1)
    state = tmp_path / "state.db"
    with Sandbox(big_seed(MEMBERS)) as sandbox:
        first = cli("push", str(export), "--yes", env=env_for(sandbox, state))
        assert first.exit_code == 0, first.stdout + first.stderr
        assert request_counts(sandbox)["GET"] == MEMBERS  # each row read and verified
        sandbox.clear_requests()

        second = cli("push", str(export), "--yes", env=env_for(sandbox, state))

        assert second.exit_code == 0, second.stdout + second.stderr
        assert sandbox.requests() == []
    assert f"{MEMBERS} unchanged" in second.stdout
    with open_state(state) as store:
        assert all(store.snapshots.get(1001 + n) is not None for n in range(MEMBERS))
