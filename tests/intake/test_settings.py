"""Flags, the config file and defaults are merged in one place: a flag always wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from communal_sync.errors import ConfigError
from communal_sync.intake.settings import IntakeOptions, ReadOptions, resolve_settings

CONFIG = """
[mapping]
"Member No" = "external_id"
"Cell" = "telephone"

[defaults]
default_region = "CA"
date_order = "dmy"
on_duplicate = "first"
encoding = "cp1252"
custom_fields = true
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "communal-sync.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def test_without_flags_the_config_file_decides(folder: Path) -> None:
    settings = resolve_settings(IntakeOptions(), cwd=folder)

    assert (settings.encoding, settings.on_duplicate, settings.default_region) == (
        "cp1252",
        "first",
        "CA",
    )
    assert (settings.date_order, settings.custom_fields) == ("dmy", True)
    assert settings.overrides() == {"Member No": "external_id", "Cell": "telephone"}


def test_every_flag_wins_over_the_config_file(folder: Path) -> None:
    options = IntakeOptions(
        encoding="utf-8",
        map_items=("Cell=", "Mobile=telephone"),
        on_duplicate="error",
        default_region="us",
        custom_fields=False,
    )

    settings = resolve_settings(options, cwd=folder)

    assert (settings.encoding, settings.on_duplicate, settings.default_region) == (
        "utf-8",
        "error",
        "US",
    )
    assert settings.custom_fields is False
    assert settings.overrides() == {
        "Member No": "external_id",
        "Cell": "",
        "Mobile": "telephone",
    }


def test_without_a_config_file_the_defaults_apply(tmp_path: Path) -> None:
    settings = resolve_settings(IntakeOptions(), cwd=tmp_path)

    assert (settings.encoding, settings.on_duplicate, settings.default_region) == (
        None,
        "error",
        None,
    )
    assert (settings.custom_fields, settings.overrides()) == (None, {})


def test_a_file_without_a_configured_column_keeps_only_the_entries_it_has(folder: Path) -> None:
    """An id-map file is not the export: config entries for columns it lacks are left out,
    but a --map for a missing column is kept, so the mapping step can report it."""
    settings = resolve_settings(ReadOptions(map_items=("Typo=email",)), cwd=folder)

    assert settings.overrides(present=["member no", "Email"]) == {
        "Member No": "external_id",
        "Typo": "email",
    }


def test_a_region_that_is_not_two_letters_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a two-letter country code"):
        resolve_settings(IntakeOptions(default_region="CAN"), cwd=tmp_path)
