"""The exports ``bench/validate.py`` measures: today's bench data, and messy real-world dirt.

Three profiles, each deterministic for a seed:

- ``bench``: the benchmark's original CRM export (see ``validate.generate``), unchanged;
- ``messy``: what a real CRM or spreadsheet export looks like (issue 11): most countries
  written as names, alpha-3 codes or in lower case; every phone in a national human format;
  5% of emails upper-cased with spaces at the edges; a third of emails with accented local
  parts (``zoë.brown@``, ``josé.li@``); names from several scripts; domains shared by
  thousands of rows; a few addresses holding a comma (so quoted); 1% invalid rows (a bad
  email, a blank first name or an unknown country); no date column; a CRM id column and a
  Communal id column;
- ``quoted``: the same rows as ``messy`` with every cell quoted, CRLF line ends and a
  UTF-8 byte-order mark, as Salesforce's Data Loader and Excel's "CSV UTF-8" write them.

The values are random draws from lists of real spellings and formats, not shaped to any
fast path of the validator.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Final

MESSY_HEADER: Final = (
    "Contact ID",
    "Communal ID",
    "First Name",
    "Last Name",
    "Email",
    "Mobile Phone",
    "Mailing Street",
    "Mailing City",
    "Mailing State/Province",
    "Mailing Zip/Postal Code",
    "Mailing Country",
)

INVALID_SHARE: Final = 0.01
SHOUTED_SHARE: Final = 0.05
"""Emails upper-cased with spaces at the edges."""
KEEP_ACCENTS: Final = 0.7
"""Of people with an accented name, those whose email keeps the accents: a third of all
emails then have an accented local part."""
PHONE_SHARE: Final = 0.85
LINKED_SHARE: Final = 0.6
"""Rows that already carry their Communal user id (linked by an earlier run)."""
COMMA_SHARE: Final = 0.02
"""Streets holding a comma ("Apt 4, 12 Main St"), so the cell is quoted."""
DUPLICATES: Final = 3

# (first name as written, as the person writes it in an email, ASCII form)
ACCENTED_FIRST: Final = (
    "Zoë", "José", "Chloé", "François", "Léa", "Raphaël", "Anaïs", "Jürgen", "Søren",
    "Łukasz", "Agnès", "Hélène", "Mónica", "Inès", "Björn", "Çağla", "Dvořák", "Ramón",
    "Noémie", "Jérôme", "Zoé", "Andrés", "Frédéric", "Renée", "Maëlle", "Göran",
)  # fmt: skip
PLAIN_FIRST: Final = (
    "Ann", "Bob", "David", "Emma", "Grace", "Hiro", "Isabelle", "Jamal", "Kateryna", "Liam",
    "Maya", "Noah", "Olivia", "Priya", "Quinn", "Sofia", "Tom", "Uma", "Victor", "Wen",
    "Xavier", "Yasmin", "Mary-Jane", "Ahmed", "Fatima", "Oluwaseun", "Siobhan", "Aarav",
)  # fmt: skip
OTHER_SCRIPT_FIRST: Final = (
    ("Маша", "masha"), ("Иван", "ivan"), ("Νίκος", "nikos"), ("美玲", "meiling"),
    ("李娜", "lina"), ("محمد", "mohammed"), ("प्रिया", "priya"), ("지민", "jimin"),
    ("さくら", "sakura"), ("Олена", "olena"), ("יעל", "yael"), ("Δήμητρα", "dimitra"),
)  # fmt: skip
ACCENTED_LAST: Final = (
    "Côté", "García", "Müller", "Brontë", "Lévesque", "Gagné", "Nuñez", "Škoda",
    "Bélanger", "Sánchez", "Öztürk", "Nováková", "Þórsson", "Lefèvre",
)  # fmt: skip
PLAIN_LAST: Final = (
    "Lee", "Smith", "Nguyen", "Tremblay", "Roy", "Bouchard", "Martin", "Brown", "Wilson",
    "Taylor", "Singh", "Patel", "Kim", "O'Brien", "Van der Berg", "Johnson", "Williams",
    "Chen", "Wang", "Li", "Okafor", "Kowalski", "MacDonald", "Rossi", "Haddad", "Ito",
)  # fmt: skip
OTHER_SCRIPT_LAST: Final = (
    ("Иванова", "ivanova"), ("Παπαδόπουλος", "papadopoulos"), ("王", "wang"),
    ("김", "kim"), ("田中", "tanaka"), ("Шевченко", "shevchenko"), ("כהן", "cohen"),
)  # fmt: skip

# Shared domains, the first ones far more common (drawn with Zipf-like weights).
DOMAINS: Final = (
    "gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "yahoo.ca",
    "videotron.ca", "sympatico.ca", "shaw.ca", "rogers.com", "bell.net", "telus.net",
    "live.com", "aol.com", "protonmail.com", "gmx.de", "web.de", "orange.fr", "free.fr",
    "laposte.net", "btinternet.com", "sky.com", "mail.ru", "yandex.ru", "qq.com",
    "163.com", "naver.com", "example.org", "school.example.ca", "alumni.example.edu",
    "members.example.org", "cs.example.ac.uk", "mail.example.net", "fastmail.fm",
    "me.com", "msn.com", "comcast.net", "verizon.net", "ymail.com", "hey.com",
)  # fmt: skip
DOMAIN_WEIGHTS: Final = tuple(1 / (rank + 1) for rank in range(len(DOMAINS)))

# code: (weight, spellings) as exports write them: codes, alpha-3, names, official names,
# common aliases; case is varied on top of these.
COUNTRIES: Final[dict[str, tuple[float, tuple[str, ...]]]] = {
    "CA": (40, ("CA", "CAN", "Canada", "124")),
    "US": (25, ("US", "USA", "United States", "United States of America", "U.S.A.", "U.S.")),
    "GB": (6, ("GB", "GBR", "United Kingdom", "UK", "England", "Great Britain", "Scotland")),
    "FR": (4, ("FR", "FRA", "France", "French Republic")),
    "DE": (3, ("DE", "DEU", "Germany", "Deutschland", "Federal Republic of Germany")),
    "MX": (2, ("MX", "MEX", "Mexico", "México")),
    "IN": (3, ("IN", "IND", "India", "Republic of India")),
    "CN": (2, ("CN", "CHN", "China", "People's Republic of China")),
    "JP": (1, ("JP", "JPN", "Japan")),
    "AU": (2, ("AU", "AUS", "Australia")),
    "BR": (1, ("BR", "BRA", "Brazil", "Brasil")),
    "IT": (1, ("IT", "ITA", "Italy", "Italia")),
    "ES": (1, ("ES", "ESP", "Spain", "España")),
    "NL": (1, ("NL", "NLD", "Netherlands", "The Netherlands", "Holland")),
    "IE": (1, ("IE", "IRL", "Ireland")),
    "PH": (2, ("PH", "PHL", "Philippines")),
    "NG": (1, ("NG", "NGA", "Nigeria")),
    "KR": (1, ("KR", "KOR", "South Korea", "Korea, Republic of")),
    "PL": (1, ("PL", "POL", "Poland", "Polska")),
    "SE": (1, ("SE", "SWE", "Sweden")),
    "HT": (1, ("HT", "HTI", "Haiti", "Haïti")),
    "LB": (1, ("LB", "LBN", "Lebanon")),
    "VN": (1, ("VN", "VNM", "Viet Nam", "Vietnam")),
    "MA": (1, ("MA", "MAR", "Morocco")),
    "CI": (0.5, ("CI", "CIV", "Côte d'Ivoire", "Ivory Coast")),
}
UNKNOWN_COUNTRIES: Final = ("Atlantis", "Narnia", "Wakanda", "XX", "Cascadia", "Westeros")

# code: places (city, state, postal pattern with {d} digits and {L} letters)
PLACES: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    "CA": (
        ("Montréal", "QC", "H2X {d}{L}{d}"),
        ("Toronto", "ON", "M5V {d}{L}{d}"),
        ("Vancouver", "BC", "V6B {d}{L}{d}"),
        ("Québec", "Québec", "G1R {d}{L}{d}"),
        ("Ottawa", "Ontario", "K1P {d}{L}{d}"),
        ("Calgary", "AB", "T2P {d}{L}{d}"),
    ),
    "US": (
        ("Boston", "MA", "021{d}{d}"),
        ("Seattle", "WA", "981{d}{d}"),
        ("New York", "NY", "100{d}{d}"),
        ("Chicago", "Illinois", "606{d}{d}-{d}{d}{d}{d}"),
    ),
    "GB": (("London", "", "SW1A {d}{L}{L}"), ("Edinburgh", "", "EH{d} {d}{L}{L}")),
    "FR": (("Paris", "Île-de-France", "750{d}{d}"), ("Lyon", "", "6900{d}")),
    "DE": (("Berlin", "Berlin", "10{d}{d}{d}"), ("München", "Bayern", "80{d}{d}{d}")),
}
DEFAULT_PLACE: Final = ("Capital City", "", "{d}{d}{d}{d}")
STREETS: Final = (
    "Main St", "Rue Saint-Denis", "King Street West", "Elm Ave", "Oak Road",
    "Boulevard René-Lévesque", "Chemin de la Côte-des-Neiges", "High Street", "Hauptstraße",
    "Calle Mayor", "1st Avenue NW", "Queen's Road",
)  # fmt: skip


def _phone(rng: random.Random, code: str) -> str:
    """A number as people write it in the country of ``code`` (national or international)."""
    d = lambda n: "".join(str(rng.randrange(10)) for _ in range(n))  # noqa: E731
    if code in ("CA", "US"):
        area = rng.choice(("416", "514", "604", "613", "438", "617", "206", "212", "312"))
        line = f"{rng.randrange(200, 999)}"
        rest = d(4)
        return rng.choice(
            (
                f"({area}) {line} {rest}",
                f"({area}) {line}-{rest}",
                f"{area}-{line}-{rest}",
                f"{area}.{line}.{rest}",
                f"+1 {area} {line} {rest}",
                f"+1 ({area}) {line}-{rest}",
                f"1-{area}-{line}-{rest}",
                f"{area} {line} {rest} ext. {d(3)}",
            )
        )
    if code == "GB":
        return rng.choice((f"020 {d(4)} {d(4)}", f"+44 20 {d(4)} {d(4)}", f"07{d(3)} {d(6)}"))
    if code == "FR":
        pairs = " ".join(d(2) for _ in range(4))
        return rng.choice((f"01 {pairs}", f"+33 1 {pairs}", f"06.{pairs.replace(' ', '.')}"))
    if code == "DE":
        return rng.choice((f"030 {d(7)}", f"+49 30 {d(7)}", f"(089) {d(3)} {d(4)}"))
    return rng.choice((f"+{rng.randrange(20, 99)} {d(3)} {d(3)} {d(3)}", f"0{d(2)} {d(3)} {d(4)}"))


def _country_cell(rng: random.Random, spellings: tuple[str, ...]) -> str:
    """One spelling in one of the cases exports use (mostly not the bare alpha-2)."""
    text = rng.choice(spellings)
    how = rng.random()
    if how < 0.15:
        return text.lower()
    if how < 0.22:
        return text.upper()
    if how < 0.25:
        return f"{text} "
    return text


def _postal(rng: random.Random, pattern: str) -> str:
    out = []
    for part in pattern.replace("{d}", "\0d").replace("{L}", "\0L").split("\0"):
        if part[:1] == "d":
            out.append(str(rng.randrange(10)) + part[1:])
        elif part[:1] == "L":
            out.append(rng.choice("ABCEGHJKLMNPRSTVXY") + part[1:])
        else:
            out.append(part)
    return "".join(out)


def _name(rng: random.Random) -> tuple[str, str, str]:
    """First and last name as written, and the local part of the person's email."""
    script = rng.random()
    if script < 0.08:
        first, first_ascii = rng.choice(OTHER_SCRIPT_FIRST)
        last, last_ascii = rng.choice(OTHER_SCRIPT_LAST)
        return first, last, f"{first_ascii}.{last_ascii}"
    accented = rng.random() < 0.45
    first = rng.choice(ACCENTED_FIRST if accented else PLAIN_FIRST)
    last = rng.choice(ACCENTED_LAST if rng.random() < 0.3 else PLAIN_LAST)
    return first, last, ""


