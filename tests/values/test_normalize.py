"""Normalizers: text, email, phone, country and date, each idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from communal_sync.values.countries import COUNTRY_ALIASES, country_key
from communal_sync.values.normalize import (
    DateError,
    clean_text,
    email_key,
    is_valid_email,
    normalize_country,
    normalize_date,
    normalize_email,
    parse_date,
    phone_key,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Ann  ", "Ann"),
        ("Ann   Marie", "Ann Marie"),
        ("Ann\tMarie\nLee", "Ann Marie Lee"),
        ("Ann\u00a0Lee", "Ann Lee"),
        ("\ufeffAnn", "Ann"),
        ("An\u200bn", "Ann"),
        ("Zoe\u0301", "Zoé"),  # decomposed accent -> NFC
        ("", ""),
        ("   ", ""),
    ],
)
def test_clean_text_trims_collapses_and_composes(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@given(st.text())
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Ann.Lee@Example.ORG", "Ann.Lee@example.org"),
        ("  ann@x.org ", "ann@x.org"),
        ("no-at-sign", "no-at-sign"),
        ("Jörg@Bücher.DE", "Jörg@bücher.de"),
    ],
)
def test_normalize_email_lowercases_domain_only(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized
    assert normalize_email(normalized) == normalized


def test_email_key_ignores_case_and_spacing() -> None:
    assert (
        email_key(" Ann.Lee@Example.org")
        == email_key("ann.lee@example.ORG ")
        == "ann.lee@example.org"
    )


@pytest.mark.parametrize(
    "email",
    [
        "ann@example.org",
        "ann.lee+club@mail.example.co.uk",
        "o'brien@example.ie",
        "x@xn--bcher-kva.de",
        "jörg@bücher.de",
        "ann@sub-domain.example.org",
        "a" * 64 + "@example.org",
    ],
)
def test_valid_emails_pass(email: str) -> None:
    assert is_valid_email(email)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ann",
        "ann@",
        "@example.org",
        "ann@example",
        "ann lee@example.org",
        "ann@@example.org",
        "ann@exa mple.org",
        ".ann@example.org",
        "ann.@example.org",
        "an..n@example.org",
        "ann@-example.org",
        "ann@example-.org",
        "ann@example..org",
        "ann@example.c",
        "a" * 65 + "@example.org",
        "ann@" + "a" * 250 + ".org",
        "ann@exa\u200bmple.org",
    ],
)
def test_invalid_emails_fail(email: str) -> None:
    assert not is_valid_email(email)


@pytest.mark.parametrize(
    ("raw", "region", "key"),
    [
        ("+1 514 555 0100", None, "+15145550100"),
        ("(514) 555-0100", "CA", "+15145550100"),
        ("514.555.0100", "CA", "+15145550100"),
        ("+44 20 7946 0958", "CA", "+442079460958"),
        ("(514) 555-0100", None, "5145550100"),  # no region: digits
        ("ext only", "CA", ""),
        ("", "CA", ""),
    ],
)
def test_phone_key_compares_what_is_dialled(raw: str, region: str | None, key: str) -> None:
    assert phone_key(raw, region) == key
    assert phone_key(key, region) == key


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("CA", "CA"),
        ("ca", "CA"),
        ("CAN", "CA"),
        ("Canada", "CA"),
        (" canada ", "CA"),
        ("124", "CA"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("us", "US"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("United Kingdom", "GB"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Bolivia", "BO"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("St Kitts & Nevis", "KN"),
        ("The Bahamas", "BS"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Russia", "RU"),
    ],
)
def test_normalize_country_reads_codes_and_names(raw: str, code: str) -> None:
    assert normalize_country(raw) == code
    assert normalize_country(code) == code


@pytest.mark.parametrize("raw", ["", "Atlantis", "Korea", "XX", "12", "Quebec"])
def test_unknown_or_ambiguous_country_is_none(raw: str) -> None:
    assert normalize_country(raw) is None


def test_every_alias_reads_as_its_own_country() -> None:
    for code, aliases in COUNTRY_ALIASES.items():
        for alias in aliases.split(", "):
            assert normalize_country(alias) == code, (alias, country_key(alias))


TODAY = dt.date(2026, 3, 25)


@pytest.mark.parametrize(
    ("raw", "order", "iso"),
    [
        ("2001-04-03", None, "2001-04-03"),
        ("2001-4-3", None, "2001-04-03"),
        ("2001-04-03T10:20:30Z", None, "2001-04-03"),
        ("2001-04-03 00:00:00", None, "2001-04-03"),
        ("2001-04-03T00:00:00+02:00", None, "2001-04-03"),
        ("2001/04/03", None, "2001-04-03"),
        ("20010403", None, "2001-04-03"),
        ("03.04.2001", None, "2001-04-03"),
        ("25/12/2001", None, "2001-12-25"),  # day > 12: unambiguous
        ("12/25/2001", None, "2001-12-25"),
        ("03/03/2001", None, "2001-03-03"),  # same either way
        ("03/04/2001", "dmy", "2001-04-03"),
        ("03/04/2001", "mdy", "2001-03-04"),
        ("3-4-2001", "dmy", "2001-04-03"),
        ("1 March 2001", None, "2001-03-01"),
        ("1st Mar 2001", None, "2001-03-01"),
        ("01-Mar-2001", None, "2001-03-01"),
        ("March 1, 2001", None, "2001-03-01"),
        ("Sept 9 1999", None, "1999-09-09"),
        (" 2001-04-03 ", None, "2001-04-03"),
    ],
)
def test_dates_read_to_iso(raw: str, order: str | None, iso: str) -> None:
    assert parse_date(raw, order=order, today=TODAY) == iso  # type: ignore[arg-type]
    assert parse_date(iso, order=order, today=TODAY) == iso  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("03/04/2001", 'set date_order = "dmy" or "mdy" in communal-sync.toml'),
        ("2001-02-30", "not a real date"),
        ("2001-13-01", "not a real date"),
        ("31.02.2001", "not a real date"),
        ("1850-01-01", "before 1900"),
        ("2999-01-01", "in the future"),
        ("2026-03-26", "in the future"),
        ("03/04/01", "two-digit year"),
        ("1 Smarch 2001", "the month name is unknown"),
        ("yesterday", "write it as YYYY-MM-DD"),
        ("36951", "write it as YYYY-MM-DD"),
    ],
)
def test_unreadable_dates_say_why(raw: str, reason: str) -> None:
    with pytest.raises(DateError, match=reason.replace("(", r"\(")):
        parse_date(raw, today=TODAY)
    assert normalize_date(raw, today=TODAY) is None


def test_today_itself_is_not_in_the_future() -> None:
    assert normalize_date("2026-03-25", today=TODAY) == "2026-03-25"


def test_a_different_phone_extension_is_a_different_number() -> None:
    plain = phone_key("+1 416 555 0101", "CA")

    assert phone_key("+1 416 555 0101 ext. 22", "CA") != plain
    assert phone_key("(416) 555-0101 x22", "CA") == phone_key("+1 416 555 0101 ext. 22", "CA")
