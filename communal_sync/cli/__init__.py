"""The ``communal-sync`` command line: parse, call the core, render, pick the exit code.

Importing this package imports no command module: each is imported when its command runs
(``app.COMMANDS``, ``lazy.py``), so ``--help`` and ``validate`` start without the rest.
"""

from __future__ import annotations

from communal_sync.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
