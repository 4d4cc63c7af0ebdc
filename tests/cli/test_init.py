"""``communal-sync init SAMPLE``: a commented config the tool reads back with the same mapping."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.paths import SAMPLE_DATA

from communal_sync.intake.config import load_config

Cli = Callable[..., CliResult]

SAMPLE = (
    "First Name,Last Name,E-mail,Email 2,Cel Phone,Member No,T-shirt size,custom:Diet\n"
    "Ana,Li,a@example.org,b@example.org,4165550101,7,M,veg\n"
)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "people.csv").write_text(SAMPLE, encoding="utf-8")
    return tmp_path


def test_init_writes_every_column_and_validate_then_uses_that_mapping(
    cli: Cli, workdir: Path
) -> None:
    result = cli("init", "people.csv")

    config = workdir / "communal-sync.toml"
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Wrote communal-sync.toml: 5 columns mapped, 3 not mapped (each with a comment saying "
        "why). Check it with: communal-sync validate people.csv --show-mapping\n"
    )
    assert load_config(None, cwd=workdir).mapping == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "E-mail": "email",
        "Member No": "external_id",
        "custom:Diet": "custom:Diet",
    }
    text = config.read_text(encoding="utf-8")
    assert (
        '# not mapped: "Email 2" looks like email, which comes from "E-mail". To take it from '
        'this column instead, move the entry:\n# "Email 2" = "email"\n'
    ) in text
    assert '# not mapped: "Cel Phone" looks like telephone? If so, uncomment:\n' in text
    assert '# "Cel Phone" = "telephone"\n' in text
    assert (
        '# not mapped: "T-shirt size" names no Communal field. A custom profile field? Use '
        "--custom-fields (plan, push), or map it:\n"
        '# "T-shirt size" = "custom:T-shirt size"\n'
    ) in text

    shown = cli("validate", "people.csv", "--show-mapping")

    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[1:4] == [
        "  'First Name' → first_name (the config file)",
        "  'Last Name' → last_name (the config file)",
        "  'E-mail' → email (the config file)",
    ]
    assert "  'Member No' → external_id (the config file)" in shown.stdout.splitlines()


def test_uncommenting_a_suggestion_maps_that_column(cli: Cli, workdir: Path) -> None:
    cli("init", "people.csv")
    config = workdir / "communal-sync.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('# "Cel Phone" = "telephone"', '"Cel Phone" = "telephone"'))

    shown = cli("validate", "people.csv", "--show-mapping")

    assert "  'Cel Phone' → telephone (the config file)" in shown.stdout.splitlines()


def test_an_existing_config_is_kept_without_force_and_replaced_with_it(
    cli: Cli, workdir: Path
) -> None:
    config = workdir / "communal-sync.toml"
    config.write_text("# mine\n", encoding="utf-8")

    refused = cli("init", "people.csv")
    forced = cli("init", "people.csv", "--force")

    assert refused.exit_code == 2
    assert refused.stderr == (
        "Error: communal-sync.toml already exists; it is left as it is. Pass --force to "
        "overwrite it, or --out FILE to write another file.\n"
    )
    assert forced.exit_code == 0
    assert config.read_text(encoding="utf-8").startswith("# communal-sync.toml, written by")


def test_out_writes_elsewhere_and_config_reads_it(cli: Cli, workdir: Path) -> None:
    result = cli("init", "people.csv", "--out", "other.toml")

    assert result.exit_code == 0
    assert not (workdir / "communal-sync.toml").exists()
    shown = cli("validate", "people.csv", "--show-mapping", "--config", "other.toml")
    assert "  'First Name' → first_name (the config file)" in shown.stdout.splitlines()


def test_awkward_header_names_round_trip_through_toml(cli: Cli, workdir: Path) -> None:
    headers = ['First "Given" Name', "Last\\Name", "Email", "Stra\u00dfe", "Tab\there"]
    sample = workdir / "odd.csv"
    sample.write_text(
        ",".join(f'"{h.replace(chr(34), chr(34) * 2)}"' for h in headers)
        + "\nAna,Li,a@example.org,x,y\n",
        encoding="utf-8",
    )

    result = cli("init", "odd.csv", "--out", "odd.toml")

    assert result.exit_code == 0, result.stderr
    document = tomllib.loads((workdir / "odd.toml").read_text(encoding="utf-8"))
    assert document["mapping"] == {
        'First "Given" Name': "first_name",
        "Last\\Name": "last_name",
        "Email": "email",
        "Straße": "profile_address",
    }
    written = (workdir / "odd.toml").read_text(encoding="utf-8")
    assert '# not mapped: "Tab\\u0009here" names no Communal field.' in written
    assert document.get("defaults", {}) == {}


def test_a_sample_without_a_required_column_is_written_with_a_warning(
    cli: Cli, workdir: Path
) -> None:
    (workdir / "names.csv").write_text("Name,EmailAddr,Cell\nAna Li,a@example.org,1\n")

    result = cli("init", "names.csv")

    assert result.exit_code == 0
    assert result.stderr == (
        "Warning: No column of names.csv maps to first_name, last_name, email, which every row "
        "needs: add an entry for it under [mapping] in communal-sync.toml.\n"
    )
    text = (workdir / "communal-sync.toml").read_text(encoding="utf-8")
    assert '"Cell" = "telephone"  # a known column name\n' in text
    assert '# "EmailAddr" = "email"\n' in text
    assert (
        "# missing: no column maps to first_name, last_name, email, which every row needs: "
        'add "Column" = "field" for it.\n'
    ) in text


def test_the_shipped_sample_gives_a_config_validate_accepts(cli: Cli, workdir: Path) -> None:
    cli("init", str(SAMPLE_DATA / "crm-export.csv"))

    result = cli("validate", str(SAMPLE_DATA / "crm-export.csv"))

    assert result.exit_code == 3  # the sample's invalid rows, on purpose; the config is fine
    assert result.stderr == ""


def test_init_reads_a_sample_from_standard_input(cli: Cli, workdir: Path) -> None:
    result = cli("init", "-", input="Given Name,Surname,Email\nAna,Li,a@example.org\n")

    assert result.exit_code == 0, result.stderr
    assert load_config(None, cwd=workdir).mapping == {
        "Given Name": "first_name",
        "Surname": "last_name",
        "Email": "email",
    }
