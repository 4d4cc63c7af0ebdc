"""Column names that real exports use for each Communal field.

Gathered from Salesforce, HubSpot, Blackbaud Raiser's Edge, PowerSchool and other school
information systems, Google Contacts and Outlook CSV exports, and hand-made spreadsheets
(English, plus common French and German headers). Names are compared by ``column_key``,
so "First Name", "first_name", "FIRST-NAME" and "firstName" are one synonym.

Deliberately absent, because they are ambiguous and a wrong guess updates the wrong data:
"Name" / "Full Name" (not split into first and last), "County" (not a state), "Region" (a
sales district as often as a province), "Second Name" (a surname in British use), "Nation"
(in Canada, often a First Nation), "Title" (a salutation in Outlook, a job elsewhere),
"Home Phone" / "Business Phone" / "Primary Phone" (an Outlook export has them all next to
"Mobile Phone"), "Land" (country or state), and the second and third emails, phones and
addresses of contact exports. A bare "ID" is the Communal user id only when the column is
literally "id"; a CRM's own key goes to ``external_id`` with ``--map "ID=external_id"``.
"""

from __future__ import annotations

import unicodedata
from typing import Final

FIELD_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "first_name": (
        "First Name", "First", "Firstname", "Given Name", "Given", "Forename", "Fname",
        "First Given Name", "Legal First Name", "Contact First Name", "Member First Name",
        "Student First Name", "Prenom", "Vorname", "Nombre",
    ),
    "last_name": (
        "Last Name", "Last", "Lastname", "Surname", "Family Name", "Lname", "Key Name",
        "Legal Last Name", "Contact Last Name", "Member Last Name", "Student Last Name",
        "Nom", "Nom de famille", "Nachname", "Familienname", "Apellido", "Apellidos",
    ),
    "middle_name": (
        "Middle Name", "Middle", "Middlename", "Middle Names", "Additional Name",
        "Middle Initial", "Deuxieme prenom", "Zweiter Vorname",
    ),
    "preferred_name": (
        "Preferred Name", "Preferred First Name", "Nickname", "Nick Name", "Known As",
        "Goes By", "Chosen Name", "Prenom usuel", "Rufname",
    ),
    "email": (
        "Email", "E-mail", "Email Address", "E-mail Address", "Email 1", "E-mail 1",
        "E-mail 1 - Value", "Email 1 - Value", "Primary Email", "Preferred Email",
        "Email (Primary)", "Mail", "Emailaddress", "Contact Email", "Member Email",
        "Courriel", "Adresse courriel", "Adresse e-mail", "E-Mail-Adresse", "Correo",
        "Correo electronico",
    ),
    "telephone": (
        "Telephone", "Phone", "Tel", "Tel.", "Phone Number", "Telephone Number",
        "Phone 1 - Value", "Mobile", "Mobile Phone", "Mobile Number", "Mobile Phone Number",
        "Cell", "Cell Phone", "Cellphone", "Cell Number", "Contact Phone", "Numero de telephone",
        "Telefon", "Telefonnummer", "Handy", "Telefono",
    ),
    "date_of_birth": (
        "Date of Birth", "DOB", "D.O.B.", "Birth Date", "Birthdate", "Birthday", "Date Born",
        "Birth Day", "Date de naissance", "Geburtsdatum", "Fecha de nacimiento",
    ),
    "profile_address": (
        "Address", "Address 1", "Address Line 1", "Address1", "Addr1", "Street",
        "Street 1", "Street Address", "Street Address 1", "Street Line 1", "Home Street",
        "Mailing Street", "Mailing Address", "Mailing Address Line 1",
        "Preferred Address Line 1", "Address 1 - Street", "Adresse", "Strasse", "Direccion",
    ),
    "profile_address_line_2": (
        "Address 2", "Address Line 2", "Address2", "Addr2", "Street 2", "Street Address 2",
        "Street Line 2", "Home Street 2", "Mailing Street 2", "Mailing Address Line 2",
        "Preferred Address Line 2", "Address 1 - Extended Address", "Apartment", "Suite",
        "Apt", "Adresse 2", "Adresszusatz",
    ),
    "profile_city": (
        "City", "Town", "Suburb", "Locality", "Town/City", "City/Town", "Municipality",
        "Home City", "Mailing City", "Preferred City", "Address 1 - City", "Ville",
        "Stadt", "Ort", "Ciudad",
    ),
    "profile_state": (
        "State", "Province", "State/Province", "Province/State", "State/Region",
        "State or Province", "Prov", "Home State", "Mailing State", "Mailing State/Province",
        "Preferred State", "Address 1 - Region", "Bundesland", "Provincia", "Estado",
    ),
    "profile_zip": (
        "Zip", "Zip Code", "Zipcode", "ZIP/Postal Code", "Postal Code", "Postal/Zip Code",
        "Postcode", "Post Code", "Postal", "Home Postal Code", "Home Zip",
        "Mailing Postal Code", "Mailing Zip", "Mailing Zip/Postal Code", "Preferred ZIP",
        "Address 1 - Postal Code", "Code postal", "PLZ", "Postleitzahl", "Codigo postal",
    ),
    "profile_country": (
        "Country", "Country/Region", "Country Code", "Country or Region",
        "Home Country", "Home Country/Region", "Mailing Country", "Preferred Country",
        "Address 1 - Country", "Pays", "Pais",
    ),
    "id": ("id", "Communal ID", "Communal User ID", "communal_user_id"),
    "external_id": (
        "External ID", "External Key", "Externalid", "Student ID", "Student Number",
        "Student No", "Member ID", "Member Number", "Member No", "Membership ID",
        "Membership Number", "Membership No", "Constituent ID", "Lookup ID", "Record ID",
        "Contact ID", "CRM ID", "Person ID", "Employee ID", "Employee Number",
    ),
}  # fmt: skip
"""Field -> the column names that mean it (the field's own name always matches too)."""


def column_key(name: str) -> str:
    """The comparison key of a column name: no case, accents, spaces or punctuation.

    "First Name", "first_name", "FIRST-NAME", "firstName" and "Prénom"/"Prenom" each
    collapse to one key, so the synonym table lists a name once.
    """
    if not name.isascii():
        name = "".join(
            ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
        )
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def build_synonym_index() -> dict[str, str]:
    """Column key -> field, from FIELD_SYNONYMS and the field names themselves.

    Raises ValueError if one key would mean two fields (a mistake in the table).
    """
    index: dict[str, str] = {}
    for field, names in FIELD_SYNONYMS.items():
        for name in (field, *names):
            key = column_key(name)
            if index.get(key, field) != field:
                raise ValueError(f"column name {name!r} is a synonym of {index[key]} and {field}")
            index[key] = field
    return index


SYNONYM_INDEX: Final = build_synonym_index()
