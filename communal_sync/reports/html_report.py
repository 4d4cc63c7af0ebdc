"""The HTML report: one self-contained page that says first what happened and what needs
action, then each person's changes.

In order (``overview``): the headline ("10 users updated, 2 failed") and count cards, the
per-field summary, the rows that need action, warnings, changes by person (each a
``<details>``, open for small reports), the users with only first-time writes folded into
one table, locked fields, skipped duplicates, unmapped columns, and the plan's details.
A section with nothing in it is not written at all.

Self-contained: inline CSS and a small inline script, no external resource, and a
Content-Security-Policy allowing exactly that style and that script (by their hashes) and
nothing else, so a value that slipped past escaping still could not run or phone home.
Every piece of text goes through ``html.escape`` (quotes included) and no value is ever
put in an attribute. The script only adds the filter box (and expand/collapse buttons, and
opens every section before printing):
with JavaScript off every section is there and readable, only filtering is lost. The
filter can also be set from the address: ``report.html#filter=okafor``.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from pathlib import PurePath
from typing import Final

from communal_sync.plan import Plan, UserPlan
from communal_sync.reports.overview import (
    OPEN_PEOPLE_LIMIT,
    ActionGroup,
    Card,
    cards,
    duplicate_group,
    field_table,
    first_time_table,
    first_time_title,
    headline,
    needs_action,
    outcome_sentence,
    people,
    person_fields,
    person_title,
    result_cell,
    summary_line,
)
from communal_sync.reports.results import Run
from communal_sync.reports.tables import (
    RUN_TITLE,
    TITLE,
    Cell,
    Table,
    first_time_changes_table,
    locked_table,
    plan_facts,
    run_facts,
    seen_changes_table,
    user_facts,
)

STYLE: Final = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d0d7de; --soft: #f6f8fa; }
[hidden] { display: none !important; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.2rem 2rem 3rem;
  max-width: 80rem; color: var(--fg); line-height: 1.4; }
.kind { color: var(--muted); margin: 0; font-size: .9rem; }
h1 { font-size: 1.7rem; margin: .2rem 0; }
h2 { margin: 1.8rem 0 .5rem; font-size: 1.3rem; }
h3 { margin: 1.2rem 0 .3rem; font-size: 1.05rem; }
.summary { margin: .2rem 0 .8rem; color: var(--muted); }
.refused { border-left: 4px solid #cf222e; background: #ffebe9; padding: .6rem 1rem; }
.cards { display: flex; flex-wrap: wrap; gap: .6rem; list-style: none; padding: 0;
  margin: .8rem 0; }
.card { min-width: 6.5rem; border: 1px solid var(--line); border-top-width: 4px;
  border-radius: 6px; padding: .4rem .7rem; background: #fff; }
.card a, .card span { color: inherit; text-decoration: none; display: block; }
.card .count { font-size: 1.7rem; font-weight: 700; line-height: 1.1; }
.card .label { font-size: .9rem; }
nav { font-size: .92rem; margin: .4rem 0; }
nav a { margin-right: .9rem; }
.tools { margin: .6rem 0; display: flex; gap: .6rem; align-items: center; }
.tools input { font: inherit; padding: .25rem .5rem; width: 22rem; max-width: 60vw; }
.tools button { font: inherit; font-size: .85rem; }
#filter-count { color: var(--muted); font-size: .9rem; }
table { border-collapse: collapse; margin: .4rem 0 .8rem; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; text-align: left;
  vertical-align: top; white-space: pre-wrap; }
th { background: var(--soft); font-weight: 600; }
.placeholder { color: var(--muted); font-style: italic; }
.hint { color: var(--muted); margin: .2rem 0; }
.group { border-left: 4px solid #cf222e; padding-left: .8rem; }
details.person { border: 1px solid var(--line); border-radius: 6px; margin: .35rem 0;
  padding: .2rem .8rem; }
details.person[open] { padding-bottom: .4rem; }
details.person > summary { cursor: pointer; padding: .2rem 0; }
summary .name { font-weight: 600; }
summary .meta, summary .fields { color: var(--muted); margin-left: .6rem; }
.badge { border-radius: 1rem; padding: 0 .55rem; margin-left: .6rem; font-size: .85rem;
  border: 1px solid; }
.facts { margin: .3rem 0; }
.first-time { border-left: 4px dashed #8250df; padding-left: .8rem; color: var(--muted); }
.first-time h4 { margin: .4rem 0 .1rem; font-size: .95rem; font-weight: 600; }
details.fold > summary { cursor: pointer; }
details.fold > summary h2 { display: inline; font-size: 1.15rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; }
.tone-good { color: #1a7f37; } .card.tone-good, .badge.tone-good { border-color: #1a7f37; }
.tone-change { color: #0969da; } .card.tone-change { border-color: #0969da; }
.tone-bad { color: #cf222e; } .card.tone-bad, .badge.tone-bad { border-color: #cf222e; }
.tone-warn { color: #9a6700; } .card.tone-warn, .badge.tone-warn { border-color: #bf8700; }
.tone-info { color: #8250df; } .card.tone-info { border-color: #8250df; }
.tone-neutral { color: var(--muted); }
td.tone-bad { background: #ffebe9; } td.tone-warn { background: #fff8c5; }
td.tone-good { background: #dafbe1; }
.warnings li { color: #9a6700; }
""".strip()

