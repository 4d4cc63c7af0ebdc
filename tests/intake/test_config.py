"""communal-sync.toml: found, read, checked; every mistake is a ConfigError naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from communal_sync.errors import ConfigError
from communal_sync.intake.config import CONFIG_FILE_NAME, Config, load_config

FULL = """
[mapping]
"Member No" = "external_id"
"Shirt" = "custom:T-shirt size"

[defaults]
default_region = "ca"
date_order = "dmy"
on_duplicate = "last"
encoding = "cp1252"
"""


def write(tmp_path: Path, text: str, name: str = CONFIG_FILE_NAME) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_full_config_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), cwd=tmp_path)
    assert config.mapping == {"Member No": "external_id", "Shirt": "custom:T-shirt size"}
    assert config.defaults.default_region == "CA"
    assert config.defaults.date_order == "dmy"
    assert config.defaults.on_duplicate == "last"
    assert config.defaults.encoding == "cp1252"


def test_no_config_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(None, cwd=tmp_path)
    assert config == Config()
    assert config.defaults.on_duplicate == "error"
    assert config.defaults.date_order is None
    assert config.mapping == {}


def test_config_in_working_directory_is_found(tmp_path: Path) -> None:
    write(tmp_path, '[defaults]\non_duplicate = "first"\n')
    assert load_config(None, cwd=tmp_path).defaults.on_duplicate == "first"


def test_explicit_path_wins_over_working_directory(tmp_path: Path) -> None:
    write(tmp_path, '[defaults]\non_duplicate = "first"\n')
    other = write(tmp_path, '[defaults]\non_duplicate = "last"\n', name="other.toml")
    assert load_config(other, cwd=tmp_path).defaults.on_duplicate == "last"


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: check the --config path"):
        load_config(tmp_path / "nope.toml", cwd=tmp_path)


def test_unknown_key_names_key_file_and_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[defaults]\ndat_order = "dmy"\n')
    with pytest.raises(ConfigError) as error:
        load_config(path, cwd=tmp_path)
    message = str(error.value)
    assert str(path) in message
    assert "unknown setting 'defaults.dat_order'" in message
    assert "date_order" in message


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[mappings]\n"A" = "email"\n')
    with pytest.raises(ConfigError, match=r"unknown setting 'mappings'.*mapping, defaults"):
        load_config(path, cwd=tmp_path)


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[mapping]\n"Member No" = external_id\n')
    with pytest.raises(ConfigError) as error:
        load_config(path, cwd=tmp_path)
    assert f"{path}, line 2: not valid TOML" in str(error.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[defaults]\ndate_order = "ymd"\n', "defaults.date_order"),
        ('[defaults]\non_duplicate = "newest"\n', "defaults.on_duplicate"),
        ('[defaults]\ndefault_region = "Canada"\n', "is not a region code"),
        ('[defaults]\nencoding = "utf-9"\n', "not an encoding Python knows"),
        ('[mapping]\n"Member No" = "member_number"\n', "not a Communal field"),
        ('[mapping]\n"Member No" = 3\n', "mapping.Member No"),
        ('defaults = "x"\n', "defaults"),
    ],
)
def test_bad_values_are_config_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_config(write(tmp_path, text), cwd=tmp_path)


def test_config_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / CONFIG_FILE_NAME
    path.write_bytes(b'\xef\xbb\xbf[defaults]\ndate_order = "mdy"\n')
    assert load_config(path, cwd=tmp_path).defaults.date_order == "mdy"


def test_config_is_frozen(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), cwd=tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        config.defaults.date_order = "mdy"  # type: ignore[misc]
