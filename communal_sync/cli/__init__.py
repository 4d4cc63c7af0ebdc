"""The ``communal-sync`` command line: parse, call the core, render, pick the exit code."""

from __future__ import annotations

# Importing the command modules registers their commands on ``app``.
from communal_sync.cli import (
    history,
    inspect,
    link,
    plan,
    push,
    sandbox,
    saved_plan,
    validate,
)
from communal_sync.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = [
    "app",
    "history",
    "inspect",
    "link",
    "main",
    "plan",
    "push",
    "sandbox",
    "saved_plan",
    "validate",
]
