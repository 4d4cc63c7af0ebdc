"""Output paths are checked before the first request, and a run that wrote data keeps its
exit code when a file cannot be written at its end; what was written is said.

Every test drives the real CLI against the sandbox over loopback. "No request reached the
sandbox" is read from the sandbox's own request log.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.push import EXPORT, EXPORT_UPDATED, env_for, puts_by_user, request_counts

import communal_sync.cli.flow as flow_module
from communal_sync.sandbox import Sandbox

Cli = Callable[..., Any]

pytestmark = pytest.mark.e2e

FORMATS = ".json, .csv, .md, .html"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    copy = tmp_path / "export.csv"
    shutil.copyfile(EXPORT, copy)
    return copy


def bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad output path, and the one error line it gets (``{flag}`` filled in)."""
    missing = tmp_path / "missing" / "dir"
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder\n", encoding="utf-8")
    folder = tmp_path / "a-folder.html"
    folder.mkdir()
    return {
        "missing folder": (
            missing / "r.html",
            "Error: {flag} '{path}': the folder '{parent}' does not exist. Create it first, "
            "or give {flag} a path in an existing folder.\n",
        ),
        "under a file": (
            a_file / "r.html",
            "Error: {flag} '{path}': '{parent}' is not a folder. Give {flag} a path in a folder.\n",
        ),
        "a folder": (folder, "Error: {flag} '{path}' is a folder: give a file name inside it.\n"),
    }


@pytest.mark.parametrize("kind", ["missing folder", "under a file", "a folder"])
@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (("push", "--yes"), "--report"),
        (("push", "--yes"), "--failed-out"),
        (("push", "--dry-run"), "--report"),
        (("plan",), "--report"),
        (("plan",), "--out"),
    ],
)
def test_a_bad_output_path_is_a_usage_error_before_any_request(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    export: Path,
    tmp_path: Path,
    command: tuple[str, ...],
    flag: str,
    kind: str,
) -> None:
    path, message = bad_paths(tmp_path)[kind]

    result = cli(command[0], str(export), *command[1:], flag, str(path), env=sandbox_env)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr == message.format(flag=flag, path=path, parent=path.parent)
    assert result.stdout == ""
    assert sandbox.requests() == []


def test_a_report_whose_extension_names_no_format_is_refused_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    result = cli("push", str(export), "--yes", "--report", "out.txt", env=sandbox_env)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr == (
        "Error: --report: Cannot tell the report format of 'out.txt': give the report file "
        f"one of these extensions: {FORMATS}.\n"
    )
    assert sandbox.requests() == []
    assert not Path("out.txt").exists()


def test_apply_checks_its_report_path_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert cli("plan", str(export), "--out", str(saved), env=sandbox_env).exit_code == 3
    sandbox.clear_requests()

    missing = tmp_path / "gone" / "run.md"
    result = cli("apply", str(saved), "--yes", "--report", str(missing), env=sandbox_env)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"Error: --report '{missing}': the folder ")
    assert sandbox.requests() == []


def test_validate_checks_errors_out_before_reading(cli: Cli, export: Path, tmp_path: Path) -> None:
    under_a_file = export / "bad.csv"

    result = cli("validate", str(export), "--errors-out", str(under_a_file))

    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: --errors-out '{under_a_file}': '{export}' is not a folder. Give --errors-out "
        "a path in a folder.\n"
    )
    assert result.stdout == ""


