"""What every command's ``--help`` shows beyond its docstring: examples, readable metavars.

Kept here, once, rather than in each command module: ``EXAMPLES`` gives each command an
"Examples:" epilog of real invocations (a test parses each one against the command), and
``tidy_help`` replaces the Python types typer would print (``FILE <str>``, ``<bool>``,
``<int range>``, ``{FILE}``) with the words a person types: ``FILE``, ``N``, ``TEXT``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from typer._click import Command, Context
from typer.core import TyperArgument, TyperGroup, TyperOption

from communal_sync.cli.options import API_PANEL, INPUT_PANEL, MATCH_PANEL, OUTPUT_PANEL, PLAN_PANEL

EXAMPLES: Final[Mapping[str, tuple[str, ...]]] = {
    "init": (
        "communal-sync init people.csv",
        "communal-sync init people.csv --out nightly.toml --force",
    ),
    "doctor": (
        "communal-sync doctor",
        "communal-sync doctor --sandbox",
        "communal-sync doctor --json",
    ),
    "validate": (
        "communal-sync validate people.csv",
        'communal-sync validate people.csv --map "Member No=external_id" --errors-out bad-rows.csv',
        "communal-sync validate people.csv --show-mapping",
    ),
    "link": (
        "communal-sync link ids.csv --dry-run",
        "communal-sync link --from-communal",
    ),
    "plan": (
        "communal-sync plan people.csv",
        "communal-sync plan people.csv --out plan.json --report plan.html",
        "communal-sync plan people.csv --sandbox",
    ),
    "push": (
        "communal-sync push people.csv --dry-run",
        "communal-sync push people.csv --yes --max-changes 5% --report run.html",
        "communal-sync push people.csv --resume",
    ),
    "apply": (
        "communal-sync apply plan.json",
        "communal-sync apply plan.json --yes --report run.html",
    ),
    "runs": (
        "communal-sync runs",
        "communal-sync runs --limit 5 --json",
        "communal-sync runs show 12",
    ),
    "runs show": (
        "communal-sync runs show 12",
        "communal-sync runs show 12 --json",
    ),
    "revert": (
        "communal-sync revert 12 --dry-run",
        "communal-sync revert 12 --yes --report revert.html",
    ),
    "user": (
        "communal-sync user 101",
        "communal-sync user 101 --json --sandbox",
    ),
    "fields": (
        "communal-sync fields",
        "communal-sync fields --json --sandbox",
    ),
    "sandbox": (
        "communal-sync sandbox --port 8765",
        "communal-sync sandbox --latency-ms 50 --rate-limit 20 --error-rate 0.05",
    ),
}
"""Two or three real invocations per command (``runs show`` by its full name)."""


PANEL_ORDER: Final = (None, INPUT_PANEL, MATCH_PANEL, PLAN_PANEL, OUTPUT_PANEL, API_PANEL)
"""Help panels in the order of the work: the command's own options, then reading the file,
matching, planning, output, and the API (whatever order the signature lists them in)."""


def examples_epilog(examples: tuple[str, ...]) -> str:
    """The "Examples:" epilog, one invocation a line (``\\b`` keeps the lines as they are)."""
    return "\b\nExamples:\n" + "\n".join(f"  {example}" for example in examples)


def tidy_help(command: Command, path: str) -> Command:
    """Give ``command`` (and each subcommand) its examples and readable metavars."""
    examples = EXAMPLES.get(path)
    if examples and not command.epilog:
        command.epilog = examples_epilog(examples)
    command.params.sort(key=_panel_rank)
    for param in command.params:
        if isinstance(param, TyperOption):
            _tidy_option(param)
        elif isinstance(param, TyperArgument):
            _tidy_argument(param)
    if not getattr(command, "_help_tidied", False):
        _tidy_help_option(command)
    # A lazy group tidies each command as it builds it; a plain group (runs) holds its own.
    if isinstance(command, TyperGroup) and isinstance(command.commands, dict):
        for name, sub in command.commands.items():
            tidy_help(sub, f"{path} {name}")
    return command


def _tidy_help_option(command: Command) -> None:
    """``--help`` is made when help is first asked for: tidy it then."""
    make = command.get_help_option

    def get_help_option(ctx: Context) -> TyperOption | None:
        option = make(ctx)
        if option is not None:
            _tidy_option(option)
        return option

    _override(command, "get_help_option", get_help_option)
    _override(command, "_help_tidied", True)


def _tidy_option(option: TyperOption) -> None:
    if option.is_flag or option.count:
        option.metavar = ""  # a switch takes no value: no "<bool>"
    elif option.metavar is None and not option.type_descriptor.is_choice:
        option.metavar = _word_for(option.type_descriptor.annotation)


def _tidy_argument(argument: TyperArgument) -> None:
    if argument.metavar is None:
        argument.metavar = _word_for(argument.type_descriptor.annotation)
    shown = argument.metavar
    usage = shown if argument.required or shown.startswith("[") else f"[{shown}]"
    # The name alone, as click writes it: "push [OPTIONS] FILE", not "{FILE}" nor "FILE <str>".
    _override(argument, "display_type_rich", lambda ctx: None)
    _override(argument, "_usage_display_name", lambda: usage)


def _panel_rank(param: object) -> int:
    panel = getattr(param, "rich_help_panel", None)
    return PANEL_ORDER.index(panel) if panel in PANEL_ORDER else len(PANEL_ORDER)


def _word_for(annotation: Any) -> str:
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "PATH"
    return "TEXT"


def _override(target: object, name: str, value: Any) -> None:
    """Replace one help method on one parameter (typer picks its help classes itself)."""
    setattr(target, name, value)
