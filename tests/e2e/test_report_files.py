"""The HTML and Markdown reports the real CLI writes against the sandbox: the title says
what happened, counts and the rows that need action come first, people are named."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.browser import CHROMIUM, MISSING, dom_without_script
from support.push import EXPORT, EXPORT_INVALID_LINE

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

DUPLICATE_EMAIL = (
    Path(__file__).resolve().parent.parent / "data" / "secrets" / "duplicate_email.csv"
)
"""Gives user 101 the email of user 102: the API answers 422."""
UPDATED = ("Amara Okafor", "Chen Wei", "Dana Whitfield-Boyd", "Jonas Berg")
"""The people ``export.csv`` changes (4 users; 2 unchanged; line 6 invalid)."""


def card(text: str, label: str) -> str:
    found = re.search(rf'<span class="count">(\d+)</span><span class="label">{label}</span>', text)
    assert found is not None, f"no {label!r} card"
    return found.group(1)


def test_push_writes_an_html_report_that_says_what_happened(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "r.html"

    result = cli("push", str(EXPORT), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    text = report.read_text(encoding="utf-8")
    assert "<h1>4 users updated</h1>" in text
    assert "<title>4 users updated · communal-sync run 1: export.csv</title>" in text
    assert '<p class="summary">Planned: 4 users to update, 2 unchanged, 1 invalid</p>' in text
    assert [card(text, label) for label in ("users updated", "failed", "unchanged", "invalid")] == [
        "4", "0", "2", "1"
    ]  # fmt: skip
    assert text.index("<h3>Invalid rows (1)</h3>") < text.index("<h2>Changes by person (4)</h2>")
    assert f'<tr class="item"><td>{EXPORT_INVALID_LINE}</td><td>email</td>' in text
    for name in UPDATED:
        assert f'<span class="name">{name}</span>' in text
    assert text.count('<span class="badge tone-good">applied</span>') == 4
    assert "<h2>Results</h2>" not in text and "Conflicts" not in text


def test_plan_and_push_write_markdown_in_the_same_order(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    planned, pushed = tmp_path / "plan.md", tmp_path / "r.md"

    assert cli("plan", str(EXPORT), "--report", str(planned), env=sandbox_env).exit_code == 3
    result = cli("push", str(EXPORT), "--yes", "--report", str(pushed), env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    plan_text, run_text = planned.read_text(encoding="utf-8"), pushed.read_text(encoding="utf-8")
    assert plan_text.startswith(f"# 4 users to update\n\ncommunal-sync plan · {EXPORT} · ")
    assert run_text.startswith(f"# 4 users updated\n\ncommunal-sync run 1 · {EXPORT} · ")
    for text, result_words in ((plan_text, ""), (run_text, " — applied")):
        headings = [line for line in text.splitlines() if line.startswith("#")]
        assert headings[1:5] == ["## Fields", "## Needs action", "### Invalid rows (1)",
                                 "## Changes by person (4)"]  # fmt: skip
        assert headings[-1] == "## Details"
        assert f"### Amara Okafor · user 101 · line 2{result_words}" in headings
        assert "- **2** unchanged" in text and "- **1** invalid" in text
    assert "| telephone | 1 |" in run_text  # Amara's is the one telephone change
    assert "Result: applied (HTTP 200)." in run_text


def test_a_failed_user_leads_the_report(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "r.html"

    result = cli("push", str(DUPLICATE_EMAIL), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    text = report.read_text(encoding="utf-8")
    assert "<h1>0 users updated, 1 failed</h1>" in text
    assert card(text, "failed") == "1"
    assert '<li class="card tone-bad"><a href="#failed">' in text
    failed = text.index('<section class="group" id="failed" data-filtered>')
    assert failed < text.index("<h2>Changes by person (1)</h2>")
    assert "<td>101</td><td>Amara Okafor</td><td>2</td><td>422</td>" in text[failed:]
    assert '<span class="badge tone-bad">failed</span>' in text


@pytest.mark.skipif(CHROMIUM is None, reason=MISSING)
def test_the_pushed_html_report_reads_whole_with_javascript_off(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    cli("push", str(EXPORT), "--yes", "--report", str(report), env=sandbox_env)

    dom = dom_without_script(tmp_path / "profile", report.as_uri())

    for expected in ("<h1>4 users updated</h1>", "<h3>Invalid rows (1)</h3>", *UPDATED):
        assert expected in dom
    assert '<p class="tools" id="tools" hidden="">' in dom
