"""The JSON report: the summary, the counts a script would check, and the whole plan.

A run report adds ``run_id``, ``result_counts`` (planned users by result: applied,
already, failed, conflict, not_sent, held_back) and ``outcomes`` (every ``Outcome`` as
the run reported it) before the plan; a plan report has none of these keys.
"""

from __future__ import annotations

import json
from typing import Any

from communal_sync.plan import Plan
from communal_sync.reports.results import Run

JSON_INDENT = 2


def render_json(plan: Plan, *, redacted: bool, run: Run | None = None) -> str:
    """The report as indented JSON text ending in a newline.

    ``redacted`` only labels the document: the caller passes a plan already masked. The
    label also tells ``apply`` and people apart from a real plan file that this one's
    values are not the ones to send.
    """
    document: dict[str, Any] = {
        "summary": plan.summary(),
        "counts": plan.counts(),
        "refused": plan.refused,
        "redacted": redacted,
    }
    if run is not None:
        document["run_id"] = run.run_id
        document["result_counts"] = run.counts(plan)
        document["outcomes"] = [outcome.model_dump(mode="json") for outcome in run.outcomes]
    document["plan"] = plan.model_dump(mode="json")
    return json.dumps(document, indent=JSON_INDENT, ensure_ascii=False) + "\n"
