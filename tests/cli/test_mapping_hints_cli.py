"""Mapping through the real CLI: suggestions, did-you-mean, exit codes and --show-mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult
from support.paths import SAMPLE_DATA

Cli = Callable[..., CliResult]
VALID_FIELDS = (
    "valid fields: first_name, last_name, email, middle_name, preferred_name, telephone, "
    "date_of_birth, profile_address, profile_address_line_2, profile_city, profile_state, "
    "profile_zip, profile_country, id, external_id, custom:<name>."
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_name_emailaddr_cell_suggests_emailaddr_and_names_only_real_columns(
    cli: Cli, tmp_path: Path
) -> None:
    export = write(
        tmp_path, "people.csv", "Name,EmailAddr,Cell\nAna Li,ana@example.org,4165550101\n"
    )

    result = cli("validate", str(export))

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {export}, line 1: no column maps to first_name, last_name, email, which every "
        "row needs. The columns are: 'Name', 'EmailAddr', 'Cell'. 'EmailAddr' → email? "
        '(--map "EmailAddr=email"). For first_name, last_name, map a column with --map '
        "\"Column=field\". ('Name' is not split into first and last names: export them as "
        "two columns.)\n"
    )
    assert "First Name" not in result.stderr


def test_without_a_suggestion_the_example_names_a_column_of_the_file(
    cli: Cli, tmp_path: Path
) -> None:
    export = write(
        tmp_path, "people.csv", "Vorname Nachname,Surname,E-mail\nAna,Li,a@example.org\n"
    )

    result = cli("validate", str(export))

    assert result.exit_code == 1
    assert result.stderr.endswith(
        'Name the column with --map "Column=first_name" '
        '(for example --map "Vorname Nachname=first_name").\n'
    )


def test_a_mistyped_map_field_gets_did_you_mean_and_exits_2(cli: Cli, tmp_path: Path) -> None:
    export = write(tmp_path, "people.csv", "Name,Last Name,Email\nAna,Li,a@example.org\n")

    result = cli("validate", str(export), "--map", "Name=first_nam")

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: --map 'Name=first_nam': unknown field 'first_nam': did you mean 'first_name'? "
        f"It is not a Communal field; {VALID_FIELDS}\n"
    )


def test_a_mistyped_config_field_gets_did_you_mean_and_exits_1_as_bad_config(
    cli: Cli, tmp_path: Path
) -> None:
    export = write(tmp_path, "people.csv", "Name,Last Name,Email\nAna,Li,a@example.org\n")
    config = write(tmp_path, "communal-sync.toml", '[mapping]\n"Name" = "first_nam"\n')

    result = cli("validate", str(export), "--config", str(config))

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {config}: mapping: column 'Name': unknown field 'first_nam': did you mean "
        f"'first_name'? It is not a Communal field; {VALID_FIELDS[:-1]}. Fix the config file.\n"
    )


def test_an_unmapped_t_shirt_column_hint_mentions_custom_fields(cli: Cli) -> None:
    result = cli("validate", str(SAMPLE_DATA / "crm-export.csv"))

    assert result.stdout.splitlines()[1] == (
        "Columns not mapped to any Communal field (ignored): 'T-shirt size'. "
        'Map a column with --map "T-shirt size=<field>"; a Communal custom profile field with '
        '--custom-fields (plan, push) or --map "T-shirt size=custom:T-shirt size"; or say it '
        'is not needed with --map "T-shirt size=".'
    )


def test_an_unmapped_near_miss_is_suggested_in_validate(cli: Cli, tmp_path: Path) -> None:
    export = write(
        tmp_path, "people.csv", "First Name,Last Name,Email,Cel Phone\nAna,Li,a@example.org,1\n"
    )

    result = cli("validate", str(export))

    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].startswith(
        "Columns not mapped to any Communal field (ignored): 'Cel Phone'. 'Cel Phone' → "
        'telephone? (--map "Cel Phone=telephone").'
    )


SHOWN = (
    "First Name,Last Name,E-mail,EmailAddr,Cel Phone,Notes,Member No,T-shirt size,custom:Diet\n"
    "Ana,Li,a@example.org,b@example.org,4165550101,n,7,M,veg\n"
)


@pytest.fixture
def shown_export(tmp_path: Path) -> Path:
    return write(tmp_path, "people.csv", SHOWN)


def test_show_mapping_gives_every_column_and_why(
    cli: Cli, tmp_path: Path, shown_export: Path
) -> None:
    config = write(tmp_path, "communal-sync.toml", '[mapping]\n"Member No" = "external_id"\n')

    result = cli(
        "validate", str(shown_export), "--show-mapping", "--config", str(config), "--map", "Notes="
    )

    assert result.exit_code == 0
    assert result.stdout.splitlines()[:10] == [
        f"Mapping of {shown_export}:",
        "  'First Name' → first_name (the field's own name)",
        "  'Last Name' → last_name (the field's own name)",
        "  'E-mail' → email (the field's own name)",
        "  'EmailAddr': unmapped: it looks like email, which comes from column 'E-mail'; "
        '--map "EmailAddr=email" takes it from this one instead',
        "  'Cel Phone': unmapped: telephone? map it with --map \"Cel Phone=telephone\"",
        "  'Notes': ignored: by --map: --map \"Notes=\"",
        "  'Member No' → external_id (the config file)",
        "  'T-shirt size': unmapped: no field by that name. A custom profile field? "
        '--custom-fields (plan, push) or --map "T-shirt size=custom:T-shirt size"; another '
        'field: --map "T-shirt size=<field>"',
        "  'custom:Diet' → custom:Diet (a custom: header)",
    ]
    assert result.stdout.splitlines()[10] == f"{shown_export}: 1 rows, 1 valid, 0 invalid"


def test_show_mapping_with_json_adds_the_mapping_to_the_document(
    cli: Cli, shown_export: Path
) -> None:
    result = cli("validate", str(shown_export), "--show-mapping", "--json")

    document = json.loads(result.stdout)
    assert document["mapping"][0] == {
        "column": "First Name",
        "status": "mapped",
        "field": "first_name",
        "reason": "the field's own name",
        "suggestion": None,
    }
    assert [(c["column"], c["status"], c["suggestion"]) for c in document["mapping"][3:6]] == [
        ("EmailAddr", "unmapped", None),
        ("Cel Phone", "unmapped", "telephone"),
        ("Notes", "unmapped", None),
    ]


def test_a_map_without_equals_gets_an_example_from_what_was_typed(cli: Cli, tmp_path: Path) -> None:
    export = write(tmp_path, "people.csv", "First Name,Last Name,Email\nAna,Li,a@example.org\n")

    result = cli("validate", str(export), "--map", "Badge")

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --map 'Badge' is not in the form Column=field: write it as "
        '--map "Badge=<field>", or --map "Badge=" to ignore it.\n'
    )
