"""Column mapping: synonyms from real exports, overrides, ignores and the errors that stop a run."""

from __future__ import annotations

import pytest

from communal_sync.errors import ConfigError, InputError, UsageError
from communal_sync.intake.mapping import build_mapping, parse_map_option, resolve_field
from communal_sync.intake.synonyms import FIELD_SYNONYMS, build_synonym_index, column_key

TRIO = ["First Name", "Last Name", "Email"]


@pytest.mark.parametrize(
    "header",
    [
        "First Name",
        "first_name",
        "FIRST-NAME",
        "firstName",
        "FirstName",
        " first  name ",
        "First.Name",
    ],
)
def test_matching_ignores_case_spaces_and_punctuation(header: str) -> None:
    mapping = build_mapping([header, "Last Name", "Email"])
    assert mapping.columns[header] == "first_name"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Given Name", "first_name"),
        ("Forename", "first_name"),
        ("Prénom", "first_name"),
        ("Surname", "last_name"),
        ("Family Name", "last_name"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("E-mail 1 - Value", "email"),
        ("Courriel", "email"),
        ("Mobile", "telephone"),
        ("Cell", "telephone"),
        ("Tel", "telephone"),
        ("Phone 1 - Value", "telephone"),
        ("DOB", "date_of_birth"),
        ("D.O.B.", "date_of_birth"),
        ("Birth Date", "date_of_birth"),
        ("Birthdate", "date_of_birth"),
        ("Zip", "profile_zip"),
        ("Postcode", "profile_zip"),
        ("Postal Code", "profile_zip"),
        ("MailingPostalCode", "profile_zip"),
        ("Province", "profile_state"),
        ("State/Region", "profile_state"),
        ("Suburb", "profile_city"),
        ("Town", "profile_city"),
        ("Street", "profile_address"),
        ("Address Line 1", "profile_address"),
        ("Address 2", "profile_address_line_2"),
        ("Country", "profile_country"),
        ("Country/Region", "profile_country"),
        ("Nickname", "preferred_name"),
        ("Middle Name", "middle_name"),
        ("id", "id"),
        ("ID", "id"),
        ("Communal ID", "id"),
        ("communal_user_id", "id"),
        ("External ID", "external_id"),
        ("Student ID", "external_id"),
        ("Student_Number", "external_id"),
        ("Member ID", "external_id"),
        ("Constituent ID", "external_id"),
        ("Record ID", "external_id"),
        ("Contact ID", "external_id"),
        ("CRM ID", "external_id"),
        ("profile_address_line_2", "profile_address_line_2"),
    ],
)
def test_synonyms_from_real_exports(header: str, field: str) -> None:
    mapping = build_mapping(
        [*TRIO, header]
        if field not in ("first_name", "last_name", "email")
        else [h for h in TRIO if not _same(h, field)] + [header]
    )
    assert mapping.columns[header] == field


def _same(header: str, field: str) -> bool:
    return {"First Name": "first_name", "Last Name": "last_name", "Email": "email"}[header] == field


@pytest.mark.parametrize(
    "header", ["Name", "Full Name", "County", "Region", "Title", "Notes", "Home Phone"]
)
def test_ambiguous_columns_are_reported_unmapped(header: str) -> None:
    mapping = build_mapping([*TRIO, header])
    assert header not in mapping.columns
    assert mapping.unmapped == [header]


def header_row(line: str) -> list[str]:
    """The columns of a CSV header line, written as the export writes it."""
    return line.split(",")


GOOGLE_CONTACTS = header_row(
    "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last Name,"
    "Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization Title,"
    "Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,"
    "E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,"
    "Phone 2 - Value,Address 1 - Label,Address 1 - Formatted,Address 1 - Street,Address 1 - City,"
    "Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,"
    "Address 1 - Extended Address"
)