def _local_part(rng: random.Random, first: str, last: str, n: int, ascii_local: str) -> str:
    """An email's local part from the name, unique by ``n``; accented for a third of rows."""
    if ascii_local:
        base = ascii_local
    else:
        keep_accents = rng.random() < KEEP_ACCENTS
        f = first.lower().replace(" ", "").replace("'", "")
        la = last.lower().replace(" ", "").replace("'", "")
        if not keep_accents:
            f, la = _ascii(f), _ascii(la)
        base = rng.choice((f"{f}.{la}", f"{f}_{la}", f"{f[:1]}{la}", f"{f}", f"{la}.{f}"))
    return f"{base}{rng.choice(('', '.', '_'))}{n}"


_ASCII_OF: Final = str.maketrans({"ł": "l", "ø": "o", "þ": "th", "ß": "ss", "æ": "ae", "œ": "oe"})


def _ascii(text: str) -> str:
    """The name without its accents, as many people write it in an address."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_OF))
    return decomposed.encode("ascii", "ignore").decode()


def messy_rows(rows: int, seed: int) -> Iterator[list[str]]:
    """The cells of each row of the messy profile (``MESSY_HEADER`` order)."""
    rng = random.Random(seed)
    codes = list(COUNTRIES)
    weights = [COUNTRIES[c][0] for c in codes]
    invalid_every = round(1 / INVALID_SHARE)
    duplicate_at = {rows * (k + 1) // (DUPLICATES + 1): k for k in range(DUPLICATES)}
    originals = {n // 2 for n in duplicate_at}
    remembered: dict[int, list[str]] = {}
    for n in range(rows):
        first, last, ascii_local = _name(rng)
        local = _local_part(rng, first, last, n, ascii_local)
        email = f"{local}@{rng.choices(DOMAINS, DOMAIN_WEIGHTS)[0]}"
        if rng.random() < SHOUTED_SHARE:
            email = rng.choice((" ", "  ", "")) + email.upper() + rng.choice((" ", "\t", "  "))
        code = rng.choices(codes, weights)[0]
        city, state, postal = rng.choice(PLACES.get(code, (DEFAULT_PLACE,)))
        street = f"{rng.randrange(1, 9999)} {rng.choice(STREETS)}"
        if rng.random() < COMMA_SHARE:
            street = f"Apt {rng.randrange(1, 40)}, {street}"
        row = [
            f"003{rng.randrange(16**12):012X}",
            str(n + 1000) if rng.random() < LINKED_SHARE else "",
            first,
            last,
            email,
            _phone(rng, code) if rng.random() < PHONE_SHARE else "",
            street,
            city,
            state,
            _postal(rng, postal),
            _country_cell(rng, COUNTRIES[code][1]),
        ]
        if n % invalid_every == invalid_every // 2:
            kind = rng.randrange(3)
            if kind == 0:
                row[4] = rng.choice((email.replace("@", " at "), email.split("@")[0], "n/a"))
            elif kind == 1:
                row[2] = ""
            else:
                row[10] = rng.choice(UNKNOWN_COUNTRIES)
        if n in originals:
            remembered[n] = row
        if n in duplicate_at:
            original = remembered[n // 2]
            if duplicate_at[n] % 2 == 0:
                row[4] = original[4].upper()  # the same address, in other case
            else:
                row[0] = original[0]
        yield row


def write_messy(path: Path, rows: int, seed: int, *, quoted: bool = False) -> None:
    """Write ``rows`` rows of the messy profile to ``path``; ``quoted``: the quoted profile."""
    encoding = "utf-8-sig" if quoted else "utf-8"
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(
            handle,
            quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL,
            lineterminator="\r\n" if quoted else "\n",
        )
        writer.writerow(MESSY_HEADER)
        writer.writerows(messy_rows(rows, seed))
