"""The HTML report: one self-contained page with the same sections as the Markdown report.

No script, no external resource (inline CSS only), and a Content-Security-Policy that
forbids both, so a value that slipped past escaping still could not run or phone home.
Every piece of text goes through ``html.escape`` (quotes included).
"""

from __future__ import annotations

from html import escape
from typing import Final

from communal_sync.plan import Plan
from communal_sync.reports.results import Run
from communal_sync.reports.tables import (
    RUN_TITLE,
    TITLE,
    Cell,
    Table,
    change_table,
    conflict_table,
    issue_table,
    locked_table,
    plan_facts,
    result_table,
    run_facts,
    user_facts,
    user_heading,
)

CONTENT_SECURITY_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'"

STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; } h3 { margin-bottom: .3rem; }
.summary { font-size: 1.15rem; font-weight: 600; }
.refused { border-left: 4px solid #cf222e; background: #ffebe9; padding: .6rem 1rem; }
.warnings li { color: #9a6700; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left;
  vertical-align: top; white-space: pre-wrap; }
th { background: #f6f8fa; }
.placeholder { color: #59636e; font-style: italic; }
""".strip()


def render_html(plan: Plan, run: Run | None = None) -> str:
    """The report as a complete HTML5 document (UTF-8), ending in a newline.

    With ``run`` it is a run report, with the same additions as the Markdown one.
    """
    title = TITLE if run is None else RUN_TITLE
    facts = plan_facts(plan) + ([] if run is None else run_facts(plan, run))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}: {escape(plan.input.name)}</title>",
        f"<style>\n{STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{escape(plan.summary())}</p>',
        "<dl>",
    ]
    for label, text in facts:
        parts.append(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>")
    parts.append("</dl>")
    if plan.refused:
        parts.append(f'<p class="refused"><strong>Refused:</strong> {escape(plan.refused)}</p>')
    if plan.warnings:
        parts += ["<h2>Warnings</h2>", '<ul class="warnings">']
        parts += [f"<li>{escape(warning)}</li>" for warning in plan.warnings]
        parts.append("</ul>")
    if run is not None:
        parts += ["<h2>Results</h2>", _table(result_table(plan, run), empty="No user to send.")]
    parts.append("<h2>Changes</h2>")
    if not plan.users:
        parts.append("<p>No user to update.</p>")
    for user in plan.users:
        parts.append(f"<h3>{escape(user_heading(user, run))}</h3>")
        parts.append(f"<p>{escape(' '.join(user_facts(user)))}</p>")
        parts.append(_table(change_table(user), empty="No field changes."))
    parts += ["<h2>Conflicts</h2>", _table(conflict_table(plan), empty="No conflicts.")]
    parts += [
        "<h2>Locked fields (not written)</h2>",
        _table(locked_table(plan), empty="No locked field differs."),
    ]
    parts += ["<h2>Row issues</h2>", _table(issue_table(plan), empty="No row issues.")]
    if plan.unmapped_columns:
        parts += ["<h2>Unmapped columns</h2>", "<ul>"]
        parts += [f"<li>{escape(column)}</li>" for column in plan.unmapped_columns]
        parts.append("</ul>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _table(table: Table, *, empty: str) -> str:
    if not table.rows:
        return f"<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(header)}</th>" for header in table.headers)
    body = "\n".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in table.rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _cell(cell: Cell) -> str:
    if cell.placeholder:
        return f'<td class="placeholder">{escape(cell.text)}</td>'
    return f"<td>{escape(cell.text)}</td>"
