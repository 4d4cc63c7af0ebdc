"""The benchmark's export generators (``bench/validate.py``, ``bench/exports.py``) for tests.

``bench/`` is not a package, so its modules are loaded by path; tests hold the fast path
to the full check on exactly the rows the benchmark measures.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from support.paths import REPO_ROOT

BENCH = REPO_ROOT / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, loaded once."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_VALIDATE = bench_module("validate")
PROFILES: tuple[str, ...] = _VALIDATE.PROFILES


def write_profile(path: Path, profile: str, rows: int, seed: int) -> None:
    """Write ``rows`` rows of a bench profile ("bench", "messy", "quoted") to ``path``."""
    _VALIDATE.write_profile(path, profile, rows, seed)
