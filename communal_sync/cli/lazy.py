"""A command group that imports a command's module only when that command is run.

``communal-sync --help`` lists every command from its ``CommandEntry`` (name, module,
one-line help) without importing any command module; ``communal-sync validate ...``
imports ``cli/validate.py`` and nothing of ``push``, ``sandbox`` or the state file. Each
command module still registers its command on the one ``app`` with ``@app.command()``;
the group builds the command from that registration the first time it is asked for it.

Start-up is what this is for (issue 11): importing every command module, and through them
the whole core, cost about a second before ``--help`` could print a line.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import Command, Context
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer.core import TyperCommand, TyperGroup, _TyperParameter

from communal_sync.cli.help_text import tidy_help


@dataclass(frozen=True)
class CommandEntry:
    """One command of the top-level group, known before its module is imported."""

    name: str
    module: str
    short_help: str
    """The line shown in the top-level command list (and by shell completion)."""


class _Listed(TyperCommand):
    """What the command list shows for a command whose module is not imported yet."""

    def __init__(self, entry: CommandEntry) -> None:
        super().__init__(name=entry.name, short_help=entry.short_help)


@dataclass(frozen=True)
class _CoercionOnDemand(RuntimeParam):
    """typer's coercion of one parameter, built only when a value needs it.

    typer builds a pydantic adapter for every parameter of a command that runs, given or
    not: about 10 ms each, most of ``validate``'s start-up. An option left at None needs
    none, and a plain ``str`` value is already what the adapter would return.
    """

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        descriptor = self.descriptor
        plain = descriptor.file_annotation is None and descriptor.parameter_info.parser is None
        annotation = descriptor.annotation
        if plain and isinstance(value, str) and annotation is str:
            return value
        enum_default = isinstance(annotation, type) and issubclass(annotation, enum.Enum)
        if plain and enum_default and isinstance(value, annotation):  # a default member
            return value
        if plain and descriptor.is_list and isinstance(value, (list, tuple)) and not value:
            return []
        built = build_runtime_param(self.descriptor)
        param._runtime_param = built
        return built.coerce(value, param=param, ctx=ctx)


def _on_demand(param: object) -> None:
    if isinstance(param, _TyperParameter) and param._runtime_param is None:
        descriptor = param.type_descriptor
        param._runtime_param = _CoercionOnDemand(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )


def coerce_on_demand(command: Command) -> Command:
    """Let ``command`` (and its subcommands) build each parameter's coercion on demand."""
    for param in command.params:
        _on_demand(param)
    if not getattr(command, "_coerce_on_demand", False):
        make_help_option = command.get_help_option  # --help is made per command, late

        def get_help_option(ctx: Context) -> Any:
            option = make_help_option(ctx)
            _on_demand(option)
            return option

        setattr(command, "get_help_option", get_help_option)  # noqa: B010
        setattr(command, "_coerce_on_demand", True)  # noqa: B010
    if isinstance(command, TyperGroup) and isinstance(command.commands, dict):
        for sub in command.commands.values():
            coerce_on_demand(sub)
    return command


class LazyCommands(MutableMapping[str, Command]):
    """The group's commands: the built ones, and the entries built on first lookup.

    Iterating (names, ``in``, ``len``) never imports anything; getting a command builds
    it. Entries keep their declared order (the workflow order), ahead of any command
    registered outside them.
    """

    def __init__(
        self,
        built: MutableMapping[str, Command],
        entries: Sequence[CommandEntry],
        build: Callable[[CommandEntry], Command],
    ) -> None:
        self._built = dict(built)
        self._entries = {entry.name: entry for entry in entries}
        self._build = build
        for name, command in self._built.items():
            coerce_on_demand(tidy_help(command, name))
            if name in self._entries:
                command.short_help = self._entries[name].short_help

    def entry(self, name: str) -> CommandEntry | None:
        """The entry of a command not built yet, else None."""
        return None if name in self._built else self._entries.get(name)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            entry = self._entries.get(name)
            if entry is None:
                raise KeyError(name)
            self._built[name] = coerce_on_demand(tidy_help(self._build(entry), name))
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._built.pop(name, None)
        self._entries.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield from (name for name in self._built if name not in self._entries)

    def __len__(self) -> int:
        return len(self._entries.keys() | self._built.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._built


def build_registered(app: typer.Typer, entry: CommandEntry) -> Command:
    """Import ``entry``'s module and build the command it registered on ``app``.

    The module's ``@app.command()`` (or ``app.add_typer``) adds it to ``app``'s
    registrations; the command is built from there exactly as typer builds it eagerly,
    and given the entry's short help, so the list and the command never disagree.
    """
    importlib.import_module(entry.module)
    command: Command | None = None
    for info in app.registered_commands:
        callback = info.callback
        name = info.name or (typer.main.get_command_name(callback.__name__) if callback else "")
        if name == entry.name:
            command = typer.main.get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in app.registered_groups:
        if group.name == entry.name:
            command = typer.main.get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                suggest_commands=app.suggest_commands,
                rich_markup_mode=app.rich_markup_mode,
            )
    if command is None:
        raise LookupError(f"{entry.module} registers no command named {entry.name!r}")
    command.short_help = entry.short_help
    return command


class LazyGroup(TyperGroup):
    """A ``TyperGroup`` whose commands come from ``entries``, each built when first used.

    Subclasses set ``entries`` and ``build``. Help and completion list the entries
    without building them; running a command (or asking for its ``--help``) builds it.
    Usage errors are printed plainly (``Error: No such option ...``), not in a rich box,
    although the help is rich: they go to logs and cron mail.
    """

    entries: Sequence[CommandEntry] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands, self.entries, self.build)
        self._listing = False

    def build(self, entry: CommandEntry) -> Command:
        """Build ``entry``'s command (importing its module)."""
        raise NotImplementedError

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        commands = self.commands
        if self._listing and isinstance(commands, LazyCommands):
            entry = commands.entry(cmd_name)
            if entry is not None:
                return _Listed(entry)
        return commands.get(cmd_name)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def format_help(self, ctx: Context, formatter: Any) -> None:
        tidy_help(self, "")  # the options typer adds after building the group too
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Context, incomplete: str) -> list[Any]:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        coerce_on_demand(self)  # the group's own options (--log-format, completion) too
        return typer.core._main(
            self,
            args=args,
            prog_name=prog_name,
            complete_var=complete_var,
            standalone_mode=standalone_mode,
            windows_expand_args=windows_expand_args,
            rich_markup_mode=None,
            **extra,
        )
