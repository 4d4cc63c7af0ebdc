"""Machine-readable reports of a plan: JSON, CSV, Markdown and HTML, picked by extension.

    write_report(plan, Path("plan.html"), redact=True)                 # before apply
    write_report(plan, Path("run.html"), outcomes=result.outcomes, run_id=run_id)  # after

``render_report`` returns the text; ``write_report`` writes it privately (mode 0600) and
atomically, so a report holding personal data is never world-readable nor half-written.
With ``redact`` every format is rendered from ``redact_plan(plan)`` and
``redact_run(plan, run)``: one place decides what is personal.

Given ``outcomes`` (or a ``run_id``) the report is a run report: it also says what
happened to each planned user (see ``results``). Without them it is a plan report,
exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal, get_args

from communal_sync.errors import UsageError
from communal_sync.files import private_writer
from communal_sync.plan import Outcome, Plan
from communal_sync.reports.csv_report import (
    RUN_CSV_COLUMNS,
    neutralize_cell,
    neutralize_data_cell,
    render_csv,
)
from communal_sync.reports.html_report import render_html
from communal_sync.reports.json_report import render_json
from communal_sync.reports.markdown_report import render_markdown
from communal_sync.reports.redaction import redact_issue, redact_plan, redact_run
from communal_sync.reports.results import RESULTS, make_run
from communal_sync.reports.shortened import shortened_plan, shortened_run

__all__ = [
    "CSV_BYTE_ORDER_MARK",
    "REPORT_FORMATS",
    "RESULTS",
    "RUN_CSV_COLUMNS",
    "ReportFormat",
    "neutralize_cell",
    "neutralize_data_cell",
    "redact_issue",
    "redact_plan",
    "redact_run",
    "render_report",
    "report_format",
    "write_report",
]

ReportFormat = Literal["json", "csv", "md", "html"]
REPORT_FORMATS: Final[tuple[ReportFormat, ...]] = get_args(ReportFormat)
"""Each format is also the file extension that selects it (case-insensitive)."""

CSV_BYTE_ORDER_MARK: Final = "\ufeff"
"""Written at the start of a CSV report: without it Excel reads UTF-8 as cp1252 ("ZoÃ«")."""


def report_format(path: Path) -> ReportFormat:
    """The report format ``path``'s extension asks for.

    Raises ``UsageError`` for any other extension, naming the supported ones, before
    anything is rendered or written.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    for fmt in REPORT_FORMATS:
        if suffix == fmt:
            return fmt
    supported = ", ".join(f".{fmt}" for fmt in REPORT_FORMATS)
    raise UsageError(
        f"Cannot tell the report format of {str(path)!r}: "
        f"give the report file one of these extensions: {supported}."
    )


def render_report(
    plan: Plan,
    fmt: ReportFormat,
    *,
    redact: bool = False,
    outcomes: Sequence[Outcome] | None = None,
    run_id: int | None = None,
) -> str:
    """The report of ``plan`` in ``fmt`` as text; with ``redact``, personal values masked.

    Field names, user ids, line numbers, provenance and counts stay visible when
    redacting; ``None`` stays ``None`` so a clear still reads as a clear. With
    ``outcomes`` (what ``apply`` returned) and ``run_id`` it is a run report; a planned
    user with no outcome reads ``not_sent``, and the API's messages are scrubbed of the
    user's values when redacting. Every value shown is cut to a fixed length
    (``display.cut``); the PUT bodies in the JSON report stay whole.
    """
    if fmt not in REPORT_FORMATS:
        supported = ", ".join(REPORT_FORMATS)
        raise UsageError(f"Unknown report format {fmt!r}: use one of {supported}.")
    run = make_run(outcomes, run_id)
    shown = shortened_plan(redact_plan(plan) if redact else plan)
    if redact and run is not None:
        run = redact_run(plan, run)
    if run is not None:
        run = shortened_run(run)
    if fmt == "json":
        return render_json(shown, redacted=redact, run=run)
    if fmt == "csv":
        return render_csv(shown, run)
    if fmt == "md":
        return render_markdown(shown, run)
    return render_html(shown, run)


def write_report(
    plan: Plan,
    path: Path,
    *,
    redact: bool = False,
    outcomes: Sequence[Outcome] | None = None,
    run_id: int | None = None,
) -> None:
    """Write the report of ``plan`` to ``path`` in the format its extension names.

    The file is mode 0600 and replaces any old one only once complete. CSV files start
    with a UTF-8 byte-order mark so Excel shows accented names correctly; every other
    format is plain UTF-8. ``outcomes`` and ``run_id`` make it a run report, as in
    ``render_report``.
    """
    path = Path(path)
    fmt = report_format(path)
    text = render_report(plan, fmt, redact=redact, outcomes=outcomes, run_id=run_id)
    with private_writer(path, newline="") as handle:
        if fmt == "csv":
            handle.write(CSV_BYTE_ORDER_MARK)
        handle.write(text)