SCRIPT: Final = """
(function () {
  var box = document.getElementById("filter");
  var tools = document.getElementById("tools");
  var count = document.getElementById("filter-count");
  var items = Array.prototype.slice.call(document.querySelectorAll(".item"));
  var parts = Array.prototype.slice.call(document.querySelectorAll("[data-filtered]"));
  function apply() {
    var query = box.value.trim().toLowerCase();
    var shown = 0;
    items.forEach(function (item) {
      var hit = !query || item.textContent.toLowerCase().indexOf(query) >= 0;
      item.hidden = !hit;
      if (hit) { shown += 1; }
    });
    parts.forEach(function (part) {
      part.hidden = query !== "" && part.querySelector(".item:not([hidden])") === null;
    });
    count.textContent = query ? shown + " of " + items.length + " shown" : "";
    document.body.setAttribute("data-shown", String(shown));
  }
  function fromAddress() {
    var found = /^#filter=(.*)$/.exec(window.location.hash);
    if (found) { box.value = decodeURIComponent(found[1]); apply(); }
  }
  function openAll(open) {
    document.querySelectorAll("details").forEach(function (d) { d.open = open; });
  }
  tools.hidden = false;
  box.addEventListener("input", apply);
  window.addEventListener("hashchange", fromAddress);
  document.getElementById("expand").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { openAll(false); });
  window.addEventListener("beforeprint", function () { openAll(true); });
  fromAddress();
})();
""".strip()


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CONTENT_SECURITY_POLICY: Final = (
    f"default-src 'none'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; "
    "base-uri 'none'; form-action 'none'"
)
"""Only this page's own style and script (by hash) may apply; nothing may be fetched."""

WARNINGS_OPEN_LIMIT: Final = 10
"""More warnings than this are folded (a revert can warn once per user)."""