def test_the_writability_probe_leaves_nothing_behind(
    cli: Cli, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()

    result = cli("plan", str(export), "--report", str(reports / "r.md"), env=sandbox_env)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert sorted(p.name for p in reports.iterdir()) == ["r.md"]


# --- at the end of a run that changed data ---------------------------------------------------


def remove_folder_after_the_run(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Let the run go through, then remove ``folder`` before its files are written: what a
    cleanup job (or a full disk) does between the check at the start and the write."""
    import communal_sync.applying.run as run_module  # flow imports run_plan when it runs

    real_run_plan = run_module.run_plan

    def run_then_remove(*args: Any, **kwargs: Any) -> Any:
        outcome = real_run_plan(*args, **kwargs)
        shutil.rmtree(folder)
        return outcome

    monkeypatch.setattr(run_module, "run_plan", run_then_remove)


def test_a_report_folder_removed_during_the_run_keeps_the_runs_exit_code(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    report, failed = folder / "run.html", folder / "failed.csv"
    remove_folder_after_the_run(monkeypatch, folder)

    result = cli(
        "push", str(export), "--yes", "--report", str(report), "--failed-out", str(failed),
        env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 3, result.stdout + result.stderr  # the run's: one invalid row
    assert sum(puts_by_user(sandbox).values()) == EXPORT_UPDATED
    assert result.stderr == (
        f"Warning: the report could not be written to {report}: No such file or directory; "
        "the run itself finished with exit code 3: see `communal-sync runs show 1` for every "
        "outcome.\n"
        f"Warning: the failed rows (--failed-out) could not be written to {failed}: No such "
        "file or directory; the run itself finished with exit code 3: see `communal-sync runs "
        "show 1` for every outcome.\n"
    )
    assert "Run 1: 4 users updated, 2 unchanged, 1 invalid" in result.stdout


def test_a_report_that_cannot_be_written_after_an_interrupted_run_says_how_it_ended(
    cli: Cli,
    sandbox: Sandbox,
    state_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from support.push import big_seed, write_big_export

    export = write_big_export(tmp_path / "members.csv", 12)
    folder = tmp_path / "reports"
    folder.mkdir()
    report = folder / "run.json"
    remove_folder_after_the_run(monkeypatch, folder)

    @contextlib.contextmanager
    def ctrl_c_after_three(total: int, *, run_id: int, redact: bool) -> Iterator[Any]:
        seen = 0

        def on_outcome(outcome: Any) -> None:
            nonlocal seen
            seen += 1
            if seen == 3:
                raise KeyboardInterrupt  # as Ctrl-C lands in the main thread

        yield on_outcome

    monkeypatch.setattr(flow_module, "progress_reporter", ctrl_c_after_three)
    with Sandbox(big_seed(12)) as big:
        result = cli(
            "push", str(export), "--yes", "--concurrency", "1", "--report", str(report),
            env=env_for(big, state_path),
        )  # fmt: skip

    assert result.exit_code == 130, result.stdout + result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("Warning: the ")]
    assert warning == [
        f"Warning: the report could not be written to {report}: No such file or directory; "
        "the run itself ended interrupted with exit code 130: see `communal-sync runs show 1` "
        "for every outcome."
    ]


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


# --- saying what was written -----------------------------------------------------------------


def test_push_says_where_its_report_and_failed_rows_were_written(
    cli: Cli, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    report, failed = tmp_path / "r.html", tmp_path / "failed.csv"

    result = cli(
        "push", str(export), "--yes", "--report", str(report), "--failed-out", str(failed),
        env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 3
    assert result.stderr == (f"Report written to {report}\nFailed rows written to {failed}\n")
    assert report.is_file() and failed.is_file()


def test_plan_out_says_how_to_apply_the_saved_plan(
    cli: Cli, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "my plan.json"

    result = cli("plan", str(export), "--out", str(saved), "--report", "r.md", env=sandbox_env)

    assert result.exit_code == 3
    assert result.stderr == (
        f"Report written to r.md\nPlan written to {saved}\n"
        f"Apply it with: communal-sync apply '{saved}'\n"
    )
    Path("r.md").unlink()


def test_validate_says_where_the_invalid_rows_were_written(
    cli: Cli, export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bad.csv"

    result = cli("validate", str(export), "--errors-out", str(out))

    assert result.exit_code == 3
    assert result.stderr == f"Invalid rows written to {out}\n"


def test_with_json_logs_what_was_written_is_an_event_not_a_line(
    cli: Cli, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    report, saved = tmp_path / "r.json", tmp_path / "plan.json"

    result = cli(
        "--log-format", "json", "plan", str(export), "--report", str(report), "--out",
        str(saved), env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 3
    events = [json.loads(line) for line in result.stderr.splitlines()]
    written = [(e["what"], e["path"]) for e in events if e["event"] == "written"]
    assert written == [("report", str(report)), ("plan", str(saved))]
    assert "Apply it with" not in result.stderr


def test_a_bad_path_sends_nothing_even_with_a_plan_to_send(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    """The whole request log, not only PUTs: not one GET either."""
    result = cli(
        "push", str(export), "--yes", "--report", str(tmp_path / "nope" / "r.csv"),
        env=sandbox_env,
    )  # fmt: skip

    assert result.exit_code == 2
    assert request_counts(sandbox) == {}


def test_revert_checks_its_report_path_before_any_request(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    assert cli("push", str(export), "--yes", env=sandbox_env).exit_code == 3
    sandbox.clear_requests()

    result = cli("revert", "1", "--yes", "--report", str(tmp_path / "r.pdf"), env=sandbox_env)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.startswith("Error: --report: Cannot tell the report format of ")
    assert sandbox.requests() == []


def test_a_dry_run_says_where_its_report_was_written(
    cli: Cli, sandbox_env: dict[str, str], export: Path, tmp_path: Path
) -> None:
    report = tmp_path / "plan.csv"

    result = cli("push", str(export), "--dry-run", "--report", str(report), env=sandbox_env)

    assert result.exit_code == 3
    assert result.stderr == f"Report written to {report}\n"
    assert report.read_text(encoding="utf-8-sig").startswith('"user_id","line",')
