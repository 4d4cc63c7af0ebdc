"""The ``communal-sync`` command line: parse, call the core, render, pick the exit code."""

from __future__ import annotations

# Importing the command modules registers their commands on ``app``.
from communal_sync.cli import (
    apply,
    doctor,
    init,
    link,
    lookup,
    plan,
    push,
    revert,
    runs,
    sandbox,
    validate,
)
from communal_sync.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = [
    "app",
    "apply",
    "doctor",
    "init",
    "link",
    "lookup",
    "main",
    "plan",
    "push",
    "revert",
    "runs",
    "sandbox",
    "validate",
]
