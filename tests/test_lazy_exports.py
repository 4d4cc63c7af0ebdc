"""The packages that resolve their names on first use still export every name they list."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

LAZY_PACKAGES = ["api", "applying", "identity", "planning", "sandbox", "state"]


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_listed_name_resolves_from_its_module(name: str) -> None:
    package = importlib.import_module(f"communal_sync.{name}")

    assert sorted(package.__all__) == package._EXPORTS.names
    for exported in package.__all__:
        assert getattr(package, exported) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    import communal_sync.state as state

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = state.nope  # type: ignore[attr-defined]


def test_importing_one_module_of_a_package_imports_not_the_others() -> None:
    program = (
        "import json, sys\n"
        "import communal_sync.applying.counts\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    modules = json.loads(done.stdout)

    assert "communal_sync.applying.counts" in modules
    assert "communal_sync.applying.run" not in modules
    assert [m for m in modules if m.startswith(("communal_sync.state", "httpx"))] == []
