"""Safety limits, evaluated on a finished plan before anything is written.

A plan that breaks a limit is *refused* as a whole (exit 4): the administrator sees the
plan and the reason, and nothing is sent. This is what stops a truncated export or a
mis-mapped column from rewriting an organization overnight.
"""

from __future__ import annotations

import re

from communal_sync.errors import UsageError
from communal_sync.plan import Plan

_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_max_changes(text: str) -> tuple[float, bool]:
    """``"50"`` -> (50, False); ``"5%"`` -> (5, True). Anything else is a usage error."""
    found = _LIMIT.match(text)
    if not found:
        raise UsageError(
            f"--max-changes {text!r} is not a number of users or a percentage; "
            'use e.g. --max-changes 200 or --max-changes "10%".'
        )
    value, percent = float(found.group(1)), bool(found.group(2))
    if percent and value > 100:
        raise UsageError(f"--max-changes {text!r} is more than 100%.")
    return value, percent


def check_limits(plan: Plan, *, valid_rows: int) -> str | None:
    """The reason ``plan`` must be refused, or ``None`` when it is within every limit."""
    if valid_rows == 0:
        return (
            "The input has no valid rows, so nothing would be synchronized; "
            "check the file and its column mapping."
        )
    changed = len(plan.to_update)
    if plan.options.max_changes is not None:
        limit, percent = parse_max_changes(plan.options.max_changes)
        matched = changed + len(plan.unchanged)
        allowed = matched * limit / 100 if percent else limit
        if changed > allowed:
            of_what = f" ({limit:g}% of {matched} matched users)" if percent else ""
            return (
                f"{_count(changed, 'user')} would change, more than --max-changes "
                f"{plan.options.max_changes}{of_what}. Check the export; raise the limit "
                "if this is intended."
            )
    if plan.options.max_clears is not None and plan.clears > plan.options.max_clears:
        return (
            f"{_count(plan.clears, 'field')} would be cleared, more than --max-clears "
            f"{plan.options.max_clears}. Check the export; raise the limit if this is intended."
        )
    return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
