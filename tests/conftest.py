"""Shared fixtures: a fixed terminal, no real waiting, a private state directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from support.cli import CliResult, run_cli

from communal_sync.api import retry
from communal_sync.sandbox import DEMO_SEED, Sandbox


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


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """``cli("validate", "file.csv")`` runs the real CLI; see ``run_cli``."""
    return run_cli


@pytest.fixture
def demo_seed() -> dict[str, Any]:
    """The demo organization (the package's sandbox/demo_organization.json), fresh per test."""
    return cast(dict[str, Any], json.loads(DEMO_SEED.read_text(encoding="utf-8")))


@pytest.fixture
def sandbox(demo_seed: dict[str, Any]) -> Iterator[Sandbox]:
    """A running sandbox on a loopback port, seeded with the demo organization."""
    with Sandbox(demo_seed) as running:
        yield running


@pytest.fixture
def sandbox_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI run against ``sandbox`` with its manager key."""
    return {
        "COMMUNAL_BASE_URL": sandbox.base_url,
        "COMMUNAL_API_KEY": sandbox.manager_key,
        "COMMUNAL_SYNC_STATE": str(tmp_path / "state" / "state.db"),
    }
