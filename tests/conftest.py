"""Shared fixtures: a fixed terminal, no real waiting, a private state directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from communal_sync.api import retry

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Fix the terminal width, keep colour and state out, and switch off all retry waiting."""
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COMMUNAL_SYNC_STATE", str(tmp_path / "state" / "state.db"))
    for name in ("COMMUNAL_API_KEY", "COMMUNAL_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with retry.testing():
        yield
