"""The per-row checks of validation, compiled once per column mapping.

``RowChecker.accepts`` says yes to the usual row (clean text, values valid and already in
final form) with a few C-level tests, reading a CSV row's cells by position; it is a
closure over the column positions and flags fixed at construction. ``RowChecker.suspects``
gives the same verdicts for a whole chunk of CSV records at once, a column at a time, which
is what validation runs on files of a million rows (a benchmark holds all of validation to
3x a bare ``csv.DictReader``). Any other row goes to ``check_fully``, which holds the rules,
cleans every value and writes every message. ``check`` is ``accepts`` and ``check_fully``
together; property tests check that it agrees with ``check_fully`` on every row, and that
``suspects`` names exactly the records ``accepts`` refuses.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from itertools import chain, compress
from itertools import count as count_from
from operator import itemgetter, not_
from typing import Any, Final

from communal_sync.fields import MAX_USER_ID, NAME_MAX_LENGTH, custom_name, is_custom, user_id_of
from communal_sync.intake.column_checks import (
    PLAIN_LOCAL,
    VERDICTS_KEPT,
    bad_dates,
    bad_emails,
    bad_ids,
    is_cleanable_email,
    is_plain_date,
    is_plain_domain,
    longer_than,
    remember_verdict,
    unclean_cells,
)
from communal_sync.intake.mapping import ColumnMapping
from communal_sync.intake.profile_row import ROW_TEMPLATE, ProfileRow, RowError, trusted_row
from communal_sync.sources.rows import SourceRow
from communal_sync.values.confusables import confusable_reason
from communal_sync.values.dates import DateError, DateOrder, parse_date
from communal_sync.values.normalize import (
    EMAIL_LOCAL_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    clean_text,
    is_valid_email,
    normalize_country,
    normalize_email,
)

CheckResult = tuple[dict[str, Any] | None, list[RowError]]
"""The row's checked values (None if invalid) and its errors (empty if valid)."""

REQUIRED_LABELS: Final = {
    "first_name": "a first name",
    "last_name": "a last name",
    "email": "an email",
}

