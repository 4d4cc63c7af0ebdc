"""The JSON report: the summary, the counts a script would check, and the whole plan."""

from __future__ import annotations

import json
from typing import Any

from communal_sync.plan import Plan

JSON_INDENT = 2


def plan_counts(plan: Plan) -> dict[str, int]:
    """The numbers behind the summary line; issue counts are rows, not error messages."""
    return {
        "to_update": len(plan.to_update),
        "unchanged": len(plan.unchanged),
        "invalid": plan.issue_count("invalid"),
        "unmatched": plan.issue_count("unmatched"),
        "ambiguous": plan.issue_count("ambiguous"),
        "duplicate": plan.issue_count("duplicate"),
        "conflicts": plan.conflicts,
        "clears": plan.clears,
    }


def render_json(plan: Plan, *, redacted: bool) -> str:
    """The report as indented JSON text ending in a newline.

    ``redacted`` only labels the document: the caller passes a plan already masked. The
    label also tells ``apply`` and people apart from a real plan file that this one's
    values are not the ones to send.
    """
    document: dict[str, Any] = {
        "summary": plan.summary(),
        "counts": plan_counts(plan),
        "refused": plan.refused,
        "redacted": redacted,
        "plan": plan.model_dump(mode="json"),
    }
    return json.dumps(document, indent=JSON_INDENT, ensure_ascii=False) + "\n"
