"""An interactive push re-reads each user after the question is answered.

The plan can sit on screen for minutes; a user edited in Communal meanwhile must not be
overwritten with the values read before. A push with --yes (cron) answers at once and keeps
its two calls per changed user.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.cli import CliResult
from support.push import edit_in_communal, request_counts, users_of

from communal_sync.cli import flow as push_module
from communal_sync.cli import prompt as terminal_prompt
from communal_sync.sandbox import Sandbox

Cli = Callable[..., CliResult]

HEADER = "id,first_name,last_name,email,telephone"
ROWS = (
    "101,Amara,Okafor,amara.okafor@example.org,+1 416 555 0199",
    "103,Chen,Wei,chen.wei@example.org,+1 604 555 0199",
)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


def answer_yes_after(monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]) -> list[str]:
    """Pretend to be a terminal whose person does ``meanwhile`` elsewhere, then says yes."""
    asked: list[str] = []

    def confirm(question: str, default: bool = False) -> bool:
        asked.append(question)
        meanwhile()
        return True

    monkeypatch.setattr(
        push_module, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
    )
    monkeypatch.setattr(terminal_prompt, "ask_yes_no", confirm)
    return asked


def test_a_user_edited_in_communal_while_the_question_waits_is_left_alone(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    export: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = answer_yes_after(
        monkeypatch, lambda: edit_in_communal(sandbox, 101, first_name="Kemisola")
    )

    result = cli("push", str(export), env=sandbox_env)

    assert asked == ["Apply these changes to 2 users?"]
    assert result.exit_code == 3, result.stdout + result.stderr
    users = users_of(sandbox)
    assert users[101]["first_name"] == "Kemisola"
    assert users[101]["telephone"] == "+1 416 555 0101"
    assert users[103]["telephone"] == "+1 604 555 0199"
    assert "Changed in Communal since the plan was made" in " ".join(result.stdout.split())


def test_an_interactive_push_with_no_edit_meanwhile_applies_everything(
    cli: Cli,
    sandbox: Sandbox,
    sandbox_env: dict[str, str],
    export: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer_yes_after(monkeypatch, lambda: None)

    result = cli("push", str(export), env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    users = users_of(sandbox)
    assert (users[101]["telephone"], users[103]["telephone"]) == (
        "+1 416 555 0199",
        "+1 604 555 0199",
    )


def test_a_push_with_yes_costs_one_get_and_one_put_per_changed_user(
    cli: Cli, sandbox: Sandbox, sandbox_env: dict[str, str], export: Path
) -> None:
    result = cli("push", str(export), "--yes", env=sandbox_env)

    assert result.exit_code == 0, result.stdout + result.stderr
    counts = request_counts(sandbox)
    assert (counts["GET"], counts["PUT"]) == (2, 2)
