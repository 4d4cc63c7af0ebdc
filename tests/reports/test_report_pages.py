"""The Markdown and HTML reports read in order: what happened, counts, fields, what needs
action, then people; empty sections are absent; the page is self-contained and strict."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from support.report_plans import first_address, full_plan, outcomes, person, phone

from communal_sync.plan import Conflict, EmailChange, Outcome, Plan
from communal_sync.reports import render_report
from communal_sync.reports.overview import OPEN_PEOPLE_LIMIT, people
from communal_sync.reports.redaction import REDACTED


def positions(text: str, markers: list[str]) -> list[int]:
    found = [text.find(marker) for marker in markers]
    missing = [m for m, at in zip(markers, found, strict=True) if at < 0]
    assert missing == [], "missing from the report"
    return found


# --- order --------------------------------------------------------------------------------


def test_html_sections_come_in_reading_order() -> None:
    text = render_report(full_plan(), "html", outcomes=outcomes(), run_id=3)
    markers = [
        "<h1>",
        '<ul class="cards">',
        "<h2>Fields</h2>",
        "<h2>Needs action</h2>",
        "<h3>Failed (1)</h3>",
        "<h3>Changed in Communal since planned (1)</h3>",
        "<h3>Conflicts (1)</h3>",
        "<h3>Invalid rows (1)</h3>",
        "<h3>Unmatched rows (1)</h3>",
        "<h3>Mismatched rows (the id is someone else&#x27;s) (1)</h3>",
        "<h3>Ambiguous rows (1)</h3>",
        "<h3>Unreachable rows (1)</h3>",
        "<h3>Rows in an email cycle (1)</h3>",
        "<h3>Not sent (2)</h3>",
        "<h2>Warnings (1)</h2>",
        "<h2>Changes by person (3)</h2>",
        "first-time writes only",
        "<h2>Locked fields (not written)</h2>",
        "<h2>Skipped duplicates (1)</h2>",
        "<h2>Unmapped columns</h2>",
        "<h2>Details</h2>",
    ]
    found = positions(text, markers)
    assert found == sorted(found)


def test_markdown_follows_the_same_order() -> None:
    text = render_report(full_plan(), "md", outcomes=outcomes(), run_id=3)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# 1 user updated, 1 failed, 1 changed in Communal since planned, 2 not sent",
        "## Fields",
        "## Needs action",
        "### Failed (1)",
        "### Changed in Communal since planned (1)",
        "### Conflicts (1)",
        "### Invalid rows (1)",
        "### Unmatched rows (1)",
        "### Mismatched rows (the id is someone else's) (1)",
        "### Ambiguous rows (1)",
        "### Unreachable rows (1)",
        "### Rows in an email cycle (1)",
        "### Not sent (2)",
        "## Warnings (1)",
        "## Changes by person (3)",
        "### Amara Okafor · user 101 · line 1 — applied",
        "### Chen Wei · user 103 · line 3 — conflict",
        "### Dana Whitfield · user 104 · line 4 — not sent",
        "## 2 users: first-time writes only (profile_address, profile_city), over values "
        "Communal never shows",
        "## Locked fields (not written)",
        "## Skipped duplicates (1)",
        "## Unmapped columns",
        "## Details",
    ]


def test_counts_come_before_the_sections_in_markdown() -> None:
    text = render_report(full_plan(), "md", outcomes=outcomes(), run_id=3)
    counts = text[: text.index("## Fields")]
    for line in (
        "- **1** user updated",
        "- **1** failed",
        "- **1** changed since planned",
        "- **2** not sent",
        "- **1** unchanged",
        "- **1** conflict",
        "- **1** invalid",
        "- **1** unmatched",
        "- **1** ambiguous",
        "- **1** in an email cycle",
        "- **4** first-time writes",
        "- **1** locked field",
        "- **1** duplicate skipped",
    ):
        assert f"\n{line}\n" in counts, line


# --- titles ---------------------------------------------------------------------------------


def simple_plan(count: int, **overrides: object) -> Plan:
    users = tuple(
        person(101 + n, f"Member{n} Person", phone("+1 416 555 0100", f"+1 416 555 01{n:02d}"))
        for n in range(count)
    )
    return full_plan(users=users, issues=(), unmapped_columns=(), warnings=(), **overrides)


@pytest.mark.parametrize(
    ("plan", "results", "title"),
    [
        (simple_plan(10), None, "10 users to update"),
        (simple_plan(1), None, "1 user to update"),
        (simple_plan(0), None, "Nothing to update"),
        (simple_plan(3, refused="Too many."), None, "Refused: 3 users to update, nothing sent"),
        (simple_plan(3), ["applied"] * 3, "3 users updated"),
        (simple_plan(3), ["applied", "failed", "failed"], "1 user updated, 2 failed"),
        (simple_plan(3), ["applied"], "1 user updated, 2 not sent"),
        (simple_plan(2), ["already", "applied"], "1 user updated, 1 already applied"),
        (simple_plan(2), [], "0 users updated, 2 not sent"),
    ],
)
def test_the_title_says_what_happened(plan: Plan, results: list[str] | None, title: str) -> None:
    run = None
    if results is not None:
        run = [
            Outcome.model_validate({"user_id": u.user_id, "line": u.line, "status": status})
            for u, status in zip(plan.users, results, strict=False)
        ]
    html = render_report(plan, "html", outcomes=run, run_id=None if run is None else 9)
    markdown = render_report(plan, "md", outcomes=run, run_id=None if run is None else 9)
    assert f"<h1>{title}</h1>" in html
    assert f"<title>{title} · communal-sync " in html
    assert markdown.startswith(f"# {title}\n")


def test_a_run_report_of_ten_users_shows_names_not_ten_identical_result_rows() -> None:
    plan = simple_plan(10)
    run = [Outcome(user_id=u.user_id, line=u.line, status="applied") for u in plan.users]
    text = render_report(plan, "html", outcomes=run, run_id=1)
    assert "<h1>10 users updated</h1>" in text
    assert "applied 200" not in text and "<h2>Results</h2>" not in text
    assert "Needs action" not in text
    for n in range(10):
        assert f'<span class="name">Member{n} Person</span>' in text


# --- empty sections -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_empty_sections_are_not_written(fmt: str) -> None:
    text = render_report(simple_plan(2), fmt)  # type: ignore[arg-type]
    for absent in (
        "Needs action",
        "Warnings",
        "Conflicts",
        "Invalid",
        "Unmatched",
        "first-time writes only",
        "Locked fields",
        "duplicates",
        "Unmapped",
        "No conflicts",
        "No row issues",
    ):
        assert absent not in text, absent
    assert "Changes by person (2)" in text and "Fields" in text and "Details" in text


def test_html_nav_links_only_to_sections_that_exist() -> None:
    text = render_report(simple_plan(2), "html")
    nav = re.search(r"<nav>(.*)</nav>", text)
    assert nav is not None
    assert re.findall(r'href="#([^"]+)"', nav.group(1)) == ["fields", "changes", "details"]
    for target in re.findall(r'href="#([^"]+)"', text):
        assert f'id="{target}"' in text, target


# --- self-contained and strict --------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[tuple[str, str, str]] = []
        self.texts: dict[str, str] = {}
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        if tag in ("script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self.texts[self._inside] = self.texts.get(self._inside, "") + data


def parsed(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_html_report_loads_nothing_and_links_nowhere_outside_itself() -> None:
    page = parsed(render_report(full_plan(), "html", outcomes=outcomes(), run_id=3))
    for tag, name, value in page.attributes:
        assert name not in ("src", "srcset", "action", "formaction", "background"), tag
        assert "//" not in value or name == "content", (tag, name, value)
        if name == "href":
            assert value.startswith("#"), value
        assert not name.startswith("on"), (tag, name)  # no inline handlers
    assert {tag for tag, _, _ in page.attributes} <= {
        "meta", "html", "p", "ul", "li", "a", "input", "button", "section", "details",
        "table", "tr", "td", "span", "div",
    }  # fmt: skip
    style = page.texts["style"]
    assert "url(" not in style and "@import" not in style and "@font-face" not in style


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_csp_allows_exactly_the_page_own_style_and_script() -> None:
    text = render_report(full_plan(), "html")
    page = parsed(text)
    (policy,) = [v for t, n, v in page.attributes if t == "meta" and n == "content" and "src" in v]
    rules = dict(rule.strip().split(" ", 1) for rule in policy.split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["script-src"] == sha256_source(page.texts["script"])
    assert rules["style-src"] == sha256_source(page.texts["style"])
    assert rules["base-uri"] == "'none'" and rules["form-action"] == "'none'"
    assert "unsafe" not in policy


def test_the_filter_box_is_hidden_until_the_script_shows_it() -> None:
    text = render_report(full_plan(), "html")
    assert '<p class="tools" id="tools" hidden>' in text
    assert "tools.hidden = false;" in text


# --- first-time writes, people, cards, fields -----------------------------------------------


def test_first_time_only_users_are_folded_into_one_table_apart_from_real_changes() -> None:
    text = render_report(full_plan(), "html")
    changes = text[text.index("<h2>Changes by person") : text.index('<details class="fold')]
    start = text.index('<details class="fold')
    fold = text[start : text.index("</details>", start)]
    assert "Bruno Lefèvre" not in changes and "Elif Yilmaz" not in changes
    assert '<details class="fold first-time">' in text  # closed: no "open"
    assert "<td>102</td><td>Bruno Lefèvre</td><td>2</td><td>profile_address: 480 Rue" in fold
    assert "<td>profile_address: 1 Main St\nprofile_city: Halifax</td>" in fold
    # A user with a real change keeps it in view and their first-time write set apart.
    chen = changes[changes.index('id="user-103"') :]
    assert chen.index("<td>telephone</td>") < chen.index('<div class="first-time">')
    assert chen.index('<div class="first-time">') < chen.index("<td>profile_address</td>")
    assert "telephone, preferred_name (conflict) + 1 first-time write" in chen


@pytest.mark.parametrize(
    ("count", "opened"), [(OPEN_PEOPLE_LIMIT, True), (OPEN_PEOPLE_LIMIT + 1, False)]
)
def test_people_are_open_in_small_reports_and_closed_in_big_ones(count: int, opened: bool) -> None:
    text = render_report(simple_plan(count), "html")
    people = re.findall(r'<details class="person item" id="user-\d+"( open)?>', text)
    assert len(people) == count
    assert all(bool(flag) == opened for flag in people)


def test_core_cards_show_zeros_and_rare_ones_only_when_they_happened() -> None:
    plan = simple_plan(2)
    run = [Outcome(user_id=u.user_id, line=u.line, status="applied") for u in plan.users]
    text = render_report(plan, "html", outcomes=run, run_id=1)
    cards = re.findall(
        r'<li class="card tone-(\w+)">(?:<a href="#[\w-]+">)?<span class="count">(\d+)</span>'
        r'<span class="label">([^<]+)</span>',
        text,
    )
    assert cards == [
        ("good", "2", "users updated"),
        ("neutral", "0", "failed"),
        ("neutral", "1", "unchanged"),
        ("neutral", "0", "conflicts"),
        ("neutral", "0", "invalid"),
        ("neutral", "0", "unmatched"),
        ("neutral", "0", "first-time writes"),
    ]


def test_a_card_links_to_the_section_that_lists_its_rows() -> None:
    text = render_report(full_plan(), "html", outcomes=outcomes(), run_id=3)
    for target, label in (("failed", "failed"), ("not-sent", "not sent"), ("invalid", "invalid")):
        assert (
            f'<a href="#{target}"><span class="count">' in text
            and f'<span class="label">{label}</span>' in text
        )
        assert f'<section class="group" id="{target}" data-filtered>' in text


def test_field_summary_counts_each_field_with_its_first_time_writes() -> None:
    lines = render_report(full_plan(), "md").splitlines()
    assert (
        "| field | users | first-time writes | cleared | over our last push | conflicts |" in lines
    )
    assert "| telephone | 3 | *—* | *—* | *—* | *—* |" in lines
    assert "| profile_address | 3 | 3 | *—* | *—* | *—* |" in lines
    assert "| profile_city | 1 | 1 | *—* | *—* | *—* |" in lines
    assert "| preferred_name | 0 | *—* | *—* | *—* | 1 |" in lines


def test_skipped_duplicates_are_listed_but_not_as_needing_action() -> None:
    text = render_report(full_plan(), "md")
    action = text[text.index("## Needs action") : text.index("## Warnings")]
    assert "row36@x" not in action
    assert "| 36 | email | row36@x | Duplicate email; the first row wins. |" in text


def test_many_warnings_are_folded() -> None:
    warnings = tuple(f"User {n}: profile_address before run 2 is unknown." for n in range(11))
    text = render_report(full_plan(warnings=warnings), "html")
    assert "<details><summary>11 warnings</summary>" in text
    few = render_report(full_plan(warnings=warnings[:10]), "html")
    assert "<summary>10 warnings</summary>" not in few and "<h2>Warnings (10)</h2>" in few


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_redaction_masks_names_and_values_in_every_new_section(fmt: str) -> None:
    text = render_report(full_plan(), fmt, redact=True, outcomes=outcomes(), run_id=3)  # type: ignore[arg-type]
    for personal in ("Okafor", "Lefèvre", "Chen", "Whitfield", "Yilmaz", "Rue Sainte", "Halifax"):
        assert personal not in text, personal
    assert REDACTED in text and "profile_address" in text and "user 101" in text


# --- who is folded, and escaping in the new cells -------------------------------------------


def test_only_users_with_nothing_but_first_time_writes_are_folded() -> None:
    only_first = person(101, "Amara Okafor", first_address("1 Main St"))
    moved = person(
        102,
        "Bruno Lefèvre",
        first_address("2 Main St"),
        email_change=EmailChange(old="b@old.example", new="b@new.example"),
    )
    conflicted = person(
        103,
        "Chen Wei",
        first_address("3 Main St"),
        conflicts=(
            Conflict(field="telephone", base="1", current="2", source="3", resolution="skipped"),
        ),
    )
    nothing = person(104, "Dana Whitfield", body=None)
    split = people(full_plan(users=(only_first, moved, conflicted, nothing)))
    assert [u.user_id for u in split.first_time_only] == [101]
    assert [u.user_id for u in split.changed] == [102, 103, 104]


def test_every_new_cell_escapes_its_value() -> None:
    attack = "<b onmouseover=alert(1)>x</b>"
    users = (
        person(101, attack, phone("1", "2")),
        person(102, f"{attack} Two", first_address(attack)),
        person(
            103,
            f"{attack} Three",
            phone("1", "2"),
            conflicts=(
                Conflict(
                    field="telephone", base=attack, current=attack, source=attack,
                    resolution="skipped",
                ),
            ),
        ),
    )  # fmt: skip
    failed = Outcome(user_id=101, line=1, status="failed", http_status=422, message=attack)
    text = render_report(full_plan(users=users), "html", outcomes=[failed], run_id=1)
    assert "<b " not in text
    escaped = "&lt;b onmouseover=alert(1)&gt;x&lt;/b&gt;"
    assert f"<td>{escaped}</td><td>1</td><td>422</td><td>{escaped}</td>" in text  # failed
    assert f"<td>103</td><td>{escaped} Three</td><td>3</td><td>telephone</td>" in text
    assert f"<td>profile_address: {escaped}</td>" in text  # the first-time table
    assert f'<span class="name">{escaped}</span>' in text
    markdown = render_report(full_plan(users=users), "md", outcomes=[failed], run_id=1)
    assert re.search(r"(?<!\\)<b ", markdown) is None
    assert "| 101 | \\<b onmouseover=alert(1)\\>x\\</b\\> | 1 | 422 |" in markdown


def test_a_redacted_report_keeps_counts_fields_and_results_readable() -> None:
    text = render_report(full_plan(), "md", redact=True, outcomes=outcomes(), run_id=3)
    assert text.startswith("# 1 user updated, 1 failed, 1 changed in Communal since planned")
    assert "| profile_address | 3 | 3 |" in text
    assert f"### {REDACTED} · user 101 · line 1 — applied" in text
    assert "Fields: telephone. Line 1, matched by id." in text
    assert f"| 102 | {REDACTED} | 2 | profile_address: {REDACTED} | failed |" in text


def test_a_run_report_counts_per_field_the_users_whose_change_did_not_land() -> None:
    lines = render_report(full_plan(), "md", outcomes=outcomes(), run_id=3).splitlines()
    assert (
        "| field | users | first-time writes | cleared | over our last push | conflicts "
        "| not updated |"
    ) in lines
    # 101 applied; 103 changed since planned and 104 not sent; 102 failed; 105 not sent.
    assert "| telephone | 3 | *—* | *—* | *—* | *—* | 2 |" in lines
    assert "| profile_address | 3 | 3 | *—* | *—* | *—* | 3 |" in lines
    plan_lines = render_report(full_plan(), "md").splitlines()
    assert "| telephone | 3 | *—* | *—* | *—* | *—* |" in plan_lines
