"""Where the tests find the project's files."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS.parent
SAMPLE_DATA = REPO_ROOT / "sample_data"
DATA = TESTS / "data"
