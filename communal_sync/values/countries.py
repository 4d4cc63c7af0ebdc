"""Country names and codes, read as ISO 3166-1 alpha-2 (what ``profile_country`` takes).

The table is built once from pycountry (codes, names, official and common names) plus the
aliases people actually type ("UK", "U.S.A.", "Deutschland"); a lookup is then one dict
access on a key that ignores case, accents, spaces and punctuation.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Final

COUNTRY_ALIASES: Final[dict[str, str]] = {
    "US": "United States, United States of America, America, U.S., U.S.A., USA",
    "GB": "UK, U.K., Great Britain, Britain, England, Scotland, Wales, Northern Ireland",
    "DE": "Deutschland, Allemagne, Germany",
    "NL": "Holland, Nederland, The Netherlands, Pays-Bas",
    "RU": "Russia",
    "KR": "South Korea, Republic of Korea",
    "KP": "North Korea",
    "CZ": "Czech Republic",
    "CI": "Ivory Coast, Cote d'Ivoire",
    "MK": "Macedonia",
    "SZ": "Swaziland",
    "MM": "Burma",
    "CV": "Cape Verde",
    "TR": "Turkey, Turkiye",
    "CD": "DR Congo, DRC, Democratic Republic of the Congo, Congo-Kinshasa",
    "CG": "Republic of the Congo, Congo-Brazzaville",
    "VA": "Vatican, Vatican City",
    "PS": "Palestine",
    "FM": "Micronesia",
    "VG": "British Virgin Islands",
    "VI": "US Virgin Islands, U.S. Virgin Islands",
    "BR": "Brasil, Bresil",
    "ES": "Espana, Espagne",
    "MX": "Mexique",
    "CH": "Schweiz, Suisse, Svizzera",
    "AT": "Osterreich, Autriche",
    "IT": "Italia, Italie",
    "BE": "Belgique, Belgie",
    "PL": "Polska, Pologne",
    "SE": "Sverige, Suede",
    "NO": "Norge, Norvege",
    "DK": "Danmark",
    "FI": "Suomi",
    "IE": "Eire, Irlande, Republic of Ireland",
    "JP": "Japon",
    "CN": "Chine, PRC, People's Republic of China, Mainland China",
    "FR": "Francia",
    "CA": "Kanada",
    "GR": "Hellas, Grece",
    "HK": "Hong Kong SAR",
    "MO": "Macau, Macao SAR",
    "AE": "UAE, U.A.E., Emirates",
    "SA": "KSA",
    "TT": "Trinidad",
    "BA": "Bosnia",
    "PH": "Philippine Islands",
    "NZ": "Aotearoa",
}
"""Alias spellings beyond pycountry's names, by alpha-2 code (comma-separated)."""

_SAINT_PREFIX: Final = re.compile(r"^(?:st|ste)\.?\s+", re.IGNORECASE)
_THE_PREFIX: Final = re.compile(r"^the\s+", re.IGNORECASE)


def country_key(s: str) -> str:
    """The lookup key of a country spelling: no accents, case, spaces or punctuation.

    "St." and "Ste" read as "Saint", "&" as "and", and a leading "The" is dropped, so
    "St Kitts & Nevis" and "Saint Kitts and Nevis" meet.
    """
    text = _THE_PREFIX.sub("", _SAINT_PREFIX.sub("saint ", s.strip())).replace("&", " and ")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


@functools.cache
def _country_table() -> dict[str, str]:
    """Key -> alpha-2, built once; earlier entries win (codes before names before aliases)."""
    import pycountry  # its database is read only when a country is first normalized

    table: dict[str, str] = {}
    countries = list(pycountry.countries)
    for country in countries:
        table.setdefault(country_key(country.alpha_2), country.alpha_2)
    for country in countries:
        table.setdefault(country_key(country.alpha_3), country.alpha_2)
        table.setdefault(country.numeric, country.alpha_2)
    for country in countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                table.setdefault(country_key(name), country.alpha_2)
    for code, aliases in COUNTRY_ALIASES.items():
        for alias in aliases.split(", "):
            table.setdefault(country_key(alias), code)
    # "Bolivia, Plurinational State of" -> "Bolivia", when no other country shares the head.
    heads: dict[str, set[str]] = {}
    for country in countries:
        head = country.name.partition(",")[0]
        heads.setdefault(country_key(head), set()).add(country.alpha_2)
    for key, codes in heads.items():
        if len(codes) == 1:
            table.setdefault(key, next(iter(codes)))
    return table


@functools.lru_cache(maxsize=2048)
def normalize_country(s: str) -> str | None:
    """The ISO 3166-1 alpha-2 code for a country code or name, or None if unknown.

    Accepts alpha-2, alpha-3, three-digit numeric codes, English names (short, official,
    common) and common aliases in any case: "Canada", "CAN", "ca", "124" -> "CA".
    """
    key = country_key(s)
    if not key:
        return None
    return _country_table().get(key)
