"""From a file name and options to a stream of validated rows: read, map, validate.

Every command that takes an export (validate, plan, push) comes through here, so the
three steps are wired once; ``settings.resolve_settings`` merges the flags over the config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from communal_sync.intake.config import Config
from communal_sync.intake.mapping import ColumnMapping, build_mapping
from communal_sync.intake.settings import IntakeOptions, Settings, resolve_settings
from communal_sync.intake.validate import (
    RowResult,
    ValidationOptions,
    ValidationSummary,
    summarize_source,
    validate_source,
)
from communal_sync.sources.source import Source, open_source


@dataclass
class Intake:
    """An opened export with its column mapping, ready to stream validated rows."""

    source: Source
    mapping: ColumnMapping
    options: ValidationOptions
    settings: Settings
    warnings: list[str] = field(default_factory=list)

    @property
    def config(self) -> Config:
        """The config file's contents (its defaults already merged into ``settings``)."""
        return self.settings.config

    def results(self, *, on_row_count: Callable[[int], None] | None = None) -> Iterator[RowResult]:
        """Validate every row, in file order (two passes; see ``validate_source``)."""
        return validate_source(self.source, self.mapping, self.options, on_row_count=on_row_count)

    def summary(self) -> ValidationSummary:
        """``summarize(self.results(), self.mapping)``, in one read of a file without
        duplicate keys (see ``summarize_source``): for a caller that needs no rows."""
        return summarize_source(self.source, self.mapping, self.options)


def open_intake(
    file: str,
    options: IntakeOptions,
    *,
    cwd: Path | None = None,
    stdin: BinaryIO | None = None,
) -> Intake:
    """Open ``file`` (``-`` for stdin), load the config and build the column mapping.

    Raises ``InputError`` for an unreadable file or unusable header and ``ConfigError`` for
    a bad config or ``--map``; nothing has been sent anywhere when either happens.
    """
    settings = resolve_settings(options, cwd=cwd or Path.cwd())
    source = open_source(
        file, encoding=settings.encoding, input_format=settings.input_format, stdin=stdin
    )
    mapping = build_mapping(source.headers, overrides=settings.overrides(), source_name=source.name)
    validation = ValidationOptions(
        on_duplicate=settings.on_duplicate,
        default_region=settings.default_region,
        date_order=settings.date_order,
        allow_confusable_emails=options.allow_confusable_emails,
    )
    return Intake(
        source=source,
        mapping=mapping,
        options=validation,
        settings=settings,
        warnings=list(source.warnings),
    )
