"""From a file name and options to a stream of validated rows: read, map, validate.

Every command that takes an export (validate, plan, push) comes through here, so the
three steps are wired once and flags always win over the config file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from communal_sync.errors import ConfigError
from communal_sync.intake.config import Config, load_config
from communal_sync.intake.mapping import ColumnMapping, build_mapping, parse_map_option
from communal_sync.intake.validate import RowResult, ValidationOptions, validate_source
from communal_sync.sources.source import Source, open_source

DuplicatePolicy = Literal["error", "first", "last"]


@dataclass(frozen=True)
class IntakeOptions:
    """What the command line says about reading one export; ``None`` defers to the config."""

    encoding: str | None = None
    input_format: str | None = None
    map_items: Sequence[str] = ()
    config_path: Path | None = None
    on_duplicate: DuplicatePolicy | None = None
    default_region: str | None = None


@dataclass
class Intake:
    """An opened export with its column mapping, ready to stream validated rows."""

    source: Source
    mapping: ColumnMapping
    options: ValidationOptions
    config: Config
    warnings: list[str] = field(default_factory=list)

    def results(self) -> Iterator[RowResult]:
        """Validate every row, in file order (two passes; see ``validate_source``)."""
        return validate_source(self.source, self.mapping, self.options)


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
    config = load_config(options.config_path, cwd=cwd or Path.cwd())
    defaults = config.defaults
    overrides = dict(config.mapping)
    overrides.update(parse_map_option(options.map_items))
    source = open_source(
        file,
        encoding=options.encoding or defaults.encoding,
        input_format=options.input_format,
        stdin=stdin,
    )
    mapping = build_mapping(source.headers, overrides=overrides, source_name=source.name)
    region = options.default_region or defaults.default_region
    if region is not None and (len(region) != 2 or not region.isalpha()):
        raise ConfigError(
            f'default_region {region!r} is not a two-letter country code; use e.g. "CA".'
        )
    validation = ValidationOptions(
        on_duplicate=options.on_duplicate or defaults.on_duplicate,
        default_region=region.upper() if region else None,
        date_order=defaults.date_order,
    )
    return Intake(
        source=source,
        mapping=mapping,
        options=validation,
        config=config,
        warnings=list(source.warnings),
    )
