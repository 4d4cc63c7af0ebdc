"""Shared options are declared once: ``@flags`` spreads option groups into a command."""

from __future__ import annotations

import inspect
from dataclasses import fields

import pytest
import typer
from typer.testing import CliRunner

from communal_sync.cli.app import app
from communal_sync.cli.options import (
    ApiFlags,
    IntakeFlags,
    OutputFlags,
    PlanningFlags,
    ShowChoice,
    flags,
)


def test_a_group_parameter_becomes_its_fields_and_comes_back_as_one_instance() -> None:
    received: list[object] = []

    @flags
    def command(name: str, api: ApiFlags, output: OutputFlags) -> None:
        received.extend([name, api, output])

    names = list(inspect.signature(command).parameters)
    assert names == [
        "name",
        *(f.name for f in fields(ApiFlags)),
        "report",
        "redact",
        "show",
        "quiet",
        "as_json",
    ]

    command(name="x", base_url="https://b", api_key_file=None, api_version=None,
            sandbox=True, sandbox_seed=None, report=None, redact=True, show=ShowChoice.changes,
            quiet=False, as_json=False)  # fmt: skip

    assert received == ["x", ApiFlags(base_url="https://b", sandbox=True), OutputFlags(redact=True)]


def test_an_option_declared_twice_is_refused_when_the_command_is_defined() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        @flags
        def command(output: OutputFlags, redact: bool = False) -> None: ...


def test_typer_parses_the_spread_options_into_the_groups() -> None:
    local = typer.Typer()
    seen: dict[str, object] = {}

    @local.command()
    @flags
    def go(intake: IntakeFlags, planning: PlanningFlags) -> None:
        seen["intake"], seen["planning"] = intake, planning

    result = CliRunner().invoke(
        local,
        [
            "--map",
            "A=email",
            "--map",
            "B=",
            "--on-conflict",
            "source",
            "--allow-clear",
            "telephone",
        ],
    )

    assert result.exit_code == 0, result.output
    intake, planning = seen["intake"], seen["planning"]
    assert isinstance(intake, IntakeFlags) and intake.map_items == ["A=email", "B="]
    assert isinstance(planning, PlanningFlags)
    assert (planning.on_conflict.value, planning.allow_clear) == ("source", ["telephone"])


def test_plan_and_push_offer_the_same_shared_options() -> None:
    """Declared once, so the two can never drift apart."""
    commands = {c.name: c for c in typer.main.get_command(app).commands.values()}  # type: ignore[attr-defined]
    shared = {
        p.name
        for group in (ApiFlags, IntakeFlags, PlanningFlags, OutputFlags)
        for p in fields(group)
    }
    for name in ("plan", "push"):
        declared = {p.name for p in commands[name].params}
        assert shared <= declared, (name, shared - declared)
