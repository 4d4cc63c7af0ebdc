"""Applying: sending a plan, journalling every request, and the run around it.

``run_plan`` (``run``) is the run lifecycle that ``push``, ``apply``, ``revert`` and the
benchmark share: bind the state, confirm (a callback), start or continue a journalled run,
``apply_plan`` (``apply``: each user's PUT and custom value writes, ``custom_writes``),
remember unchanged rows, count the outcomes (``counts``) and pick the exit code. ``landed``
judges on resume whether an unanswered write landed; ``saved_plan`` checks a plan file
still fits; ``ports`` names what applying needs of the client and the state store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from communal_sync.lazy_exports import LazyExports

if TYPE_CHECKING:
    from communal_sync.applying.apply import ApplyResult, apply_plan
    from communal_sync.applying.counts import Tally, describe_counts, tally_journal, tally_outcomes
    from communal_sync.applying.run import RunHooks, RunOutcome, RunRequest, run_plan

_EXPORTS = LazyExports(
    __name__,
    {
        "apply": ("ApplyResult", "apply_plan"),
        "counts": ("Tally", "describe_counts", "tally_journal", "tally_outcomes"),
        "run": ("RunHooks", "RunOutcome", "RunRequest", "run_plan"),
    },
)


def __getattr__(name: str) -> object:
    """Import a name's module on first use: importing one module of this package does not
    import the others (start-up, see ``communal_sync.lazy_exports``)."""
    return _EXPORTS.load(name)


__all__ = [
    "ApplyResult",
    "RunHooks",
    "RunOutcome",
    "RunRequest",
    "Tally",
    "apply_plan",
    "describe_counts",
    "run_plan",
    "tally_journal",
    "tally_outcomes",
]