OUTLOOK = header_row(
    "First Name,Middle Name,Last Name,Title,Suffix,Initials,Web Page,Gender,Birthday,Anniversary,"
    "Location,Language,Internet Free Busy,Notes,E-mail Address,E-mail 2 Address,E-mail 3 Address,"
    "Primary Phone,Home Phone,Home Phone 2,Mobile Phone,Pager,Home Fax,Home Address,Home Street,"
    "Home Street 2,Home Street 3,Home Address PO Box,Home City,Home State,Home Postal Code,"
    "Home Country/Region,Spouse,Children,Manager's Name,Assistant's Name,Referred By,"
    "Company Main Phone,Business Phone,Business Phone 2,Business Fax,Assistant's Phone,Company,"
    "Job Title,Department,Office Location,Organizational ID Number,Profession,Account,"
    "Business Address,Business Street,Business Street 2,Business Street 3,Business Address PO Box,"
    "Business City,Business State,Business Postal Code,Business Country/Region,Other Phone,"
    "Other Fax,Other Address,Other Street,Other Street 2,Other Street 3,Other Address PO Box,"
    "Other City,Other State,Other Postal Code,Other Country/Region,Callback,Car Phone,ISDN Phone,"
    "Radio Phone,TTY/TDD Phone,Telex,User 1,User 2,User 3,User 4,Keywords,Mileage,Hobby,"
    "Billing Information,Directory Server,Sensitivity,Priority,Private,Categories"
)


def test_google_contacts_export_maps_without_clashes() -> None:
    mapping = build_mapping(GOOGLE_CONTACTS)
    assert {f: c for c, f in mapping.columns.items()} == {
        "first_name": "First Name",
        "middle_name": "Middle Name",
        "last_name": "Last Name",
        "preferred_name": "Nickname",
        "date_of_birth": "Birthday",
        "email": "E-mail 1 - Value",
        "telephone": "Phone 1 - Value",
        "profile_address": "Address 1 - Street",
        "profile_address_line_2": "Address 1 - Extended Address",
        "profile_city": "Address 1 - City",
        "profile_state": "Address 1 - Region",
        "profile_zip": "Address 1 - Postal Code",
        "profile_country": "Address 1 - Country",
    }
    assert "E-mail 2 - Value" in mapping.unmapped


def test_outlook_export_maps_without_clashes() -> None:
    mapping = build_mapping(OUTLOOK)
    assert {f: c for c, f in mapping.columns.items()} == {
        "first_name": "First Name",
        "middle_name": "Middle Name",
        "last_name": "Last Name",
        "date_of_birth": "Birthday",
        "email": "E-mail Address",
        "telephone": "Mobile Phone",
        "profile_address": "Home Street",
        "profile_address_line_2": "Home Street 2",
        "profile_city": "Home City",
        "profile_state": "Home State",
        "profile_zip": "Home Postal Code",
        "profile_country": "Home Country/Region",
    }
    assert mapping.unmapped[:3] == ["Title", "Suffix", "Initials"]


def test_unmapped_columns_keep_file_order() -> None:
    mapping = build_mapping(["Notes", *TRIO, "Team", "Age"])
    assert mapping.unmapped == ["Notes", "Team", "Age"]


def test_synonym_table_has_no_key_meaning_two_fields() -> None:
    index = build_synonym_index()
    for field, names in FIELD_SYNONYMS.items():
        for name in names:
            assert index[column_key(name)] == field


def test_override_wins_over_synonym() -> None:
    mapping = build_mapping(["ID", *TRIO], overrides={"ID": "external_id"})
    assert mapping.columns["ID"] == "external_id"


def test_override_leaves_other_automatic_columns_for_that_field_unmapped() -> None:
    mapping = build_mapping([*TRIO, "Phone", "Mobile"], overrides={"Mobile": "telephone"})
    assert mapping.columns["Mobile"] == "telephone"
    assert "Phone" not in mapping.columns
    assert mapping.unmapped == ["Phone"]


def test_override_matches_column_leniently() -> None:
    mapping = build_mapping(["Member No", *TRIO], overrides={"member no": "external_id"})
    assert mapping.columns["Member No"] == "external_id"


def test_override_accepts_field_names_in_any_spelling() -> None:
    mapping = build_mapping(
        ["A", "B", "C", "D"],
        overrides={"A": "First Name", "B": "LAST_NAME", "C": "email", "D": "Profile Zip"},
    )
    assert mapping.columns == {
        "A": "first_name",
        "B": "last_name",
        "C": "email",
        "D": "profile_zip",
    }


def test_override_target_is_a_field_not_a_column_synonym() -> None:
    with pytest.raises(ConfigError, match=r"unknown field 'zip': did you mean 'profile_zip'\?"):
        build_mapping([*TRIO, "Code"], overrides={"Code": "zip"})


