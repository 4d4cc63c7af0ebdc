"""The per-row checks of validation, compiled once per column mapping.

``RowChecker.check`` runs once per row of files of a million rows (a benchmark holds all of
validation to 3x a bare ``csv.DictReader``). It is a closure over the column positions and
flags fixed at construction that accepts the usual row (clean text, values already in
final form) with a few C-level tests, and hands any other row to ``check_fully``, which
holds the rules, cleans every value and writes every message. A property test checks that
the two agree on every row.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any, Final

from communal_sync.dates import EARLIEST_YEAR, DateError, DateOrder, parse_date
from communal_sync.fields import NAME_MAX_LENGTH, custom_name, is_custom
from communal_sync.mapping import ColumnMapping
from communal_sync.normalize import (
    EMAIL_LOCAL_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    clean_text,
    is_valid_email,
    normalize_country,
    normalize_email,
)
from communal_sync.profile_row import ROW_TEMPLATE, ProfileRow, RowError, trusted_row
from communal_sync.source_row import SourceRow

CheckResult = tuple[dict[str, Any] | None, list[RowError]]
"""The row's checked values (None if invalid) and its errors (empty if valid)."""

REQUIRED_LABELS: Final = {
    "first_name": "a first name",
    "last_name": "a last name",
    "email": "an email",
}

COUNTRY_EXAMPLE: Final = "CA or Canada"

_EARLIEST_ISO: Final = f"{EARLIEST_YEAR}-01-01"

_PLAIN_EMAIL: Final = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
"""An ASCII address with a lower-case domain: valid, and already in normalize_email form."""

_BLANK_TO_NONE: Final[dict[str, None]] = {"": None}
"""``map(_BLANK_TO_NONE.get, cells, cells)`` turns "" into None at C speed."""


class RowChecker:
    """Checks rows against one mapping: required fields, lengths, email, date, country, id."""

    def __init__(self, mapping: ColumnMapping, *, date_order: DateOrder | None = None) -> None:
        """Fix column positions and per-field flags once; ``check`` then only reads them."""
        standard = [(c, f) for c, f in mapping.columns.items() if not is_custom(f)]
        custom = [(c, f) for c, f in mapping.columns.items() if is_custom(f)]
        self._columns = tuple(c for c, _ in standard) + tuple(c for c, _ in custom)
        self._fields = tuple(f for _, f in standard)
        self._custom_names = tuple(custom_name(f) for _, f in custom)
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
        self._fields_set = {"line", "custom", *present}
        self.check: Callable[[SourceRow], CheckResult] = self._fast_check()
        """The checked values of one row (for ``build``), or None and every error found."""

    def _fast_check(self) -> Callable[[SourceRow], CheckResult]:
        """Build ``check``: a closure, so the hot path reads locals, not attributes."""
        columns = self._columns
        getter: Callable[[Mapping[str, str]], tuple[str, ...]] = (
            itemgetter(*columns) if len(columns) > 1 else lambda v: (v[columns[0]],)
        )
        fields = self._fields
        custom_names = self._custom_names
        long_names = self._long_names
        has_date, has_country, has_id = self._has_date, self._has_country, self._has_id
        today_iso = self._today.isoformat()
        check_fully = self.check_fully
        custom_values = self._custom_values
        blank_to_none = _BLANK_TO_NONE.get
        template = ROW_TEMPLATE
        is_nfc = unicodedata.is_normalized
        plain_email = _PLAIN_EMAIL.fullmatch
        from_iso = dt.date.fromisoformat
        name_max = NAME_MAX_LENGTH

        def check(src: SourceRow) -> CheckResult:
            if src.problem is not None:
                return check_fully(src)
            try:
                raw = getter(src.values)
            except KeyError:  # a JSON record without some key: a blank cell
                return check_fully(src)
            joined = " ".join(filter(None, raw))
            # Would clean_text change any cell? isprintable() is False for every whitespace
            # character but the space, and for the zero-width ones.
            if (
                not joined.isprintable()
                or "  " in joined
                or joined.startswith(" ")
                or joined.endswith(" ")
                or (not joined.isascii() and not is_nfc("NFC", joined))
            ):
                return check_fully(src)
            data = template.copy()
            data["line"] = src.line
            data.update(zip(fields, map(blank_to_none, raw, raw)))  # noqa: B905
            first = data["first_name"]
            last = data["last_name"]
            email = data["email"]
            if (
                not first
                or not last
                or not email
                or len(first) > name_max
                or len(last) > name_max
                or len(email) > EMAIL_MAX_LENGTH
                or email.find("@") > EMAIL_LOCAL_MAX_LENGTH
                or plain_email(email) is None
            ):
                return check_fully(src)
            for name in long_names:
                text = data[name]
                if text is not None and len(text) > name_max:
                    return check_fully(src)
            if has_date and (text := data["date_of_birth"]) is not None:
                if not (len(text) == 10 and _EARLIEST_ISO <= text <= today_iso and text[7] == "-"):
                    return check_fully(src)
                try:
                    from_iso(text)
                except ValueError:
                    return check_fully(src)
            if has_country and (text := data["profile_country"]) is not None:
                code = normalize_country(text)
                if code is None:
                    return check_fully(src)
                data["profile_country"] = code
            if has_id and (text := data["id"]) is not None:
                if not (text.isascii() and text.isdigit() and int(text) > 0):
                    return check_fully(src)
                data["id"] = int(text)
            data["custom"] = custom_values(raw) if custom_names else {}
            return data, []

        return check

    def check_fully(self, src: SourceRow) -> tuple[dict[str, Any] | None, list[RowError]]:
        """``check`` for any row: cleans every value and collects every error, in column order."""
        line = src.line
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
            if text.isascii() and text.isdigit() and int(text) > 0:
                data["id"] = int(text)
            else:
                errors.append(self._bad_id(line, text))
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
        column = self._column_of[name]
        return RowError(
            line,
            name,
            "",
            f"{name} is blank: every row needs {REQUIRED_LABELS[name]}. "
            f"Fill in column {column!r}, or remove the row.",
        )

    def _too_long(self, line: int, name: str, text: str) -> RowError:
        return RowError(
            line,
            name,
            text,
            f"{name} is {len(text)} characters long; Communal allows at most "
            f"{NAME_MAX_LENGTH}. Shorten it.",
        )

    def _bad_id(self, line: int, text: str) -> RowError:
        column = self._column_of["id"]
        return RowError(
            line,
            "id",
            text,
            "This is not a Communal user id (a positive whole number). If column "
            f'{column!r} is your own system\'s key, map it with --map "{column}=external_id".',
        )