COUNTRY_EXAMPLE: Final = "CA or Canada"

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 and C1 control characters left after clean_text (whitespace ones became spaces)."""

_SELF_CHECKED: Final = frozenset(("email", "date_of_birth", "profile_country", "id"))
"""Fields whose fast check accepts only values clean_text would not change (or, for the
country, whose code is the same either way), so they skip the clean-text test."""


ID_DIGITS: Final = len(str(MAX_USER_ID))
"""Digits of the largest user id: a longer run of digits is never converted to a number."""

_BLANK_TO_NONE: Final[dict[str, None]] = {"": None}
"""``map(_BLANK_TO_NONE.get, cells, cells)`` turns "" into None at C speed."""


class RowChecker:
    """Checks rows against one mapping: required fields, lengths, email, date, country, id."""

    def __init__(
        self,
        mapping: ColumnMapping,
        *,
        date_order: DateOrder | None = None,
        allow_confusable_emails: bool = False,
    ) -> None:
        """Fix column positions and per-field flags once; ``check`` then only reads them.

        Unless ``allow_confusable_emails``, an email that can pass for another address
        (mixed scripts, full-width letters: see ``values.confusables``) is invalid.
        """
        self._allow_confusable = allow_confusable_emails
        standard = [(c, f) for c, f in mapping.columns.items() if not is_custom(f)]
        custom = [(c, f) for c, f in mapping.columns.items() if is_custom(f)]
        self._columns = tuple(c for c, _ in standard) + tuple(c for c, _ in custom)
        self._fields = tuple(f for _, f in standard)
        self._custom_names = tuple(custom_name(f) for _, f in custom)
        self._labels = self._fields + tuple(f for _, f in custom)
        self._standard_count = len(standard)
        self._date_order: DateOrder | None = date_order
        self._today = dt.date.today()
        self._column_of = {f: c for c, f in mapping.columns.items()}
        self._position = {f: i for i, f in enumerate(mapping.columns.values())}
        present = set(self._fields)
        self._optional = tuple(f for f in self._fields if f not in REQUIRED_LABELS)
        self._long_names = tuple(f for f in ("middle_name", "preferred_name") if f in present)
        self._has_date = "date_of_birth" in present
        self._has_country = "profile_country" in present
        self._has_id = "id" in present
        self._id_at = self._fields.index("id") if self._has_id else -1
        self._fields_set = {"line", "custom", *present}
        self._raw_of = self._raw_reader()
        self._domains: dict[str, bool] = {}
        self.accepts: Callable[[SourceRow], bool] = self._acceptor()
        """Whether a row is valid and already clean: ``check`` then only copies its values."""
        self.suspects: Callable[[Sequence[str], Sequence[Sequence[str]]], set[int] | None] = (
            self._suspect_finder()
        )
        """``suspects(header, records)``: the indexes of the records (full rows of ``header``)
        that ``accepts`` would refuse, found column by column; None if the header lacks a
        mapped column (then ask ``accepts`` row by row)."""

    def check(self, src: SourceRow) -> CheckResult:
        """The checked values of one row (for ``build``), or None and every error found."""
        if self.accepts(src):
            return self._clean_values(src), []
        return self.check_fully(src)

    def row_of(self, src: SourceRow) -> ProfileRow:
        """The ProfileRow of a row ``accepts`` said yes to (checked again: same values)."""
        data, errors = self.check(src)
        if data is None:
            raise ValueError(f"line {src.line} is not a valid row: {errors[0].message}")
        return self.build(data)

    def _raw_reader(self) -> Callable[[SourceRow], tuple[str, ...] | None]:
        """Build the function from a row to its mapped cells in ``_columns`` order.

        A CSV row's ``cells`` are picked by position (positions worked out once per header);
        any other row is read through ``values``. None means a mapped key is missing (a
        JSON record without it: a blank cell, which only ``check_fully`` handles).
        """
        columns = self._columns
        from_values: Callable[[Mapping[str, str]], tuple[str, ...]] = (
            itemgetter(*columns) if len(columns) > 1 else lambda v: tuple(v[c] for c in columns)
        )
        header: Sequence[str] | None = None
        from_cells: Callable[[Sequence[str]], tuple[str, ...]] | None = None

        def raw_of(src: SourceRow) -> tuple[str, ...] | None:
            nonlocal header, from_cells
            cells = src.cells
            if cells is not None:
                if src.columns is not header:
                    header = src.columns
                    from_cells = _cell_picker(header, columns)
                if from_cells is not None:
                    return from_cells(cells)
            try:
                return from_values(src.values)
            except KeyError:
                return None

        return raw_of

    def _acceptor(self) -> Callable[[SourceRow], bool]:
        """Build ``accepts``: a closure, so the hot path reads locals, not attributes.

        It says yes to the usual row (clean text, values valid and in final form) with a
        few C-level tests; anything else is for ``check_fully``. It must never say yes to a
        row ``check_fully`` would change or reject (a property test holds it to that).
        Domains and dates repeat down a file, so their verdicts are remembered.
        """
        raw_of = self._raw_reader()
        columns = self._columns
        position = {f: i for i, f in enumerate(self._fields)}
        if any(f not in position for f in REQUIRED_LABELS):
            return lambda src: False  # no record had a key (JSON): check_fully says why
        first_at, last_at, email_at = (position[f] for f in REQUIRED_LABELS)
        long_at = tuple(position[f] for f in self._long_names)
        date_at = position.get("date_of_birth", -1)
        country_at = position.get("profile_country", -1)
        id_at = position.get("id", -1)
        # Cells whose own check only passes text clean_text leaves alone (an address, a
        # date, a country code or name, an id) are left out of the clean-text test.
        fields = self._fields
        text_at = [
            i for i in range(len(columns)) if i >= len(fields) or fields[i] not in _SELF_CHECKED
        ]
        texts_of: Callable[[tuple[str, ...]], tuple[str, ...]] = (
            itemgetter(*text_at) if len(text_at) > 1 else lambda raw: tuple(raw[i] for i in text_at)
        )
        today_iso = self._today.isoformat()
        is_nfc = unicodedata.is_normalized
        plain_local = PLAIN_LOCAL.fullmatch
        domains = self._domains
        dates: dict[str, bool] = {}
        known_domain, known_date = domains.get, dates.get
        header: Sequence[str] | None = None
        from_cells: Callable[[Sequence[str]], tuple[str, ...]] | None = None
        name_max = NAME_MAX_LENGTH

        def accepts(src: SourceRow) -> bool:
            nonlocal header, from_cells
            cells = src.cells
            if cells is not None and src.columns is header and from_cells is not None:
                raw = from_cells(cells)
            else:
                if cells is not None and (picker := _cell_picker(src.columns, columns)):
                    header, from_cells = src.columns, picker
                found = raw_of(src)
                if found is None or src.problem is not None:
                    return False
                raw = found
            joined = " ".join(filter(None, texts_of(raw)))
            # Would clean_text change any cell? isprintable() is False for every whitespace
            # character but the space, and for the zero-width ones.
            if (
                not joined.isprintable()
                or "  " in joined
                or joined[:1] == " "
                or joined[-1:] == " "
                or (not joined.isascii() and not is_nfc("NFC", joined))
            ):
                return False
            first = raw[first_at]
            last = raw[last_at]
            if not first or not last or len(first) > name_max or len(last) > name_max:
                return False
            email = raw[email_at]
            local, _, domain = email.partition("@")
            if (domain_ok := known_domain(domain)) is None:
                domain_ok = remember_verdict(domains, domain, is_plain_domain(domain))
            if not (
                domain_ok
                and len(local) <= EMAIL_LOCAL_MAX_LENGTH
                and len(domain) < EMAIL_MAX_LENGTH - len(local)
                and plain_local(local) is not None
            ) and not is_cleanable_email(email, domains):
                return False
            for at in long_at:
                if len(raw[at]) > name_max:
                    return False
            if date_at >= 0 and (text := raw[date_at]):
                if (date_ok := known_date(text)) is None:
                    date_ok = remember_verdict(dates, text, is_plain_date(text, today_iso))
                if not date_ok:
                    return False
            if (
                country_at >= 0
                and (text := raw[country_at])
                and (normalize_country(text) is None or _CONTROL.search(text))
            ):
                return False  # the country's key ignores a control character; check_fully not
            return not (
                id_at >= 0
                and (text := raw[id_at])
                and not (
                    text.isascii()
                    and text.isdigit()
                    and len(text) <= ID_DIGITS
                    and 0 < int(text) <= MAX_USER_ID
                )
            )

        return accepts

    def _suspect_finder(
        self,
    ) -> Callable[[Sequence[str], Sequence[Sequence[str]]], set[int] | None]:
        """Build ``suspects``: ``accepts`` for a whole chunk of records, a column at a time.

        Each test runs once over a column (or over all the text cells joined) with C-level
        calls; only a column that fails it is gone through cell by cell to find the records
        at fault. A record is a suspect exactly when ``accepts`` refuses its row (a test
        compares the two), so validation can trust every other record of the chunk.
        """
        columns = self._columns
        fields = self._fields
        field_at = {f: i for i, f in enumerate(fields)}
        if any(f not in field_at for f in REQUIRED_LABELS):
            return lambda header, records: set(range(len(records)))
        text_at = [
            i for i in range(len(columns)) if i >= len(fields) or fields[i] not in _SELF_CHECKED
        ]
        name_at = [field_at[f] for f in ("first_name", "last_name")]
        long_at = [field_at[f] for f in self._long_names]
        email_at = field_at["email"]
        date_at = field_at.get("date_of_birth")
        country_at = field_at.get("profile_country")
        id_at = field_at.get("id")
        today_iso = self._today.isoformat()
        domains = self._domains
        countries_known: set[str] = {""}  # blank is no country, and no error
        name_max = NAME_MAX_LENGTH
        header_seen: Sequence[str] | None = None
        in_header: list[int] = []

        def suspects(header: Sequence[str], records: Sequence[Sequence[str]]) -> set[int] | None:
            nonlocal header_seen, in_header
            if header is not header_seen:
                if not set(columns) <= set(header):
                    return None
                in_header = [list(header).index(column) for column in columns]
                header_seen = header
            count = len(records)
            if not count:
                return set()
            table = list(zip(*records, strict=True))
            cols = [table[at] for at in in_header]
            bad: set[int] = set()
            # Would clean_text change a text cell? Cell k of the column-major list is in
            # record k % count.
            texts = list(chain.from_iterable(cols[i] for i in text_at))
            unclean_cells(texts, bad, count)
            for at in name_at:
                column = cols[at]
                if not all(column) or max(map(len, column)) > name_max:
                    bad.update(compress(count_from(), map(not_, column)))
                    bad.update(longer_than(column, name_max))
            for at in long_at:
                if max(map(len, cols[at])) > name_max:
                    bad.update(longer_than(cols[at], name_max))
            bad_emails(cols[email_at], bad, domains)
            if date_at is not None:
                bad_dates(cols[date_at], bad, today_iso)
            if country_at is not None:
                countries = cols[country_at]
                wrong = set(countries)
                wrong -= countries_known  # spellings already found to be a country
                if wrong:
                    wrong = _unknown_countries(wrong, countries_known)
                if wrong:
                    bad.update(compress(count_from(), map(wrong.__contains__, countries)))
            if id_at is not None:
                bad.update(bad_ids(cols[id_at]))
            return bad

        return suspects

    def _clean_values(self, src: SourceRow) -> dict[str, Any]:
        """The checked values of a row ``accepts`` said yes to: blanks None, codes normalized."""
        raw = self._raw_of(src)
        assert raw is not None
        data = ROW_TEMPLATE.copy()
        data["line"] = src.line
        data.update(zip(self._fields, map(_BLANK_TO_NONE.get, raw, raw)))  # noqa: B905
        data["email"] = normalize_email(data["email"])  # "accepts" takes " A@X.ORG " too
        if self._has_country and (text := data["profile_country"]) is not None:
            data["profile_country"] = normalize_country(text)
        if self._has_id and (text := data["id"]) is not None:
            data["id"] = int(text)
        data["custom"] = self._custom_values(raw)
        return data

    def check_fully(self, src: SourceRow) -> tuple[dict[str, Any] | None, list[RowError]]:
        """``check`` for any row: cleans every value and collects every error, in column order."""
        line = src.line
        picked = self._raw_of(src)
        if picked is not None:
            raw = tuple(map(clean_text, picked))
        else:  # a JSON record without some mapped key: that cell is blank
            values = src.values
            raw = tuple(clean_text(values.get(column, "")) for column in self._columns)
        data = ROW_TEMPLATE.copy()
        data["line"] = line
        data.update(zip(self._fields, raw, strict=False))
        for name in self._optional:
            if not data[name]:
                data[name] = None
        errors: list[RowError] = []
        if src.problem is not None:
            errors.append(self._problem(src))
            if src.problem_field is None:
                return None, errors
        if _CONTROL.search("".join(raw)):  # rare: then find the fields that hold one
            for name, text in zip(self._labels, raw, strict=True):
                if _CONTROL.search(text):
                    errors.append(
                        RowError(
                            line,
                            name,
                            text,
                            "This holds a control character (such as NUL, ESC or BEL) that "
                            "cannot be sent; remove it from the file.",
                        )
                    )

        for name in ("first_name", "last_name"):
            text = data[name]
            if not text:
                errors.append(self._required(line, name))
            elif len(text) > NAME_MAX_LENGTH:
                errors.append(self._too_long(line, name, text))
        email = data["email"]
        if not email:
            errors.append(self._required(line, "email"))
        else:
            email = data["email"] = normalize_email(email)
            if not is_valid_email(email):
                errors.append(
                    RowError(
                        line,
                        "email",
                        email,
                        "This is not a valid email address: it needs one @ and a domain "
                        "such as example.org, with no spaces. Correct it in the file.",
                    )
                )
            elif not self._allow_confusable and (reason := confusable_reason(email)):
                errors.append(
                    RowError(
                        line,
                        "email",
                        email,
                        f"{reason} Correct it in the file, or pass --allow-confusable-emails "
                        "if it is right.",
                    )
                )

        for name in self._long_names:
            text = data[name]
            if text is not None and len(text) > NAME_MAX_LENGTH:
                errors.append(self._too_long(line, name, text))
        if self._has_date and (text := data["date_of_birth"]) is not None:
            try:
                data["date_of_birth"] = parse_date(text, order=self._date_order, today=self._today)
            except DateError as error:
                errors.append(RowError(line, "date_of_birth", text, str(error)))
        if self._has_country and (text := data["profile_country"]) is not None:
            code = normalize_country(text)
            if code is None:
                errors.append(
                    RowError(
                        line,
                        "profile_country",
                        text,
                        "This is not a country communal-sync knows: write an ISO code or "
                        f"the English name, for example {COUNTRY_EXAMPLE}.",
                    )
                )
            else:
                data["profile_country"] = code
        if self._has_id and (text := data["id"]) is not None:
            # The cell as read, not cleaned: an invisible character in an id is no id.
            as_read = (
                picked[self._id_at]
                if picked is not None
                else src.values.get(self._column_of["id"], "")
            )
            user_id = user_id_of(as_read)
            if user_id is not None:
                data["id"] = user_id
            else:
                errors.append(self._bad_id(line, text, as_read))
        data["custom"] = self._custom_values(raw)
        if errors:
            return None, self._ordered(src, errors)
        return data, []

    def _custom_values(self, raw: tuple[str, ...]) -> dict[str, str | None]:
        custom = raw[self._standard_count :]
        return {name: value or None for name, value in zip(self._custom_names, custom, strict=True)}

    def build(self, data: dict[str, Any]) -> ProfileRow:
        """The ProfileRow for values ``check`` accepted."""
        return trusted_row(data, self._fields_set)

    def _ordered(self, src: SourceRow, errors: list[RowError]) -> list[RowError]:
        """Errors in column order, without field errors about a field the reader flagged."""
        if src.problem_field is not None:
            flagged = self._field_for(src.problem_field)
            errors = [e for e in errors if e.field != flagged or e.message == src.problem]
        last = len(self._position)
        return sorted(errors, key=lambda e: self._position.get(e.field or "", last))

    def _field_for(self, column: str) -> str:
        target = next((f for f, c in self._column_of.items() if c == column), None)
        return target or column

    def _problem(self, src: SourceRow) -> RowError:
        assert src.problem is not None
        if src.problem_field is None:
            return RowError(src.line, None, None, src.problem)
        value = src.values.get(src.problem_field)
        return RowError(src.line, self._field_for(src.problem_field), value, src.problem)

    def _required(self, line: int, name: str) -> RowError:
        column = self._column_of.get(name)
        where = f"Fill in column {column!r}" if column else f"Add {REQUIRED_LABELS[name]}"
        return RowError(
            line,
            name,
            "",
            f"{name} is blank: every row needs {REQUIRED_LABELS[name]}. "
            f"{where}, or remove the row.",
        )

    def _too_long(self, line: int, name: str, text: str) -> RowError:
        return RowError(
            line,
            name,
            text,
            f"{name} is {len(text)} characters long; Communal allows at most "
            f"{NAME_MAX_LENGTH}. Shorten it.",
        )

    def _bad_id(self, line: int, text: str, as_read: str) -> RowError:
        column = self._column_of["id"]
        hidden = next((c for c in as_read.strip(" \t\r\n") if not c.isprintable()), None)
        if hidden is not None:
            name = unicodedata.name(hidden, "a control character")
            return RowError(
                line,
                "id",
                as_read,
                f"This id holds an invisible character (U+{ord(hidden):04X} {name}), so it "
                "is not an id as typed; remove it from the file.",
            )
        if text.isascii() and text.isdigit() and int(text[-ID_DIGITS - 1 :]) > 0:
            return RowError(
                line,
                "id",
                text,
                f"This number is larger than any Communal user id (at most {MAX_USER_ID}). "
                f"If column {column!r} is your own system's key, map it with --map "
                f'"{column}=external_id".',
            )
        return RowError(
            line,
            "id",
            text,
            "This is not a Communal user id (a positive whole number). If column "
            f'{column!r} is your own system\'s key, map it with --map "{column}=external_id".',
        )


def _cell_picker(
    header: Sequence[str] | None, columns: tuple[str, ...]
) -> Callable[[Sequence[str]], tuple[str, ...]] | None:
    """Pick ``columns`` out of cells in ``header`` order; None if the header lacks one."""
    if header is None or not set(columns) <= set(header):
        return None
    positions = [list(header).index(column) for column in columns]
    if len(positions) > 1:
        return itemgetter(*positions)
    return lambda cells: tuple(cells[position] for position in positions)


def _unknown_countries(spellings: set[str], known: set[str]) -> set[str]:
    """The spellings of ``spellings`` that ``normalize_country`` does not know, or that hold
    a control character (which its key ignores but ``check_fully`` refuses); the others
    are added to ``known`` while it holds under ``VERDICTS_KEPT`` (a real export has a few
    hundred), so the next chunk's check is one set difference."""
    wrong: set[str] = set()
    for text in spellings:
        if normalize_country(text) is None or _CONTROL.search(text):
            wrong.add(text)
        elif len(known) < VERDICTS_KEPT:
            known.add(text)
    return wrong