def test_empty_override_ignores_the_column() -> None:
    mapping = build_mapping([*TRIO, "Phone", "Notes"], overrides={"Phone": ""})
    assert "Phone" not in mapping.columns
    assert mapping.ignored == ["Phone"]
    assert mapping.unmapped == ["Notes"]


def test_custom_field_override_keeps_name_verbatim() -> None:
    mapping = build_mapping([*TRIO, "Shirt"], overrides={"Shirt": "custom:  T-shirt Size "})
    assert mapping.columns["Shirt"] == "custom:T-shirt Size"


def test_custom_header_maps_itself() -> None:
    mapping = build_mapping([*TRIO, "custom:Allergies"])
    assert mapping.columns["custom:Allergies"] == "custom:Allergies"


def test_override_with_unknown_field_lists_valid_fields() -> None:
    with pytest.raises(ConfigError, match="not a Communal field") as error:
        build_mapping(TRIO, overrides={"Email": "mail_stop"})
    assert "first_name" in str(error.value)
    assert "custom:<name>" in str(error.value)


def test_override_naming_missing_column_lists_the_columns() -> None:
    with pytest.raises(ConfigError, match="no such column") as error:
        build_mapping(TRIO, overrides={"Emial": "email"}, source_name="people.csv")
    assert "people.csv" in str(error.value)
    assert "'First Name', 'Last Name', 'Email'" in str(error.value)


def test_two_columns_for_one_field_is_an_input_error() -> None:
    with pytest.raises(InputError) as error:
        build_mapping([*TRIO, "Phone", "Mobile"], source_name="people.csv")
    message = str(error.value)
    assert message.startswith("people.csv, line 1: ")
    assert "'Phone', 'Mobile'" in message and "telephone" in message
    assert '--map "Mobile="' in message


def test_missing_required_columns_name_them_and_the_fix() -> None:
    with pytest.raises(InputError) as error:
        build_mapping(["Name", "Mail2"], source_name="people.csv")
    message = str(error.value)
    assert "people.csv, line 1" in message
    assert "first_name, last_name, email" in message
    assert "'Name', 'Mail2'" in message
    assert "--map" in message


def test_fields_of_reads_one_row_by_field() -> None:
    mapping = build_mapping(["E-mail", "Given Name", "Surname", "Notes"])
    row = {"E-mail": "a@x.org", "Given Name": "Ann", "Surname": "Lee", "Notes": "hi"}
    assert mapping.fields_of(row) == {"email": "a@x.org", "first_name": "Ann", "last_name": "Lee"}
    assert mapping.fields_of({"E-mail": "a@x.org"})["first_name"] == ""
    assert mapping.column_of("email") == "E-mail"
    assert mapping.column_of("telephone") is None


@pytest.mark.parametrize(
    ("items", "parsed"),
    [
        (["Member No=external_id"], {"Member No": "external_id"}),
        ([" Phone = telephone "], {"Phone": "telephone"}),
        (["Notes="], {"Notes": ""}),
        (["a=b=first_name"], {"a=b": "first_name"}),
        ([], {}),
    ],
)
def test_parse_map_option(items: list[str], parsed: dict[str, str]) -> None:
    assert parse_map_option(items) == parsed


@pytest.mark.parametrize(
    ("item", "example"),
    [
        ("first_name", '--map "Column=first_name"'),
        ("=email", '--map "Column=email"'),
        (" =email", '--map "Column=email"'),
        ("Badge", '--map "Badge=<field>", or --map "Badge=" to ignore it'),
    ],
)
def test_bad_map_syntax_is_a_usage_error_with_the_fix(item: str, example: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_map_option([item])
    assert str(raised.value) == (
        f"--map {item!r} is not in the form Column=field: write it as {example}."
    )


def test_conflicting_map_options_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="twice"):
        parse_map_option(["A=email", "A=first_name"])


def test_resolve_field_rejects_empty_custom_name() -> None:
    with pytest.raises(ConfigError, match="custom field name"):
        resolve_field("custom:  ")


def test_a_crm_user_id_column_is_not_taken_for_the_communal_id() -> None:
    """A CRM's own "User ID" would send rows to whoever has that number in Communal."""
    mapping = build_mapping([*TRIO, "User ID"])

    assert "User ID" in mapping.unmapped
