"""Every command says what it does, and everything a user can type is in the README.

Like sqlite-utils' documentation test: an option added without a word in the README, or a
command without help text, fails here rather than surprising an administrator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from support.paths import REPO_ROOT

from communal_sync.cli import app

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every leaf command under ``command`` as ("runs show", command)."""
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from commands(sub, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = dict(commands(ROOT))


def test_there_are_commands_to_check() -> None:
    assert {"validate", "plan", "push", "apply", "runs show", "revert", "sandbox"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_text_and_is_in_the_readme(name: str) -> None:
    command = COMMANDS[name]

    assert (command.help or "").strip(), f"`{name}` has no help text"
    assert f"`{name}" in README, f"`{name}` is not in the README"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_a_command_is_in_the_readme(name: str) -> None:
    options = [o for p in COMMANDS[name].params for o in p.opts if o.startswith("--")]

    missing = [option for option in options if option not in README]

    assert missing == [], f"`{name}` options missing from the README: {missing}"


def test_every_global_option_is_in_the_readme() -> None:
    options = [o for p in ROOT.params for o in p.opts if o.startswith("--")]

    assert [option for option in options if option not in README] == []