def render_html(plan: Plan, run: Run | None = None) -> str:
    """The report as a complete HTML5 document (UTF-8), ending in a newline.

    With ``run`` it is a run report: the headline says what was sent, the cards count
    results, failures lead the rows that need action, and each person shows their result.
    """
    title = headline(plan, run)
    kind = TITLE if run is None else RUN_TITLE
    if run is not None and run.run_id is not None:
        kind += f" {run.run_id}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{escape(title)} · {escape(kind)}: {escape(_file_name(plan))}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f'<p class="kind">{escape(kind)} · {escape(plan.input.name)} · '
        f"{escape(plan.created_at)}</p>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{escape(summary_line(plan, run))}</p>',
    ]
    if plan.refused:
        parts.append(f'<p class="refused"><strong>Refused:</strong> {escape(plan.refused)}</p>')
    parts.append(_cards(cards(plan, run)))
    body, links = _sections(plan, run)
    if links:
        nav = " ".join(f'<a href="#{key}">{escape(label)}</a>' for key, label in links)
        parts.append(f"<nav>{nav}</nav>")
    parts += [
        '<p class="tools" id="tools" hidden>',
        '<input type="search" id="filter" aria-label="Filter"'
        ' placeholder="Filter: a name, user id, line, field or value">',
        '<span id="filter-count"></span>',
        '<button type="button" id="expand">Expand all</button>',
        '<button type="button" id="collapse">Collapse all</button>',
        "</p>",
        "</header>",
        "<main>",
        *body,
        "</main>",
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _file_name(plan: Plan) -> str:
    """The input's file name without its directories: a browser tab is narrow."""
    return PurePath(plan.input.name).name or plan.input.name


def _cards(shown: list[Card]) -> str:
    items = []
    for card in shown:
        label = escape(card.label)
        inner = f'<span class="count">{card.count}</span><span class="label">{label}</span>'
        if card.target is not None and card.count:
            inner = f'<a href="#{card.target}">{inner}</a>'
        items.append(f'<li class="card tone-{card.tone}">{inner}</li>')
    return '<ul class="cards">\n' + "\n".join(items) + "\n</ul>"


def _sections(plan: Plan, run: Run | None) -> tuple[list[str], list[tuple[str, str]]]:
    """Every non-empty section in order, and (id, label) links to them for the nav."""
    body: list[str] = []
    links: list[tuple[str, str]] = []

    def section(key: str, label: str, content: list[str], *, filtered: bool = True) -> None:
        attribute = " data-filtered" if filtered else ""
        body.append(f'<section id="{key}"{attribute}>')
        body.extend(content)
        body.append("</section>")
        links.append((key, label))

    fields = field_table(plan, run)
    if fields.rows:
        section(
            "fields",
            "Fields",
            ["<h2>Fields</h2>", _table(fields, items=False)],
            filtered=False,
        )
    groups = needs_action(plan, run)
    if groups:
        content = ["<h2>Needs action</h2>"]
        content += [_group(group) for group in groups]
        section("needs-action", "Needs action", content)
    if plan.warnings:
        folded = len(plan.warnings) > WARNINGS_OPEN_LIMIT
        items = "\n".join(f'<li class="item">{escape(w)}</li>' for w in plan.warnings)
        listed = f'<ul class="warnings">\n{items}\n</ul>'
        count = len(plan.warnings)
        if folded:
            listed = f"<details><summary>{count} warnings</summary>\n{listed}\n</details>"
        section("warnings", "Warnings", [f"<h2>Warnings ({count})</h2>", listed])
    split = people(plan)
    if split.changed:
        open_ = len(split.changed) <= OPEN_PEOPLE_LIMIT
        count = len(split.changed)
        content = [f"<h2>Changes by person ({count})</h2>"]
        content += [_person(user, run, open_=open_) for user in split.changed]
        section("changes", "Changes", content)
    if split.first_time_only:
        table = first_time_table(split.first_time_only, run)
        content = [
            '<details class="fold first-time">',
            f"<summary><h2>{escape(first_time_title(split.first_time_only))}</h2></summary>",
            '<p class="hint">Communal never shows these fields, so there is no old value to '
            "compare: each is the first value we send.</p>",
            _table(table),
            "</details>",
        ]
        section("first-time", "First-time writes", content)
    if not plan.users:
        body.append("<p>Nothing to update.</p>")
    locked = locked_table(plan)
    if locked.rows:
        section("locked", "Locked fields", ["<h2>Locked fields (not written)</h2>", _table(locked)])
    duplicates = duplicate_group(plan)
    if duplicates is not None:
        section(
            "duplicate",
            "Duplicates",
            [f"<h2>{escape(duplicates.title)}</h2>", _table(duplicates.table)],
        )
    if plan.unmapped_columns:
        items = "\n".join(f'<li class="item">{escape(c)}</li>' for c in plan.unmapped_columns)
        section(
            "unmapped", "Unmapped columns", ["<h2>Unmapped columns</h2>", f"<ul>\n{items}\n</ul>"]
        )
    facts = plan_facts(plan) + ([] if run is None else run_facts(plan, run))
    listed = "\n".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>" for label, text in facts)
    section("details", "Details", ["<h2>Details</h2>", f"<dl>\n{listed}\n</dl>"], filtered=False)
    return body, links


def _group(group: ActionGroup) -> str:
    parts = [f'<section class="group" id="{group.key}" data-filtered>']
    parts.append(f"<h3>{escape(group.title)}</h3>")
    if group.hint:
        parts.append(f'<p class="hint">{escape(group.hint)}</p>')
    parts += [_table(group.table), "</section>"]
    return "\n".join(parts)


def _person(user: UserPlan, run: Run | None, *, open_: bool) -> str:
    badge = ""
    if run is not None:
        result = result_cell(run.result_of(user))
        badge = f'<span class="badge tone-{result.tone}">{escape(result.text)}</span>'
    opened = " open" if open_ else ""
    name, _, meta = person_title(user).partition(" · ")
    parts = [
        f'<details class="person item" id="user-{user.user_id}"{opened}>',
        f'<summary><span class="name">{escape(name)}</span>'
        f'<span class="meta">{escape(meta)}</span>'
        f'<span class="fields">{escape(person_fields(user))}</span>{badge}</summary>',
        f'<p class="facts">{escape(" ".join(user_facts(user)))}</p>',
    ]
    if run is not None:
        parts.append(f'<p class="facts">{escape(outcome_sentence(user, run))}</p>')
    seen = seen_changes_table(user)
    if seen.rows:
        parts.append(_table(seen, items=False))
    first = first_time_changes_table(user)
    if first.rows:
        parts += [
            '<div class="first-time">',
            "<h4>First-time writes (Communal never shows these fields)</h4>",
            _table(first, items=False),
            "</div>",
        ]
    parts.append("</details>")
    return "\n".join(parts)


def _table(table: Table, *, items: bool = True) -> str:
    """A table; with ``items`` each body row is one thing the filter shows or hides."""
    head = "".join(f"<th>{escape(header)}</th>" for header in table.headers)
    row_open = '<tr class="item">' if items else "<tr>"
    body = "\n".join(
        row_open + "".join(_cell(cell) for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _cell(cell: Cell) -> str:
    classes = []
    if cell.placeholder:
        classes.append("placeholder")
    if cell.tone is not None:
        classes.append(f"tone-{cell.tone}")
    if classes:
        return f'<td class="{" ".join(classes)}">{escape(cell.text)}</td>'
    return f"<td>{escape(cell.text)}</td>"
