"""Reports of a plan in JSON, CSV, Markdown and HTML: content, escaping, redaction, files."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from communal_sync.errors import ConfigError, UsageError
from communal_sync.plan import (
    Conflict,
    EmailChange,
    FieldChange,
    InputInfo,
    Plan,
    PlanOptions,
    RowIssue,
    Unchanged,
    UserPlan,
)
from communal_sync.reports import (
    REPORT_FORMATS,
    ReportFormat,
    neutralize_cell,
    render_report,
    report_format,
    write_report,
)
from communal_sync.reports.redaction import REDACTED

SECRET = "SECRET-VALUE-123"


def make_plan(**overrides: object) -> Plan:
    """A plan with two updates (one with a clear and an email change), a conflict, issues."""
    ada = UserPlan(
        user_id=42,
        line=2,
        matched_by="email",
        name="Ada Lovelace",
        external_id="EXT-7",
        email_change=EmailChange(old="ada@old.example", new="ada@new.example"),
        changes=(
            FieldChange(
                field="email", before="ada@old.example", after="ada@new.example", provenance="live"
            ),
            FieldChange(field="telephone", before="+1 555 0100", after=None, provenance="live"),
            FieldChange(
                field="profile_city",
                before=None,
                after="Zoë-ville",
                provenance="unknown",
                note="current value unknown",
            ),
        ),
        body={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@new.example",
            "telephone": None,
            "profile_city": "Zoë-ville",
        },
        updated_at="2026-03-01T10:00:00Z",
        source_hash="h-ada",
        pushed={"first_name": "Ada", "telephone": None},
    )
    grace = UserPlan(
        user_id=43,
        line=3,
        matched_by="id",
        name="Grace Hopper",
        changes=(
            FieldChange(field="middle_name", before="B", after="Brewster", provenance="snapshot"),
        ),
        conflicts=(
            Conflict(
                field="preferred_name",
                base="Gracie",
                current="Amazing Grace",
                source="G",
                resolution="skipped",
            ),
        ),
        body={
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.org",
            "middle_name": "Brewster",
        },
        source_hash="h-grace",
    )
    fields: dict[str, object] = {
        "tool_version": "0.1.0",
        "created_at": "2026-03-25T12:00:00Z",
        "base_url": "https://api.getcommunal.com/api",
        "input": InputInfo(name="users.csv", sha256="abc123", format="csv", rows=6),
        "options": PlanOptions(allow_clear=("telephone",)),
        "users": (ada, grace),
        "unchanged": (Unchanged(user_id=44, line=4, verified=True, source_hash="h-44"),),
        "issues": (
            RowIssue(
                line=5,
                kind="invalid",
                field="email",
                value="not-an-email",
                message="Not a valid email address.",
            ),
            RowIssue(
                line=6,
                kind="unmatched",
                field="email",
                value="who@example.org",
                message="No Communal user is known for this row.",
            ),
        ),
        "unmapped_columns": ("Shoe size",),
    }
    fields.update(overrides)
    return Plan.model_validate(fields)


def secret_plan() -> Plan:
    """A plan with SECRET in every slot that holds a personal value, each slot tagged."""

    def s(slot: str) -> str:
        return f"{SECRET}-{slot}"

    user = UserPlan(
        user_id=7,
        line=9,
        matched_by="external_id",
        name=s("name"),
        external_id=s("externalid"),
        email_change=EmailChange(old=s("emailold"), new=s("emailnew")),
        changes=(
            FieldChange(
                field="last_name",
                before=s("before"),
                after=s("after"),
                provenance="live",
                note=f"was {s('before')}",
            ),
            FieldChange(
                field="telephone", before=s("clearedbefore"), after=None, provenance="snapshot"
            ),
        ),
        conflicts=(
            Conflict(
                field="first_name",
                base=s("base"),
                current=s("current"),
                source=s("source"),
                resolution="communal",
            ),
        ),
        body={"first_name": s("bodyfirst"), "last_name": s("after"), "telephone": None},
        source_hash="hash-7",
        pushed={"last_name": s("pushed")},
    )
    return make_plan(
        users=(user,),
        issues=(
            RowIssue(
                line=11,
                kind="invalid",
                field="date_of_birth",
                value=s("issue"),
                message=f"{s('issue')} is not a date; use YYYY-MM-DD.",
            ),
            RowIssue(
                line=12,
                kind="duplicate",
                field="email",
                value=s("duplicate"),
                message="Duplicate email; the first row wins.",
            ),
        ),
    )


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --- JSON -----------------------------------------------------------------------------


def test_json_report_has_summary_counts_and_the_whole_plan() -> None:
    plan = make_plan()
    document = json.loads(render_report(plan, "json"))
    assert document["summary"] == (
        "2 users to update, 1 unchanged, 1 invalid, 1 unmatched, 1 conflict, 1 field cleared, "
        "1 address change over values we cannot read"
    )
    assert document["counts"] == {
        "to_update": 2,
        "unchanged": 1,
        "invalid": 1,
        "unmatched": 1,
        "unreachable": 0,
        "ambiguous": 0,
        "mismatched": 0,
        "duplicate": 0,
        "email_cycle": 0,
        "conflicts": 1,
        "clears": 1,
        "locked_fields": 0,
        "unverified_changes": 1,
    }
    assert document["refused"] is None
    assert document["redacted"] is False
    assert Plan.model_validate(document["plan"]) == plan


def test_json_report_carries_the_refusal_reason() -> None:
    plan = make_plan(refused="Refused: 2 users would change, more than --max-changes 1.")
    document = json.loads(render_report(plan, "json"))
    assert document["refused"] == "Refused: 2 users would change, more than --max-changes 1."


def test_redacted_json_keeps_clears_field_names_ids_and_lines() -> None:
    document = json.loads(render_report(make_plan(), "json", redact=True))
    assert document["redacted"] is True
    ada = document["plan"]["users"][0]
    assert ada["user_id"] == 42 and ada["line"] == 2 and ada["name"] == REDACTED
    assert [c["field"] for c in ada["changes"]] == ["email", "telephone", "profile_city"]
    telephone = ada["changes"][1]
    assert telephone == {
        "field": "telephone",
        "before": REDACTED,
        "after": None,
        "provenance": "live",
        "note": None,
    }
    assert ada["changes"][2]["before"] is None
    assert ada["body"]["telephone"] is None and ada["body"]["email"] == REDACTED
    assert ada["email_change"] == {"old": REDACTED, "new": REDACTED}
    assert document["counts"]["clears"] == 1
    assert document["plan"]["issues"][0]["value"] == REDACTED


# --- CSV ------------------------------------------------------------------------------


def test_csv_report_has_a_row_per_change_conflict_email_change_and_issue() -> None:
    rows = csv_rows(render_report(make_plan(), "csv"))
    assert rows[0] == [
        "user_id",
        "line",
        "name",
        "field",
        "before",
        "after",
        "provenance",
        "note",
        "status",
    ]
    assert rows[1:] == [
        [
            "42",
            "2",
            "Ada Lovelace",
            "email",
            "ada@old.example",
            "ada@new.example",
            "live",
            "",
            "change",
        ],
        ["42", "2", "Ada Lovelace", "telephone", "'+1 555 0100", "", "live", "", "clear"],
        [
            "42",
            "2",
            "Ada Lovelace",
            "profile_city",
            "",
            "Zoë-ville",
            "unknown",
            "current value unknown",
            "change",
        ],
        [
            "42",
            "2",
            "Ada Lovelace",
            "email",
            "ada@old.example",
            "ada@new.example",
            "",
            "Same person, new email: the email differs from the one last pushed.",
            "email change",
        ],
        ["43", "3", "Grace Hopper", "middle_name", "B", "Brewster", "snapshot", "", "change"],
        [
            "43",
            "3",
            "Grace Hopper",
            "preferred_name",
            "Amazing Grace",
            "G",
            "",
            "Changed in Communal since the last push and in the file; field left as is "
            "(choose with --on-conflict source|communal). Last pushed: Gracie.",
            "conflict (skipped)",
        ],
        ["", "5", "", "email", "", "not-an-email", "", "Not a valid email address.", "invalid"],
        [
            "",
            "6",
            "",
            "email",
            "",
            "who@example.org",
            "",
            "No Communal user is known for this row.",
            "unmatched",
        ],
    ]


def test_csv_report_starts_with_a_refused_row_when_refused() -> None:
    rows = csv_rows(render_report(make_plan(refused="Too many clears."), "csv"))
    assert rows[1] == ["", "", "", "", "", "", "", "Too many clears.", "refused"]


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x")', "+cmd", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "  =1+2", " @x"],
)
def test_csv_report_neutralizes_spreadsheet_formulas(value: str) -> None:
    plan = make_plan(
        issues=(RowIssue(line=5, kind="invalid", field="first_name", value=value, message="Bad."),)
    )
    rows = csv_rows(render_report(plan, "csv"))
    issue_row = rows[-1]
    assert issue_row[5] == "'" + value
    assert issue_row[8] == "invalid"


@pytest.mark.parametrize("value", ["Zoë", "a=b", "1-2", "O'Brien", ""])
def test_csv_report_leaves_harmless_cells_alone(value: str) -> None:
    assert neutralize_cell(value) == value


def test_csv_report_quotes_every_cell() -> None:
    first_line = render_report(make_plan(), "csv").split("\r\n")[0]
    assert first_line == (
        '"user_id","line","name","field","before","after","provenance","note","status"'
    )


def test_csv_file_starts_with_a_bom_but_rendered_text_does_not(tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    write_report(make_plan(), path)
    raw = path.read_bytes()
    assert raw.startswith(b'\xef\xbb\xbf"user_id"')
    assert "Zoë-ville" in path.read_text(encoding="utf-8-sig")
    assert not render_report(make_plan(), "csv").startswith("\ufeff")


# --- Markdown -------------------------------------------------------------------------


def test_markdown_report_has_title_summary_and_a_table_per_user() -> None:
    text = render_report(make_plan(), "md")
    lines = text.splitlines()
    assert lines[0] == "# 2 users to update"
    assert lines[2] == "communal-sync plan · users.csv · 2026-03-25T12:00:00Z"
    assert (
        "**2 users to update, 1 unchanged, 1 invalid, 1 unmatched, 1 conflict, 1 field cleared, "
        "1 address change over values we cannot read**"
    ) in lines
    assert "### Ada Lovelace · user 42 · line 2" in lines
    assert (
        "Fields: email, telephone (cleared) + 1 first-time write. Line 2, matched by email. "
        "External id: EXT-7. Email change (same person): ada@old.example → ada@new.example."
    ) in lines
    assert "| field | before | after | provenance | note |" in lines
    assert "| telephone | +1 555 0100 | *(cleared)* | live |  |" in lines
    assert "- Tool version: 0.1.0" in lines
    assert "First-time writes (Communal never shows these fields):" in lines
    assert "| profile_city | Zoë-ville | current value unknown |" in lines
    assert (
        "| 43 | Grace Hopper | 3 | preferred_name | Gracie | Amazing Grace | G "
        "| skipped: Communal left as is |"
    ) in lines
    assert "| 5 | email | not-an-email | Not a valid email address. |" in lines
    assert "## Unmapped columns" in lines and "- Shoe size" in lines
    assert "Refused" not in text


def test_markdown_report_escapes_pipes_backticks_and_html() -> None:
    plan = make_plan(
        issues=(
            RowIssue(
                line=5,
                kind="invalid",
                field="first_name",
                value="a|b`c <img src=x>\nnext",
                message="Bad | worse.",
            ),
        ),
        unmapped_columns=("# Not a heading", "1. Not a list", "- Not an item", "> Not a quote"),
        users=(make_plan().users[0].model_copy(update={"name": "Ada ##"}),),
        refused="Too many clears.",
    )
    lines = render_report(plan, "md").splitlines()
    assert "| 5 | first_name | a\\|b\\`c \\<img src=x\\><br>next | Bad \\| worse. |" in lines
    assert "- \\# Not a heading" in lines
    assert "- 1\\. Not a list" in lines
    assert "- \\- Not an item" in lines
    assert "- \\> Not a quote" in lines
    assert "### Ada \\#\\# · user 42 · line 2" in lines
    assert "> **Refused:** Too many clears." in lines


def test_markdown_report_of_an_empty_plan_says_so_and_has_no_empty_sections() -> None:
    text = render_report(make_plan(users=(), issues=(), unmapped_columns=()), "md")
    assert text.startswith("# Nothing to update\n")
    assert "Nothing to update." in text
    for absent in ("## Needs action", "## Fields", "## Changes", "Conflicts", "## Unmapped"):
        assert absent not in text


# --- HTML -----------------------------------------------------------------------------


def test_html_report_is_one_self_contained_page() -> None:
    text = render_report(make_plan(refused="Too many clears."), "html")
    assert text.startswith("<!DOCTYPE html>\n")
    assert '<meta charset="utf-8">' in text
    assert text.lower().count("<script") == 1  # the filter's, inline
    assert "src=" not in text and "<link" not in text and "@import" not in text
    for heading in (
        "<h2>Needs action</h2>",
        "<h3>Conflicts (1)</h3>",
        "<h3>Invalid rows (1)</h3>",
        "<h3>Unmatched rows (1)</h3>",
        "<h2>Changes by person (2)</h2>",
        "<h2>Unmapped columns</h2>",
        '<summary><span class="name">Ada Lovelace</span>',
    ):
        assert heading in text
    assert "<h1>Refused: 2 users to update, nothing sent</h1>" in text
    assert '<p class="refused"><strong>Refused:</strong> Too many clears.</p>' in text
    assert (
        "<tr><td>telephone</td><td>+1 555 0100</td>"
        '<td class="placeholder">(cleared)</td><td>live</td>'
        '<td class="placeholder"></td></tr>'
    ) in text


def test_html_report_escapes_every_value() -> None:
    attack = "<script>alert(1)</script>\"'&"
    plan = make_plan(
        users=(make_plan().users[0].model_copy(update={"name": attack}),),
        issues=(RowIssue(line=5, kind="invalid", field=attack, value=attack, message=attack),),
        unmapped_columns=(attack,),
        warnings=(attack,),
    )
    text = render_report(plan, "html")
    assert "<script>alert" not in text
    assert text.lower().count("<script") == 1
    assert "alert(1)" in text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#x27;&amp;"
    assert text.count(escaped) == 6  # name, field, value, reason, column, warning
    assert f'<summary><span class="name">{escaped}</span>' in text


# --- Redaction in every format --------------------------------------------------------


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_redaction_hides_every_personal_value(fmt: ReportFormat) -> None:
    text = render_report(secret_plan(), fmt, redact=True)
    assert SECRET not in text
    assert REDACTED in text
    assert "last_name" in text and "telephone" in text and "date_of_birth" in text


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_without_redaction_the_personal_values_are_shown(fmt: ReportFormat) -> None:
    text = render_report(secret_plan(), fmt)
    slots = [
        "name",
        "emailold",
        "emailnew",
        "before",
        "after",
        "clearedbefore",
        "base",
        "current",
        "source",
        "issue",
        "duplicate",
    ]
    if fmt != "csv":  # the CSV has no column for the external id
        slots.append("externalid")
    for slot in slots:
        assert f"{SECRET}-{slot}" in text, slot


def test_unredacted_json_keeps_body_and_pushed_values() -> None:
    text = render_report(secret_plan(), "json")
    assert f"{SECRET}-bodyfirst" in text and f"{SECRET}-pushed" in text


def test_redaction_masks_a_value_quoted_in_its_message_but_keeps_the_sentence() -> None:
    document = json.loads(render_report(secret_plan(), "json", redact=True))
    issue = document["plan"]["issues"][0]
    assert issue["message"] == f"{REDACTED} is not a date; use YYYY-MM-DD."
    assert document["plan"]["users"][0]["changes"][0]["note"] == f"was {REDACTED}"


def test_redaction_does_not_mangle_words_containing_a_short_value() -> None:
    plan = make_plan(
        issues=(
            RowIssue(
                line=5,
                kind="invalid",
                field="middle_name",
                value="a",
                message="Too short: a middle name needs a letter and a dot.",
            ),
        )
    )
    document = json.loads(render_report(plan, "json", redact=True))
    assert document["plan"]["issues"][0]["message"] == (
        f"Too short: {REDACTED} middle name needs {REDACTED} letter and {REDACTED} dot."
    )


# --- Files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("run.json", "json"), ("run.csv", "csv"), ("RUN.MD", "md"), ("Run.Html", "html")],
)
def test_write_report_picks_the_format_from_the_extension(
    tmp_path: Path, name: str, fmt: ReportFormat
) -> None:
    path = tmp_path / name
    write_report(make_plan(), path)
    assert report_format(path) == fmt
    text = path.read_bytes().decode("utf-8-sig")
    assert text == render_report(make_plan(), fmt)


@pytest.mark.parametrize("name", ["run.txt", "run", "run.xlsx", "run.json.bak"])
def test_unknown_extension_is_a_usage_error_naming_the_supported_ones(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(UsageError) as caught:
        write_report(make_plan(), tmp_path / name)
    assert ".json, .csv, .md, .html" in str(caught.value)
    assert caught.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_report_file_is_private(tmp_path: Path, fmt: ReportFormat) -> None:
    path = tmp_path / f"run.{fmt}"
    write_report(make_plan(), path, redact=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rewriting_a_report_replaces_it_whole_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.md"
    path.write_text("old report\n", encoding="utf-8")
    os.chmod(path, 0o644)
    write_report(make_plan(), path)
    assert path.read_text(encoding="utf-8").startswith("# 2 users to update\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["run.md"]


def test_a_failed_write_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.html"
    path.write_text("previous report\n", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ConfigError, match=f"Cannot write {path}: No space left on device"):
        write_report(make_plan(), path)
    assert path.read_text(encoding="utf-8") == "previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.html"]


def test_render_report_rejects_an_unknown_format() -> None:
    with pytest.raises(UsageError, match="Unknown report format 'xml'"):
        render_report(make_plan(), "xml")  # type: ignore[arg-type]
