"""Start-up: a command imports only what it uses (issue 11).

Each case runs the real entry point (``communal_sync.cli.main``) in a fresh interpreter and
reads back the modules it imported: ``--help`` and ``--version`` need neither the network
client, the state file, the sandbox nor the telephone and country data; ``validate`` needs
the data but not the client, the state file or the sandbox. No timings here: the figures
are ``bench/startup.py``'s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from communal_sync.cli.app import COMMANDS

WRAPPER = """
import json, sys
from communal_sync.cli import main
sys.argv = ["communal-sync", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

NETWORK_AND_STATE = ("httpx", "communal_sync.sandbox", "communal_sync.state", "sqlite3")
PHONE_AND_COUNTRY = ("phonenumbers", "pycountry")


def run_fresh(*args: str, cwd: Path | None = None) -> tuple[int, list[str]]:
    """Exit code and ``sys.modules`` of ``communal-sync ARGS`` in a new interpreter."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COMMUNAL_", "_COMMUNAL_SYNC_COMPLETE"))
    }
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "80", "NO_COLOR": "1"},
        cwd=cwd,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["exit"], report["modules"]


def imported(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    """The imported modules that are one of ``roots`` or inside one."""
    return [m for m in modules if any(m == r or m.startswith(f"{r}.") for r in roots)]


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["push", "--help"]], ids=["help", "version", "push-help"]
)
def test_help_and_version_import_no_client_state_sandbox_phone_or_country_data(
    args: list[str],
) -> None:
    code, modules = run_fresh(*args)

    assert code == 0
    assert imported(modules, NETWORK_AND_STATE + PHONE_AND_COUNTRY) == []


def test_top_level_help_imports_no_command_module() -> None:
    code, modules = run_fresh("--help")

    assert code == 0
    assert imported(modules, tuple(entry.module for entry in COMMANDS)) == []


def test_validate_imports_no_client_state_or_sandbox(tmp_path: Path) -> None:
    export = tmp_path / "ten.csv"
    rows = [f"Ana{n},Lee,ana{n}@example.org,CA" for n in range(10)]
    export.write_text("first_name,last_name,email,country\n" + "\n".join(rows) + "\n")

    code, modules = run_fresh("validate", str(export), cwd=tmp_path)

    assert code == 0
    assert imported(modules, NETWORK_AND_STATE) == []
    assert imported(modules, ("communal_sync.session", "communal_sync.cli.push")) == []


def test_validate_of_invalid_rows_imports_no_client_state_or_sandbox(tmp_path: Path) -> None:
    """The problem report and the error-column writer are used too, and stay off the network."""
    export = tmp_path / "bad.csv"
    export.write_text(
        "first_name,last_name,email,country,telephone\n"
        "Ana,Lee,not-an-email,Narnia,+1 416 555 0101\n"
        ",Lee,bo@example.org,CA,(416) 555-0102\n"
    )

    code, modules = run_fresh("validate", str(export), cwd=tmp_path)

    assert code == 3
    assert imported(modules, NETWORK_AND_STATE) == []


def test_no_cli_module_imports_client_state_sandbox_phone_or_country_data_at_import() -> None:
    """The start-up rule: what a command needs of those is imported inside the command."""
    cli = Path(__file__).parents[2] / "communal_sync" / "cli"
    names = sorted(f"communal_sync.cli.{p.stem}" for p in cli.glob("*.py") if p.stem != "__init__")
    program = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    modules = json.loads(done.stdout)

    assert "communal_sync.cli.push" in modules
    assert imported(modules, NETWORK_AND_STATE + PHONE_AND_COUNTRY) == []
