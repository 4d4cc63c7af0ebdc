"""The ``communal-sync.toml`` configuration file: column mapping and run defaults.

    [mapping]                 # "Column name" = "field"
    "Member No" = "external_id"

    [defaults]
    default_region = "CA"     # phone numbers written without a country code
    date_order = "dmy"        # read 03/04/2001 as day/month; unset: ambiguous dates are invalid
    on_duplicate = "error"    # error | first | last
    encoding = "utf-8"        # optional; otherwise detected
    custom_fields = true      # map headers named like a custom field; false turns them off

Every key is checked (``extra="forbid"``): a typo is an error naming the key and the file,
never a setting silently ignored. A new section is one more field on ``Config``.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from communal_sync.errors import ConfigError
from communal_sync.intake.duplicates import DuplicatePolicy
from communal_sync.intake.mapping import resolve_field
from communal_sync.values.dates import DateOrder

CONFIG_FILE_NAME: Final = "communal-sync.toml"
DEFAULT_ON_DUPLICATE: Final[DuplicatePolicy] = "error"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Section):
    """``[defaults]``: how to read values the file leaves open, and the duplicate policy."""

    default_region: str | None = None
    date_order: DateOrder | None = None
    on_duplicate: DuplicatePolicy = DEFAULT_ON_DUPLICATE
    encoding: str | None = None
    custom_fields: bool | None = None
    """true: also map headers named like a custom field; false: ignore custom fields."""

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import phonenumbers

        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f'{value!r} is not a region code; use ISO alpha-2, such as "CA"')
        return region

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"{value!r} is not an encoding Python knows") from None
        return value


class Config(_Section):
    """The whole configuration; each section is a field with a default."""

    mapping: dict[str, str] = {}
    defaults: Defaults = Defaults()

    @field_validator("mapping")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for column, target in value.items():
            try:
                resolve_field(target)
            except ConfigError as error:
                raise ValueError(f"column {column!r}: {error}") from None
        return value


_TOML_LINE: Final = re.compile(r"at line (\d+)")


def find_config(path: Path | None, *, cwd: Path) -> Path | None:
    """The config file to read: ``path`` if given, else ``./communal-sync.toml`` if present."""
    if path is not None:
        return path
    default = cwd / CONFIG_FILE_NAME
    return default if default.is_file() else None


def load_config(path: Path | None, *, cwd: Path) -> Config:
    """Read and check the config file (see ``find_config``); no file gives the defaults.

    Raises ConfigError naming the file and the problem: missing or unreadable file, invalid
    TOML (with its line), an unknown section or key, or a value of the wrong kind.
    """
    found = find_config(path, cwd=cwd)
    if found is None:
        return Config()
    try:
        text = found.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"Config file {found} does not exist: check the --config path.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Config file {found} cannot be read ({error}): fix the file.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _TOML_LINE.search(str(error))
        where = f", line {line[1]}" if line else ""
        raise ConfigError(
            f"{found}{where}: not valid TOML ({error}). Fix the syntax; strings need quotes, "
            'for example "Member No" = "external_id".'
        ) from None
    return parse_config(data, source=str(found))


def parse_config(data: dict[str, Any], *, source: str = CONFIG_FILE_NAME) -> Config:
    """Check a parsed TOML document against ``Config``; errors name ``source`` and the key."""
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def _describe(error: ValidationError, source: str) -> str:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown setting {location!r}{_known_keys_hint(item['loc'])}")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{location}: {message}")
    return f"{source}: " + "; ".join(p.rstrip(".") for p in problems) + ". Fix the config file."


def _known_keys_hint(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    section = f"[{'.'.join(map(str, loc[:-1]))}]" if len(loc) > 1 else "the top level"
    names = ", ".join(model.model_fields)
    return f" (valid in {section}: {names})"
