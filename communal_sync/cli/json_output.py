"""``--json`` on plan, push, apply and revert: one JSON document on stdout, all else on stderr.

The document is, before anything is sent (``plan``, ``push --dry-run``, ``revert
--dry-run``), the saved plan: exactly what ``plan --out`` writes, so ``plan --json >
plan.json`` can be given to ``apply``. After a run it is the run report, exactly what
``--report run.json`` writes. While stdout is reserved every table and line meant for a
person goes to stderr, and there is no room for a question: ``--yes`` (or ``--dry-run``)
is required.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from communal_sync.cli.app import reserve_stdout
from communal_sync.errors import UsageError

if TYPE_CHECKING:
    from communal_sync.cli.options import OutputFlags
    from communal_sync.plan import Plan


def start_json(output: OutputFlags, *, answered: bool, saved_plan: bool) -> None:
    """With ``--json``: refuse what cannot go with it, then send all other output to stderr.

    ``answered`` is whether no question will be asked (``--yes`` or a dry run);
    ``saved_plan`` whether the document is the plan ``apply`` takes (never redacted).
    """
    if not output.as_json:
        return
    if not answered:
        raise UsageError(
            "--json prints one JSON document on standard output, which leaves no room for "
            "the question: add --yes (or --dry-run)."
        )
    if saved_plan and output.redact:
        raise UsageError(
            "--json prints the plan as `apply` takes it, unredacted, so it cannot be combined "
            "with --redact; write a redacted report with --report plan.json --redact instead."
        )
    reserve_stdout()


def print_plan_json(plan: Plan) -> None:
    """The plan as ``plan --out`` saves it, on stdout."""
    typer.echo(plan.model_dump_json(indent=2))
