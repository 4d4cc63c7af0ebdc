"""The semantic rules found in scenario testing (issue 12), each end to end.

Every test drives the real CLI against the sandbox (demo organization: 101 Amara Okafor,
102 Bruno Lefèvre, 103 Chen Wei, 104 Dana Whitfield, 110 Jonas Berg) and asserts the exact
end state, the exact requests and the exit code. RELIABILITY.md lists each rule with the
test that pins it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.push import (
    assert_users_equal,
    edit_in_communal,
    expected_users,
    puts_by_user,
    request_counts,
    users_of,
)

from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

HEADER = "id,first_name,last_name,email,telephone,preferred_name"


def write_export(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def json_events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


# --- 4. a refused run still writes its report and its run_finished event -----------------


@pytest.mark.parametrize("suffix", [".json", ".md", ".html", ".csv"])
def test_a_run_refused_by_max_changes_writes_its_report_with_the_reason(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path, suffix: str
) -> None:
    before = users_of(sandbox)
    export = write_export(
        tmp_path / "export.csv",
        "101,Amara,Okafor,amara.okafor@example.org,,Ama",
        "110,Jonas,Berg,jonas.berg@example.org,,Jo",
    )
    report = tmp_path / f"night{suffix}"

    result = cli(
        "--log-format", "json", "push", str(export), "--yes", "--max-changes", "1",
        "--report", str(report), env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 4, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    assert users_of(sandbox) == before
    reason = "2 users would change, more than --max-changes 1."
    assert reason in report.read_text(encoding="utf-8-sig")
    (finished,) = [e for e in json_events(result.stderr) if e["event"] == "run_finished"]
    assert finished["run"] is None
    assert finished["status"] == "refused"
    assert finished["exit_code"] == 4
    assert finished["reason"].startswith(reason)
    assert finished["to_update"] == 2
    if suffix == ".json":
        document = json.loads(report.read_text(encoding="utf-8"))
        assert document["plan"]["refused"].startswith(reason)
        assert document["counts"]["to_update"] == 2


def test_a_run_with_no_valid_rows_writes_its_report_with_the_reason(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], tmp_path: Path
) -> None:
    export = write_export(tmp_path / "export.csv", "101,,Okafor,not-an-email,,")
    report = tmp_path / "night.json"

    result = cli("push", str(export), "--yes", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 4, result.stdout + result.stderr
    assert request_counts(sandbox)["PUT"] == 0
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["plan"]["refused"].startswith("The input has no valid rows")
    assert document["counts"]["invalid"] == 1
