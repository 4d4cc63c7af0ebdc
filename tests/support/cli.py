"""Running the real ``communal-sync`` command in-process and capturing what it printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CliResult:
    """What a command run printed and returned."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
    """Run the real ``communal-sync`` command in-process and capture its output."""
    from typer.testing import CliRunner

    from communal_sync.cli import app

    runner = CliRunner()
    result = runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)
