"""Run reports: what happened to each planned user, in every format, escaped and redacted."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from communal_sync.plan import (
    Conflict,
    FieldChange,
    InputInfo,
    Outcome,
    Plan,
    PlanOptions,
    RowIssue,
    UserPlan,
)
from communal_sync.reports import (
    CSV_BYTE_ORDER_MARK,
    REPORT_FORMATS,
    RUN_CSV_COLUMNS,
    ReportFormat,
    render_report,
    write_report,
)
from communal_sync.reports.redaction import REDACTED

RUN_ID = 17
TAKEN_EMAIL = "grace.new@example.org"
CONFLICT_MESSAGE = (
    "Changed in Communal since the plan was made (updated_at 2026-03-01T10:00:00Z -> "
    "2026-03-02T09:00:00Z); not sent. Plan again to see why."
)


def email_user(user_id: int, line: int, name: str, old: str, new: str) -> UserPlan:
    first, last = name.split(" ")
    return UserPlan(
        user_id=user_id,
        line=line,
        matched_by="id",
        name=name,
        changes=(FieldChange(field="email", before=old, after=new, provenance="live"),),
        body={"first_name": first, "last_name": last, "email": new},
        source_hash=f"h-{user_id}",
        pushed={"email": new},
    )


def make_plan() -> Plan:
    """Six planned users (one held back by a skipped conflict) and one invalid row."""
    barbara = UserPlan(
        user_id=47,
        line=7,
        matched_by="id",
        name="Barbara Liskov",
        conflicts=(
            Conflict(
                field="telephone",
                base="+1 555 0100",
                current="+1 555 0199",
                source="+1 555 0111",
                resolution="skipped",
            ),
        ),
        body=None,
        source_hash="h-47",
    )
    return Plan(
        tool_version="0.1.0",
        created_at="2026-03-25T08:00:00Z",
        base_url="https://api.communal.example",
        input=InputInfo(name="members.csv", sha256=None, format="csv", rows=7),
        options=PlanOptions(),
        users=(
            email_user(42, 2, "Ada Lovelace", "ada@old.example", "ada@new.example"),
            email_user(43, 3, "Grace Hopper", "grace@old.example", TAKEN_EMAIL),
            email_user(44, 4, "Linus Torvalds", "linus@old.example", "linus@new.example"),
            email_user(45, 5, "Hedy Lamarr", "hedy@old.example", "hedy@new.example"),
            email_user(46, 6, "Alan Turing", "alan@old.example", "alan@new.example"),
            barbara,
        ),
        issues=(
            RowIssue(line=8, kind="invalid", field="email", value="nope", message="Not an email."),
        ),
    )


def failed_outcome(message: str | None = None) -> Outcome:
    return Outcome(
        user_id=43,
        line=3,
        status="failed",
        message=message or f"The given data was invalid: {TAKEN_EMAIL} is taken.",
        http_status=422,
        field_errors={
            "telephone": ["The telephone format is invalid."],
            "email": [f"The email {TAKEN_EMAIL} has already been taken."],
        },
    )


def make_outcomes(failed: Outcome | None = None) -> list[Outcome]:
    """Applied, failed (422), conflict and already; Alan (46) was never sent."""
    return [
        Outcome(user_id=42, line=2, status="applied", http_status=200),
        failed or failed_outcome(),
        Outcome(user_id=44, line=4, status="conflict", message=CONFLICT_MESSAGE),
        Outcome(user_id=45, line=5, status="already", message="Applied by an earlier attempt."),
    ]


def run_report(fmt: ReportFormat, *, redact: bool = False, failed: Outcome | None = None) -> str:
    outcomes = make_outcomes(failed)
    return render_report(make_plan(), fmt, redact=redact, outcomes=outcomes, run_id=RUN_ID)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def csv_by_user(text: str) -> dict[str, dict[str, str]]:
    rows = csv_rows(text)
    return {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[0]}


# --- JSON -----------------------------------------------------------------------------


def test_json_run_report_has_run_id_result_counts_and_outcomes() -> None:
    document = json.loads(run_report("json"))
    assert document["run_id"] == RUN_ID
    assert document["result_counts"] == {
        "applied": 1,
        "already": 1,
        "failed": 1,
        "conflict": 1,
        "not_sent": 1,
        "held_back": 1,
    }
    assert [Outcome.model_validate(o) for o in document["outcomes"]] == make_outcomes()
    assert document["outcomes"][1]["field_errors"]["email"] == [
        f"The email {TAKEN_EMAIL} has already been taken."
    ]
    assert Plan.model_validate(document["plan"]) == make_plan()
    assert list(document) == [
        "summary",
        "counts",
        "refused",
        "redacted",
        "run_id",
        "result_counts",
        "outcomes",
        "plan",
    ]


def test_json_plan_report_has_no_run_keys() -> None:
    document = json.loads(render_report(make_plan(), "json"))
    assert list(document) == ["summary", "counts", "refused", "redacted", "plan"]


def test_run_id_without_outcomes_is_a_run_that_sent_nothing() -> None:
    document = json.loads(render_report(make_plan(), "json", run_id=RUN_ID))
    assert document["run_id"] == RUN_ID
    assert document["outcomes"] == []
    assert document["result_counts"]["not_sent"] == 5
    assert document["result_counts"]["held_back"] == 1


def test_outcomes_without_run_id_report_a_null_run_id() -> None:
    text = render_report(make_plan(), "json", outcomes=make_outcomes())
    assert json.loads(text)["run_id"] is None


# --- CSV ------------------------------------------------------------------------------


def test_csv_run_report_adds_result_columns_to_every_row() -> None:
    rows = csv_rows(run_report("csv"))
    assert rows[0] == list(RUN_CSV_COLUMNS)
    assert rows[0][-2:] == ["result", "result_message"]
    assert all(len(row) == len(RUN_CSV_COLUMNS) for row in rows)
    by_user = csv_by_user(run_report("csv"))
    assert {user: row["result"] for user, row in by_user.items()} == {
        "42": "applied",
        "43": "failed",
        "44": "conflict",
        "45": "already",
        "46": "not_sent",
        "47": "held_back",
    }
    assert by_user["43"]["result_message"] == (
        f"The given data was invalid: {TAKEN_EMAIL} is taken.; "
        f"email: The email {TAKEN_EMAIL} has already been taken.; "
        "telephone: The telephone format is invalid."
    )
    assert by_user["44"]["result_message"] == CONFLICT_MESSAGE
    assert by_user["42"]["result_message"] == ""
    assert by_user["46"]["result_message"] == ""


def test_csv_run_report_leaves_result_empty_on_issue_rows() -> None:
    issue = [row for row in csv_rows(run_report("csv")) if row[8] == "invalid"]
    assert issue == [["", "8", "", "email", "", "nope", "", "Not an email.", "invalid", "", ""]]


def test_csv_plan_report_has_no_result_columns() -> None:
    header = csv_rows(render_report(make_plan(), "csv"))[0]
    assert "result" not in header and "result_message" not in header
    assert len(header) == len(RUN_CSV_COLUMNS) - 2


def test_csv_run_report_neutralizes_a_formula_in_a_failure_message() -> None:
    payload = '=HYPERLINK("http://evil.example","click")'
    text = run_report("csv", failed=failed_outcome(payload))
    message = csv_by_user(text)["43"]["result_message"]
    assert message.startswith("'" + payload)


def test_csv_run_report_lists_an_outcome_for_a_user_not_in_the_plan() -> None:
    stray = Outcome(user_id=99, line=12, status="failed", message="Not found.", http_status=404)
    text = render_report(make_plan(), "csv", outcomes=[*make_outcomes(), stray])
    row = csv_by_user(text)["99"]
    assert (row["line"], row["result"], row["result_message"]) == ("12", "failed", "Not found.")


# --- Markdown and HTML ----------------------------------------------------------------


def test_markdown_run_report_says_what_happened_and_lists_failures_first() -> None:
    text = run_report("md")
    assert text.startswith(
        "# 1 user updated, 1 already applied, 1 failed, 1 changed in Communal since planned, "
        "1 not sent\n"
    )
    assert f"communal-sync run {RUN_ID} · members.csv · 2026-03-25T08:00:00Z\n" in text
    assert "**Planned: 5 users to update, 0 unchanged, 1 invalid, 1 conflict**\n" in text
    assert f"- Run: {RUN_ID}\n" in text
    assert (
        "- Results: 1 applied, 1 already applied, 1 failed, 1 conflict, 1 not sent, "
        "1 nothing to send\n"
    ) in text
    assert text.index("### Failed (1)") < text.index("## Changes by person (6)")
    assert "| user | name | line | HTTP status | reason |" in text
    assert (
        "| 43 | Grace Hopper | 3 | 422 | The given data was invalid: grace.new@example.org is "
        "taken.; email: The email grace.new@example.org has already been taken.; telephone: "
        "The telephone format is invalid. |"
    ) in text
    assert "| 46 | Alan Turing | 6 |" in text
    assert "### Ada Lovelace · user 42 · line 2 — applied\n" in text
    assert "Result: applied (HTTP 200).\n" in text
    assert "### Grace Hopper · user 43 · line 3 — failed\n" in text
    assert "### Hedy Lamarr · user 45 · line 5 — already applied\n" in text
    assert "### Alan Turing · user 46 · line 6 — not sent\n" in text
    assert "### Barbara Liskov · user 47 · line 7 — nothing to send\n" in text


def test_markdown_run_report_keeps_a_message_with_pipes_in_its_cell() -> None:
    text = run_report("md", failed=failed_outcome("bad | value `x`"))
    assert "| 43 | Grace Hopper | 3 | 422 | bad \\| value \\`x\\`; " in text


def test_markdown_plan_report_has_no_results() -> None:
    text = render_report(make_plan(), "md")
    assert text.startswith("# 5 users to update\n")
    assert "communal-sync plan · members.csv" in text
    assert "Result" not in text and "- Run:" not in text and "### Failed" not in text
    assert "### Grace Hopper · user 43 · line 3\n" in text


def test_html_run_report_says_what_happened_and_lists_failures_first() -> None:
    text = run_report("html")
    assert (
        "<h1>1 user updated, 1 already applied, 1 failed, 1 changed in Communal since planned, "
        "1 not sent</h1>"
    ) in text
    assert f"<dt>Run</dt><dd>{RUN_ID}</dd>" in text
    assert text.index("<h3>Failed (1)</h3>") < text.index("<h2>Changes by person (6)</h2>")
    assert '<tr class="item"><td>43</td><td>Grace Hopper</td><td>3</td><td>422</td>' in text
    assert (
        '<summary><span class="name">Grace Hopper</span><span class="meta">user 43 · line 3'
        '</span><span class="fields">email</span>'
        '<span class="badge tone-bad">failed</span></summary>'
    ) in text
    assert (
        f"Result: failed (HTTP 422): The given data was invalid: {TAKEN_EMAIL} is taken.; "
        f"email: The email {TAKEN_EMAIL} has already been taken.; "
        "telephone: The telephone format is invalid.</p>"
    ) in text


def test_html_run_report_escapes_a_script_in_a_message() -> None:
    failed = failed_outcome('<script>alert("x")</script>').model_copy(
        update={"field_errors": {"email": ["<img src=x onerror=alert(1)>"]}}
    )
    text = run_report("html", failed=failed)
    assert text.lower().count("<script") == 1 and "<img" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "email: &lt;img src=x onerror=alert(1)&gt;" in text


def test_html_plan_report_has_no_results() -> None:
    text = render_report(make_plan(), "html")
    assert "<h1>5 users to update</h1>" in text
    assert "badge" not in text.split("<main>")[1] and "Result:" not in text
    assert "<h3>Failed" not in text


# --- Redaction ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_redaction_masks_a_value_quoted_in_a_failure_message(fmt: ReportFormat) -> None:
    text = run_report(fmt, redact=True)
    assert TAKEN_EMAIL not in text
    assert "Grace" not in text
    assert "has already been taken" in text and "The telephone format is invalid." in text


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_without_redaction_a_failure_message_is_shown_whole(fmt: ReportFormat) -> None:
    assert f"The email {TAKEN_EMAIL} has already been taken." in run_report(fmt)


def test_redacted_outcomes_keep_statuses_fields_and_the_sentence() -> None:
    failed = failed_outcome(f"Grace Hopper ({TAKEN_EMAIL}) was rejected.")
    document = json.loads(run_report("json", redact=True, failed=failed))
    outcome = document["outcomes"][1]
    assert outcome["message"] == f"{REDACTED} ({REDACTED}) was rejected."
    assert outcome["field_errors"] == {
        "telephone": ["The telephone format is invalid."],
        "email": [f"The email {REDACTED} has already been taken."],
    }
    assert (outcome["user_id"], outcome["status"], outcome["http_status"]) == (43, "failed", 422)
    assert document["outcomes"][2]["message"] == CONFLICT_MESSAGE
    assert document["result_counts"]["failed"] == 1


def test_redaction_masks_a_value_the_user_sent_in_another_field() -> None:
    failed = failed_outcome("Hopper is not allowed as a last name.")
    document = json.loads(run_report("json", redact=True, failed=failed))
    assert document["outcomes"][1]["message"] == f"{REDACTED} is not allowed as a last name."


def test_redaction_masks_the_whole_message_of_an_outcome_for_an_unknown_user() -> None:
    stray = Outcome(
        user_id=99,
        line=12,
        status="failed",
        message="stray@example.org is unknown.",
        field_errors={"email": ["stray@example.org is unknown."]},
    )
    outcomes = [*make_outcomes(), stray]
    document = json.loads(render_report(make_plan(), "json", redact=True, outcomes=outcomes))
    assert document["outcomes"][-1]["message"] == REDACTED
    assert document["outcomes"][-1]["field_errors"] == {"email": [REDACTED]}


# --- Files ----------------------------------------------------------------------------


def test_write_report_writes_a_run_report(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    write_report(make_plan(), path, outcomes=make_outcomes(), run_id=RUN_ID)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(CSV_BYTE_ORDER_MARK)
    assert csv_rows(text.removeprefix(CSV_BYTE_ORDER_MARK))[0] == list(RUN_CSV_COLUMNS)
    assert path.stat().st_mode & 0o777 == 0o600
