"""The one place where the command line, the config file and the defaults are merged.

A flag always wins over ``communal-sync.toml``, which wins over the built-in default.
Every command that reads an export (``validate``, ``plan``, ``push``, ``link``) passes its
flags here and reads the merged ``Settings``; no other module decides between a flag and
the config.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from communal_sync.errors import ConfigError
from communal_sync.intake.config import Config, load_config
from communal_sync.intake.duplicates import DuplicatePolicy
from communal_sync.intake.mapping import parse_map_option
from communal_sync.intake.synonyms import column_key
from communal_sync.values.dates import DateOrder


@dataclass(frozen=True)
class ReadOptions:
    """What the command line says about reading a file; ``None`` defers to the config."""

    encoding: str | None = None
    input_format: str | None = None
    map_items: Sequence[str] = ()
    config_path: Path | None = None


@dataclass(frozen=True)
class IntakeOptions(ReadOptions):
    """What the command line says about reading and judging one export."""

    on_duplicate: DuplicatePolicy | None = None
    default_region: str | None = None
    custom_fields: bool | None = None
    """--custom-fields (True), --no-custom-fields (False), or neither (None)."""
    allow_confusable_emails: bool = False
    """--allow-confusable-emails: a look-alike email (mixed scripts, full-width) is valid."""


@dataclass(frozen=True)
class Settings:
    """Every setting of one read, after flags, config and defaults were merged."""

    config: Config
    encoding: str | None
    input_format: str | None
    on_duplicate: DuplicatePolicy
    default_region: str | None
    date_order: DateOrder | None
    custom_fields: bool | None
    config_mapping: Mapping[str, str] = field(default_factory=dict)
    flag_mapping: Mapping[str, str] = field(default_factory=dict)

    def overrides(self, present: Collection[str] | None = None) -> dict[str, str]:
        """Column -> field overrides: the config's ``[mapping]``, then ``--map`` over it.

        With ``present`` (the file's headers), config entries for columns the file lacks
        are left out: the config describes the export, and another file (an id map) may
        not have all its columns. ``--map`` entries are always kept, so a typo in one is
        reported.
        """
        keys = None if present is None else {column_key(h) for h in present}
        merged = {
            column: target
            for column, target in self.config_mapping.items()
            if keys is None or column_key(column) in keys
        }
        merged.update(self.flag_mapping)
        return merged


def resolve_settings(options: ReadOptions, *, cwd: Path) -> Settings:
    """Load the config (``--config`` or ``./communal-sync.toml``) and merge ``options`` over it.

    Raises ``ConfigError`` for a bad config file, a bad ``--map`` or a region that is not
    a two-letter code; nothing has been read or sent when it does.
    """
    config = load_config(options.config_path, cwd=cwd)
    defaults = config.defaults
    intake = options if isinstance(options, IntakeOptions) else IntakeOptions()
    region = intake.default_region or defaults.default_region
    if region is not None and (len(region) != 2 or not region.isalpha()):
        raise ConfigError(
            f'default_region {region!r} is not a two-letter country code; use e.g. "CA".'
        )
    flag = intake.custom_fields
    return Settings(
        config=config,
        encoding=options.encoding or defaults.encoding,
        input_format=options.input_format,
        on_duplicate=intake.on_duplicate or defaults.on_duplicate,
        default_region=region.upper() if region else None,
        date_order=defaults.date_order,
        custom_fields=flag if flag is not None else defaults.custom_fields,
        config_mapping=dict(config.mapping),
        flag_mapping=parse_map_option(options.map_items),
    )
