"""Hostile inputs through the real CLI, beyond what ``validate`` alone shows (issue 15).

The corpus (``test_corpus.py``) pins each file's verdict; these tests pin what ``plan``
and ``push`` then do with it against the sandbox (the same counts as validate, nothing
sent for a refused file), and the inputs that are not files in the corpus: a pipe, a
symlink loop, ``/dev/zero``, another program's SQLite file as the state file.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import re
import sqlite3
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult

from communal_sync.sandbox import Sandbox

Cli = Callable[..., CliResult]

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def writes(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The requests that could change Communal (anything but a GET)."""
    return [e for e in sandbox.requests() if e["method"] != "GET"]


def plan_json(cli: Cli, file: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """``plan FILE --report plan.json``: the JSON report's counts and plan."""
    report = Path(env["COMMUNAL_SYNC_STATE"]).parent.parent / "plan-report.json"
    result = cli("plan", str(file), "--report", str(report), *extra, env=env)
    assert "Traceback" not in result.stderr
    document: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    document["exit_code"] = result.exit_code
    return document


# --- ids: validate's verdict is what push does ------------------------------------------------


def test_ids_with_invisible_characters_are_invalid_in_plan_as_in_validate(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    file = CORPUS / "ids_invisible.csv"
    validated = json.loads(cli("validate", str(file), "--format", "json").stdout)

    planned = plan_json(cli, file, sandbox_env)

    assert (validated["valid"], validated["invalid"]) == (2, 2)
    counts = planned["counts"]
    assert (counts["invalid"], counts["ambiguous"], counts["unchanged"]) == (2, 0, 2)
    assert planned["exit_code"] == 3
    assert writes(sandbox) == []


def test_ids_no_sqlite_integer_holds_are_invalid_and_push_sends_the_rest(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    result = cli("push", str(CORPUS / "ids_out_of_range.csv"), "--yes", env=sandbox_env)

    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "4 invalid" in result.stdout
    assert writes(sandbox) == []  # the one valid row (101) already matches Communal


# --- names and emails that look like someone else's -------------------------------------------


def test_names_differing_only_by_bidi_controls_are_unchanged(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str]
) -> None:
    planned = plan_json(cli, CORPUS / "bidi_names.csv", sandbox_env)

    assert planned["counts"]["to_update"] == 0
    assert planned["counts"]["unchanged"] == 3
    assert planned["exit_code"] == 0


def test_confusable_emails_are_invalid_unless_allowed(cli: Cli) -> None:
    file = str(CORPUS / "confusable_emails.csv")

    strict = json.loads(cli("validate", file, "--format", "json").stdout)
    allowed = cli("validate", file, "--format", "json", "--allow-confusable-emails")

    messages = [e["message"] for e in strict["errors"]]
    assert messages[0].startswith("This email mixes Cyrillic and Latin letters in 'аmara.okafor'")
    assert "in 'exаmple'" in messages[1]
    assert "fullwidth latin small letter c (U+FF43)" in messages[2]
    assert all(m.endswith("or pass --allow-confusable-emails if it is right.") for m in messages)
    assert allowed.exit_code == 0
    assert json.loads(allowed.stdout)["valid"] == 6


def test_a_look_alike_email_is_not_pushed_as_an_email_change(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "lookalike.csv"
    export.write_text(
        "id,First Name,Last Name,Email\n101,Amara,Okafor,\u0430mara.okafor@example.org\n"
        "102,Bruno,Lefèvre,bruno.lefevre@example.org\n",
        encoding="utf-8",
    )

    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 3
    assert "1 invalid" in result.stdout
    assert writes(sandbox) == []


# --- the CSV files we write ---------------------------------------------------------------------


def test_errors_out_neutralizes_a_formula_header_cell(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "errors.csv"

    result = cli("validate", str(CORPUS / "formula_header.csv"), "--errors-out", str(out))

    assert result.exit_code == 3
    with out.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "First Name",
        "Last Name",
        "Email",
        '\'=HYPERLINK("http://evil.example/","open")',
        "error",
    ]


def test_failed_out_neutralizes_a_formula_header_cell(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "failed.csv"

    result = cli(
        "push",
        str(CORPUS / "formula_header.csv"),
        "--yes",
        "--failed-out",
        str(out),
        env=sandbox_env,
    )

    assert result.exit_code == 3, result.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][3] == '\'=HYPERLINK("http://evil.example/","open")'
    assert [row[2] for row in rows[1:]] == ["amara.okafor@example.org", "not-an-email"]


# --- what reaches the terminal ------------------------------------------------------------------

RAW_CONTROLS = ("\x1b", "\x9b", "\x07", "\u202e")


def squashed(text: str) -> str:
    """A rich table's text without borders, spaces or line breaks: folded cells joined."""
    return re.sub(r"[\s│┃┏┓┗┛┡┩└┘┌┐━─┳┻╇╈┼┬┴╋]", "", text)


def test_terminal_escapes_in_values_are_shown_escaped_never_raw(
    cli: Cli, sandbox_env: dict[str, str]
) -> None:
    file = str(CORPUS / "terminal_escapes.csv")

    validated = cli("validate", file)
    planned = cli("plan", file, env=sandbox_env)

    for result in (validated, planned):
        assert result.exit_code == 3
        assert not [c for c in RAW_CONTROLS if c in result.stdout + result.stderr]
        table = squashed(result.stdout)
        assert "Amara\\x1b[2J" in table
        assert "\\x1b]8;;http://evil.example/\\x1b\\Bruno" in table
        assert "Chen\\x9b31m" in table


def test_an_error_quoting_a_control_character_stays_one_escaped_line(
    cli: Cli, tmp_path: Path
) -> None:
    export = tmp_path / "twice.csv"
    export.write_text("First Name,Last Name,Email,X\x1b[2J,X\x1b[2J\n", encoding="utf-8")

    result = cli("validate", str(export))

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr
    assert "column 'X\\x1b[2J'" in result.stderr


def test_a_huge_invalid_cell_is_one_short_line_in_plan_and_in_every_report(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "huge.csv"
    export.write_text(
        "id,First Name,Last Name,Email\n101,Amara,Okafor," + "x" * 2_000_000 + "\n"
        "102,Bruno,Lefèvre,bruno.lefevre@example.org\n",
        encoding="utf-8",
    )
    reports = [tmp_path / f"plan.{ext}" for ext in ("json", "csv", "md", "html")]

    results = [cli("plan", str(export), "--report", str(r), env=sandbox_env) for r in reports]

    for result in results:
        assert result.exit_code == 3
        assert len(result.stdout) < 5_000
        assert "…(2000000characters)" in squashed(result.stdout)
    for report in reports:
        assert report.stat().st_size < 10_000, report.name
        assert "(2000000 characters)" in report.read_text(encoding="utf-8-sig")


def test_a_one_megabyte_header_name_is_cut_in_validate_and_plan(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "wide.csv"
    name = "N" * 1024 * 1024
    export.write_text(
        f"id,First Name,Last Name,Email,{name}\n101,Amara,Okafor,amara.okafor@example.org,x\n",
        encoding="utf-8",
    )

    for result in (cli("validate", str(export)), cli("plan", str(export), env=sandbox_env)):
        assert result.exit_code == 0
        assert len(result.stdout) < 3_000
        assert "…(1048576characters)" in squashed(result.stdout)


# --- the state file -----------------------------------------------------------------------------


def test_another_programs_sqlite_file_as_state_is_refused_and_left_untouched(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "crm.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
    conn.execute("INSERT INTO invoices (total) VALUES ('12.50')")
    conn.commit()
    conn.close()
    other.chmod(0o644)
    before = other.read_bytes()
    export = CORPUS / "header_spaces_bom.csv"

    for command in (("push", str(export), "--yes"), ("runs",), ("plan", str(export))):
        result = cli(*command, "--state", str(other), env=sandbox_env)

        assert result.exit_code == 1, command
        assert result.stderr.startswith(f"Error: The state file {other} is a SQLite database of")
        assert result.stderr.count("\n") == 1 and "it was left as it is" in result.stderr
    assert other.read_bytes() == before  # not switched to WAL, not migrated
    assert stat.S_IMODE(other.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("crm")) == ["crm.db"]
    assert writes(sandbox) == []


def test_a_damaged_page_past_the_state_files_header_is_one_clear_line(
    cli: Cli, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    state = Path(sandbox_env["COMMUNAL_SYNC_STATE"])
    first = cli("push", str(CORPUS / "bidi_names.csv"), "--yes", env=sandbox_env)
    assert first.exit_code == 0, first.stderr
    conn = sqlite3.connect(state)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(state.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page : len(data)] = b"\xff" * (len(data) - page)  # every page but the first
    state.write_bytes(bytes(data))

    for command in (("runs",), ("push", str(CORPUS / "bidi_names.csv"), "--yes")):
        result = cli(*command, env=sandbox_env)

        assert result.exit_code == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"Error: The state file {state} is not a communal-sync")
        assert result.stderr.count("\n") == 1


# --- inputs that are not regular files ----------------------------------------------------------


def _fifo_with(tmp_path: Path, name: str, data: bytes) -> tuple[Path, threading.Thread]:
    """A named pipe at ``tmp_path/name`` that a thread fills with ``data`` once."""
    fifo = tmp_path / name
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as handle:
            handle.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    return fifo, writer


def test_a_pipe_is_read_once_by_validate_plan_and_push(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    data = (
        b"id,First Name,Last Name,Email,Telephone\n"
        b"101,Amara,Okafor,amara.okafor@example.org,+1 416 555 0199\n"
    )

    results = []
    for number, command in enumerate((("validate",), ("plan",), ("push", "--yes"))):
        fifo, writer = _fifo_with(tmp_path, f"export-{number}.csv", data)
        results.append(cli(command[0], str(fifo), *command[1:], env=sandbox_env))
        writer.join(timeout=10)
        assert not writer.is_alive()

    assert [r.exit_code for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert "1 rows, 1 valid" in results[0].stdout
    assert "1 user to update" in results[1].stdout
    assert "Run 1: 1 user updated" in results[2].stdout
    assert [e["path"] for e in writes(sandbox)] == ["/api/users/101"]
    gc.collect()  # in process, a command's last Source is freed here (a real one exits)
    assert not list(Path(tempfile.gettempdir()).glob("communal-sync-input-*"))


def test_dev_zero_with_an_encoding_is_refused_at_the_line_limit(cli: Cli) -> None:
    result = cli("validate", "/dev/zero", "--encoding", "utf-8")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: /dev/zero, line 1: the line that starts here is longer than the limit of 128 "
        "Mi characters, so it is not read (this is not a text export, or its line breaks are "
        "missing). Check that this is the export itself, and its --encoding.\n"
    )
    gc.collect()
    assert not list(Path(tempfile.gettempdir()).glob("communal-sync-input-*"))


def test_a_symlink_loop_as_input_with_output_options_is_one_clear_line(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    loop = tmp_path / "loop.csv"
    loop.symlink_to(tmp_path / "loop.csv")
    errors = tmp_path / "errors.csv"

    validated = cli("validate", str(loop), "--errors-out", str(errors))
    planned = cli("plan", str(loop), "--report", str(tmp_path / "r.json"), env=sandbox_env)

    for result in (validated, planned):
        assert result.exit_code == 1
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(f"Error: {loop}: cannot be read: ")
        assert result.stderr.count("\n") == 1
    assert sandbox.requests() == []


@pytest.mark.parametrize("command", [("runs", "show"), ("revert", "--dry-run", "--sandbox")])
def test_a_run_id_no_sqlite_integer_holds_is_a_usage_error(
    cli: Cli, command: tuple[str, ...]
) -> None:
    result = cli(*command[:1], *command[1:], "99999999999999999999")

    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "less than or equal to 9223372036854775807" in result.stderr
