"""The HTML report in a real browser: headless Chromium runs its script under its own
Content-Security-Policy, the filter works from the address, and with JavaScript off every
section is there. Skipped, saying why, where no Chromium is installed."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.browser import CHROMIUM, MISSING, chromium, dom_without_script
from support.report_plans import full_plan, outcomes

from communal_sync.plan import Outcome
from communal_sync.reports import write_report

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=MISSING)


class Dom(HTMLParser):
    """What the test needs of a dumped DOM: sections, filterable items, hidden flags."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.items: list[tuple[str, bool]] = []
        """Each filterable item: its id (people) or its tag, and whether it is hidden."""
        self.hidden_ids: set[str] = set()
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        element_id = found.get("id") or ""
        if tag == "section":
            self.sections.append(element_id)
        if "hidden" in found and element_id:
            self.hidden_ids.add(element_id)
        if "item" in (found.get("class") or "").split():
            self.items.append((element_id or tag, "hidden" in found))
        if tag == "body":
            self.body = found


def dom_of(text: str) -> Dom:
    dom = Dom()
    dom.feed(text)
    return dom


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    write_report(full_plan(), path, outcomes=outcomes(), run_id=3)
    return path


def test_with_javascript_off_every_section_and_row_is_there(report: Path, tmp_path: Path) -> None:
    dom = dom_of(dom_without_script(tmp_path / "profile", report.as_uri()))
    source = dom_of(report.read_text(encoding="utf-8"))

    assert dom.sections == source.sections
    assert {"fields", "needs-action", "failed", "conflicts", "invalid", "changes"} <= set(
        dom.sections
    )
    assert {"first-time", "locked", "duplicate", "unmapped", "details"} <= set(dom.sections)
    assert dom.items and not any(hidden for _, hidden in dom.items)
    assert "tools" in dom.hidden_ids  # no filter box that could not work
    assert "data-shown" not in dom.body


def test_the_script_runs_under_the_pages_own_policy_and_shows_the_filter(
    report: Path, tmp_path: Path
) -> None:
    dom = dom_of(chromium(tmp_path / "profile", "--dump-dom", report.as_uri()))

    assert "tools" not in dom.hidden_ids
    assert not any(hidden for _, hidden in dom.items)  # no filter yet: everything shown


def test_a_filter_in_the_address_shows_only_what_matches(report: Path, tmp_path: Path) -> None:
    dom = dom_of(chromium(tmp_path / "profile", "--dump-dom", report.as_uri() + "#filter=okafor"))

    shown = [name for name, hidden in dom.items if not hidden]
    assert shown == ["user-101"]
    assert dom.body.get("data-shown") == "1"
    people = {name: hidden for name, hidden in dom.items if name.startswith("user-")}
    assert people == {"user-101": False, "user-103": True, "user-104": True}
    # Sections left with nothing to show are hidden; the headline parts are not.
    assert {"failed", "invalid", "first-time", "locked"} <= dom.hidden_ids
    assert "changes" not in dom.hidden_ids and "fields" not in dom.hidden_ids


def test_the_filter_matches_a_value_in_a_row(report: Path, tmp_path: Path) -> None:
    address = report.as_uri() + "#filter=Rue%20Sainte"
    dom = dom_of(chromium(tmp_path / "profile", "--dump-dom", address))

    shown = [name for name, hidden in dom.items if not hidden]
    assert shown == ["tr"]  # Bruno's line in the first-time table
    assert "first-time" not in dom.hidden_ids and "changes" in dom.hidden_ids


def test_a_screenshot_renders_the_page(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    chromium(tmp_path / "profile", f"--screenshot={png}", "--window-size=1280,900", report.as_uri())

    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_an_escaped_script_in_a_value_does_not_run(tmp_path: Path) -> None:
    attack = "<img src=x onerror=\"document.body.setAttribute('data-owned', 1)\">"
    failed = Outcome(user_id=102, line=2, status="failed", http_status=422, message=attack)
    path = tmp_path / "attack.html"
    write_report(full_plan(), path, outcomes=[*outcomes()[:1], failed], run_id=3)

    dom = dom_of(chromium(tmp_path / "profile", "--dump-dom", path.as_uri()))

    assert "data-owned" not in dom.body
    assert "tools" not in dom.hidden_ids
