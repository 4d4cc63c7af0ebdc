"""Every command's --help: examples that parse, grouped options, words instead of types,
and shell completion (issue 14's CLI conventions)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from support.cli import run_cli

from communal_sync.cli import app
from communal_sync.cli.help_text import EXAMPLES

WIDE = {"COLUMNS": "200"}


def leaf_commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """("runs show", command) for every command that has a --help of its own."""
    if path:
        yield " ".join(path), command
    for name in getattr(command, "list_commands", lambda ctx: [])(None):
        yield from leaf_commands(command.get_command(None, name), (*path, name))


COMMANDS = dict(leaf_commands(typer.main.get_command(app)))


def test_every_command_has_examples() -> None:
    assert set(EXAMPLES) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_help_ends_with_two_or_three_examples_of_that_command(name: str) -> None:
    result = run_cli(*name.split(), "--help", env=WIDE)

    assert result.exit_code == 0
    examples = result.stdout.split("Examples:")[1].split("\n")
    invocations = [line.strip() for line in examples if line.strip()]
    assert 2 <= len(invocations) <= 3
    assert invocations == list(EXAMPLES[name])
    assert all(line.startswith(f"communal-sync {name} ") or line == f"communal-sync {name}"
               for line in invocations)  # fmt: skip


@pytest.mark.parametrize(
    "example", [e for examples in EXAMPLES.values() for e in examples], ids=lambda e: e[14:40]
)
def test_every_example_parses_against_its_command(example: str) -> None:
    """Each example names only options and arguments the command has, with valid values."""
    words = shlex.split(example)[1:]
    names = [w for w in words if not w.startswith("-")][:2]
    path = " ".join(names) if " ".join(names) in COMMANDS else names[0]
    command = COMMANDS[path]

    context = command.make_context(path, words[len(path.split()) :], resilient_parsing=False)

    assert context.command is command


TYPE_LEAKS = re.compile(r"<str>|<int|<float|<bool>|<path>|list\[|\{[A-Z_]+\}|<[a-z]+ range>")


@pytest.mark.parametrize("name", ["", *sorted(COMMANDS)])
def test_no_help_shows_a_python_type_for_a_metavar(name: str) -> None:
    result = run_cli(*name.split(), "--help", env=WIDE)

    assert result.exit_code == 0
    assert TYPE_LEAKS.findall(result.stdout) == []


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (["push"], "push [OPTIONS] FILE"),
        (["link"], "link [OPTIONS] [FILE]"),
        (["runs", "show"], "runs show [OPTIONS] RUN"),
    ],
)
def test_usage_lines_name_arguments_as_typed(command: list[str], usage: str) -> None:
    result = run_cli(*command, "--help", env=WIDE)

    assert f"Usage: communal-sync {usage}" in result.stdout


def test_push_help_groups_its_options_in_the_order_of_the_work() -> None:
    result = run_cli("push", "--help", env=WIDE)

    panels = re.findall(r"╭─ (.+?) ─", result.stdout)
    assert panels == [
        "Arguments",
        "Options",
        "Input & mapping",
        "Matching",
        "Plan & safety",
        "Output & reports",
        "API & state",
    ]


def test_a_panel_holds_its_options() -> None:
    result = run_cli("push", "--help", env=WIDE)

    matching = result.stdout.split("─ Matching ─")[1].split("╰")[0]
    assert re.findall(r"│ (--[a-z-]+)", matching) == ["--full-refresh", "--discover", "--trust-ids"]


def test_help_text_is_static_so_markup_in_it_is_shown_as_written() -> None:
    """Help renders as rich markup: a bracket in an option's words must still show."""
    result = run_cli("push", "--help", env=WIDE)

    assert "[default: skip]" in result.stdout


ENTRY_POINT = str(Path(sys.executable).parent / "communal-sync")


def completion(shell: str, env: dict[str, str]) -> str:
    """What the real ``communal-sync`` answers a ``shell`` completion request."""
    done = subprocess.run(
        [ENTRY_POINT],
        capture_output=True,
        text=True,
        env={**os.environ, "_COMMUNAL_SYNC_COMPLETE": f"complete_{shell}", **env},
        check=True,
    )
    return done.stdout


def test_show_completion_prints_the_bash_script_from_bash() -> None:
    # "; true" keeps bash the parent process: typer asks the process tree for the shell.
    done = subprocess.run(
        ["bash", "-c", f"{shlex.quote(ENTRY_POINT)} --show-completion; true"],
        capture_output=True,
        text=True,
        env={**os.environ, "SHELL": "/bin/bash"},
        check=True,
    )

    assert "_COMMUNAL_SYNC_COMPLETE=complete_bash" in done.stdout
    assert done.stdout.rstrip().endswith(
        "complete -o default -F _communal_sync_completion communal-sync"
    )


def test_bash_completes_command_names_and_then_a_commands_options() -> None:
    assert completion("bash", {"COMP_WORDS": "communal-sync pu", "COMP_CWORD": "1"}) == "push\n"
    options = completion("bash", {"COMP_WORDS": "communal-sync push --dry", "COMP_CWORD": "2"})
    assert options.split() == ["--dry-run"]


def test_zsh_completes_command_names_with_their_one_line_help() -> None:
    answer = completion("zsh", {"_TYPER_COMPLETE_ARGS": "communal-sync pu"})

    assert '"push":"Plan, show, confirm, then send the changes."' in answer


def test_install_completion_and_show_completion_are_global_options() -> None:
    result = run_cli("--help", env=WIDE)

    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
