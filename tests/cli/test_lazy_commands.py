"""The command list is known without importing the commands, and agrees with them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import typer
from support.cli import run_cli

from communal_sync.cli.app import COMMANDS, app
from communal_sync.cli.lazy import LazyCommands
from communal_sync.cli.sandbox import DEFAULT_HOST

WORKFLOW_ORDER = [
    "init",
    "doctor",
    "validate",
    "link",
    "plan",
    "push",
    "apply",
    "runs",
    "revert",
    "user",
    "fields",
    "sandbox",
]


def registered_names() -> dict[str, str]:
    """Every command registered on ``app`` once every command module is imported, with the
    module that registered it."""
    for entry in COMMANDS:
        importlib.import_module(entry.module)
    names = {}
    for info in app.registered_commands:
        assert info.callback is not None
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        names[name] = info.callback.__module__
    for group in app.registered_groups:
        assert group.name and group.typer_instance and group.typer_instance.registered_callback
        callback = group.typer_instance.registered_callback.callback
        assert callback is not None
        names[group.name] = callback.__module__
    return names


def test_every_registered_command_has_an_entry_naming_its_module() -> None:
    assert registered_names() == {entry.name: entry.module for entry in COMMANDS}


def test_top_level_help_lists_the_commands_in_workflow_order_uncut_at_80_columns() -> None:
    result = run_cli("--help", env={"COLUMNS": "80"})

    assert result.exit_code == 0
    command_list = result.stdout.split("─ Commands ─")[1]
    rows = [line for line in command_list.splitlines() if line.startswith("│")]
    listed = [row.strip("│ ").split()[0] for row in rows]
    assert listed == WORKFLOW_ORDER, result.stdout
    assert "…" not in command_list and "..." not in command_list
    for entry in COMMANDS:
        assert f"{entry.name:<9} {entry.short_help}" in result.stdout


def test_a_built_command_shows_its_entry_line_in_lists() -> None:
    root = typer.main.get_command(app)
    commands = root.commands  # type: ignore[attr-defined]
    assert isinstance(commands, LazyCommands)

    for entry in COMMANDS:
        assert commands[entry.name].short_help == entry.short_help


def test_a_mistyped_command_is_a_plain_usage_error_with_a_suggestion() -> None:
    result = run_cli("pusj")

    assert result.exit_code == 2
    assert "Error: No such command 'pusj'. Did you mean 'push'?" in result.stderr
    assert "╭" not in result.stderr


def test_the_sandbox_command_default_host_is_the_servers() -> None:
    from communal_sync.sandbox.server import DEFAULT_HOST as SERVER_DEFAULT_HOST

    assert DEFAULT_HOST == SERVER_DEFAULT_HOST


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["push", "x.csv", "--concurrency", "99"],
            "Error: Invalid value for '--concurrency': Input should be less than or equal to 32",
        ),
        (
            ["validate", "x.csv", "--format", "yaml"],
            "Error: Invalid value for '--format': Value error, 'yaml' is not one of 'text', "
            "'json'.",
        ),
        (
            ["runs", "--limit", "abc"],
            "Error: Invalid value for '--limit': Input should be a valid integer",
        ),
    ],
    ids=["range", "choice", "integer"],
)
def test_a_given_value_is_still_checked_though_coercion_is_built_on_demand(
    args: list[str], message: str
) -> None:
    result = run_cli(*args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_options_left_unset_get_their_defaults(tmp_path: Path) -> None:
    export = tmp_path / "one.csv"
    export.write_text("first_name,last_name,email\nAna,Lee,ana@example.org\n")

    result = run_cli("validate", str(export), "--format", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["rows"] == 1
