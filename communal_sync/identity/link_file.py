"""Reading an id-map file for ``link``: its id, email and external id columns, and its rows.

Only what link needs is checked: a column for the Communal user id, and one for an email
or an external id; names and the rest of a full export are not required. Each row's id
must be a positive whole number and its email valid; rows that fail, or that contradict
each other (one email or external id given two users, one user given two emails), are
refused with line, field and reason, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, Literal

from communal_sync.errors import InputError
from communal_sync.fields import user_id_of
from communal_sync.intake.mapping import resolve_overrides
from communal_sync.intake.profile_row import RowError
from communal_sync.intake.settings import ReadOptions, resolve_settings
from communal_sync.intake.synonyms import SYNONYM_INDEX, column_key
from communal_sync.sources.source import Source, SourceRow, open_source
from communal_sync.values.normalize import clean_text, email_key, is_valid_email, normalize_email

LINK_FIELDS: Final = ("id", "email", "external_id")
"""The fields link reads; every other column of the file is left alone."""

KEY_LABELS: Final = {"email": "email", "external_id": "external id"}

LinkKey = Literal["email", "external_id"]


@dataclass(frozen=True)
class LinkColumns:
    """Which column of the file holds the id, the email and the external id."""

    id: str
    email: str | None
    external_id: str | None
    unmapped: tuple[str, ...] = ()
    """Columns that map to no Communal field at all (reported, in case one was meant)."""


@dataclass
class LinkFile:
    """An opened id-map file with its columns checked, ready to read."""

    source: Source
    columns: LinkColumns
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LinkEntry:
    """One valid row: a user id and the email key and/or external id that point at it."""

    line: int
    user_id: int
    email_key: str | None
    external_id: str | None


@dataclass(frozen=True)
class LinkRead:
    """Every row of the file, checked: the entries to link and the refused rows' problems."""

    name: str
    rows: int
    entries: tuple[LinkEntry, ...]
    problems: tuple[RowError, ...]

    @property
    def refused_lines(self) -> list[int]:
        """The lines of the refused rows, each once, in file order."""
        return sorted({problem.line for problem in self.problems})


def open_link_file(
    file: str,
    options: ReadOptions,
    *,
    cwd: Path | None = None,
    stdin: BinaryIO | None = None,
) -> LinkFile:
    """Open ``file`` (``-`` for stdin) and find its id, email and external id columns.

    ``--map`` must name columns the file has; the config file's ``[mapping]`` describes the
    export rather than this file, so its entries for columns this file lacks are skipped.
    Raises InputError (file, line 1) when no column is the id or none is an email or
    external id, and ConfigError for a bad config or ``--map``.
    """
    settings = resolve_settings(options, cwd=cwd or Path.cwd())
    source = open_source(
        file, encoding=settings.encoding, input_format=settings.input_format, stdin=stdin
    )
    overrides = settings.overrides(present=source.headers)
    columns = map_link_columns(source.headers, overrides=overrides, source_name=source.name)
    return LinkFile(source=source, columns=columns, warnings=list(source.warnings))


def map_link_columns(
    headers: Sequence[str], *, overrides: Mapping[str, str], source_name: str
) -> LinkColumns:
    """Find the id, email and external id columns: overrides first, then the synonym table.

    Like ``build_mapping`` but without its required name and email columns, which link
    does not need. Raises ConfigError for an override naming a missing column or an
    unknown field, and InputError when two columns feed one link field, no column is the
    id, or no column is an email or external id.
    """
    chosen = resolve_overrides(headers, overrides, source_name)
    claimed = set(chosen.values())
    by_field: dict[str, list[str]] = {}
    unmapped: list[str] = []
    for header in headers:
        if header in chosen:
            target: str | None = chosen[header]
        else:
            target = SYNONYM_INDEX.get(column_key(header))
            if target in claimed:
                target = None  # an explicit mapping chose another column for this field
        if target is None:
            if not header.strip().casefold().startswith("custom:"):
                unmapped.append(header)
        elif target:
            by_field.setdefault(target, []).append(header)
    for name in LINK_FIELDS:
        found = by_field.get(name, [])
        if len(found) > 1:
            raise InputError(
                f"columns {_quoted(found)} all map to {name}.",
                file=source_name,
                line=1,
                hint=f'Choose one with --map "{found[0]}={name}", or ignore one with '
                f'--map "{found[-1]}=".',
            )
    if "id" not in by_field:
        raise InputError(
            "no column holds the Communal user id, which link needs for every row. "
            f"The columns are: {_quoted(headers)}.",
            file=source_name,
            line=1,
            hint='Name it with --map "Column=id" (for example --map "Communal ID=id").',
        )
    if "email" not in by_field and "external_id" not in by_field:
        raise InputError(
            "no column holds an email or an external id, so there is nothing to link the "
            f"ids to. The columns are: {_quoted(headers)}.",
            file=source_name,
            line=1,
            hint='Name one with --map "Column=email" or --map "Column=external_id".',
        )
    return LinkColumns(
        id=by_field["id"][0],
        email=by_field.get("email", [None])[0],
        external_id=by_field.get("external_id", [None])[0],
        unmapped=tuple(unmapped),
    )


def read_links(link_file: LinkFile) -> LinkRead:
    """Read and check every row, then refuse the rows that contradict each other.

    Reads the whole file before returning, so a file that turns out unreadable halfway
    raises InputError before anything is written. Rows that say the same thing twice are
    linked once.
    """
    entries: list[LinkEntry] = []
    problems: list[RowError] = []
    seen: set[tuple[int, str | None, str | None]] = set()
    rows = 0
    for src in link_file.source.rows():
        rows += 1
        entry, errors = check_link_row(src, link_file.columns)
        problems.extend(errors)
        if entry is None:
            continue
        identity = (entry.user_id, entry.email_key, entry.external_id)
        if identity not in seen:
            seen.add(identity)
            entries.append(entry)
    contradictions = find_contradictions(entries)
    refused = {problem.line for problem in contradictions}
    problems.extend(contradictions)
    problems.sort(
        key=lambda p: (p.line, LINK_FIELDS.index(p.field) if p.field in LINK_FIELDS else -1)
    )
    return LinkRead(
        name=link_file.source.name,
        rows=rows,
        entries=tuple(e for e in entries if e.line not in refused),
        problems=tuple(problems),
    )


def check_link_row(src: SourceRow, columns: LinkColumns) -> tuple[LinkEntry | None, list[RowError]]:
    """Check one row: a positive integer id, a valid email if any, an email or external id.

    Returns the entry, or None and every problem of the row (a row is refused whole: an
    external id is not linked when the same row's email is wrong).
    """
    line = src.line
    values = src.values
    errors: list[RowError] = []
    if src.problem is not None:
        column = src.problem_field
        target = _field_of(column, columns) if column is not None else None
        errors.append(RowError(line, target, values.get(column) if column else None, src.problem))
        if column is None:
            return None, errors
    id_text = clean_text(values.get(columns.id, ""))
    user_id: int | None = None
    if not id_text:
        errors.append(
            RowError(
                line,
                "id",
                "",
                "id is blank: every row needs the Communal user id. "
                f"Fill in column {columns.id!r}, or remove the row.",
            )
        )
    elif (found := user_id_of(id_text)) is not None:
        user_id = found
    else:
        errors.append(
            RowError(
                line,
                "id",
                id_text,
                "This is not a Communal user id (a positive whole number). If column "
                f"{columns.id!r} is your own system's key, map it with "
                f'--map "{columns.id}=external_id" and name the id column with --map "Column=id".',
            )
        )
    key: str | None = None
    if columns.email is not None and (email := normalize_email(values.get(columns.email, ""))):
        if is_valid_email(email):
            key = email_key(email)
        else:
            errors.append(
                RowError(
                    line,
                    "email",
                    email,
                    "This is not a valid email address: it needs one @ and a domain such as "
                    "example.org, with no spaces. Correct it in the file.",
                )
            )
    external_id: str | None = None
    if columns.external_id is not None:
        external_id = clean_text(values.get(columns.external_id, "")) or None
    if key is None and external_id is None and not any(e.field == "email" for e in errors):
        names = " or ".join(repr(c) for c in (columns.email, columns.external_id) if c)
        errors.append(
            RowError(
                line,
                None,
                None,
                f"The row has no email or external id, so there is nothing to link: fill in "
                f"{names}, or remove the row.",
            )
        )
    if src.problem_field is not None:
        flagged = errors[0]
        errors = [flagged, *(e for e in errors[1:] if e.field != flagged.field)]
    if errors or user_id is None:
        return None, errors
    return LinkEntry(line, user_id, key, external_id), []


def find_contradictions(entries: Iterable[LinkEntry]) -> list[RowError]:
    """Problems for rows that disagree: one email or external id given two different users,
    or one user given two different emails.

    Every row of a disagreement is refused, since the file cannot say which is right. A
    user may have several external ids (merged records), so that alone is no contradiction.
    """
    by_email: dict[str, dict[int, list[LinkEntry]]] = {}
    by_external: dict[str, dict[int, list[LinkEntry]]] = {}
    emails_of: dict[int, dict[str, list[LinkEntry]]] = {}
    for entry in entries:
        if entry.email_key is not None:
            by_email.setdefault(entry.email_key, {}).setdefault(entry.user_id, []).append(entry)
            emails_of.setdefault(entry.user_id, {}).setdefault(entry.email_key, []).append(entry)
        if entry.external_id is not None:
            users = by_external.setdefault(entry.external_id, {})
            users.setdefault(entry.user_id, []).append(entry)
    problems: list[RowError] = []
    for key, groups in (("email", by_email), ("external_id", by_external)):
        for value, users in groups.items():
            if len(users) < 2:
                continue
            where = ", ".join(
                f"{user} ({_lines(e.line for e in rows)})" for user, rows in sorted(users.items())
            )
            message = (
                f"This {KEY_LABELS[key]} is given to different users in this file: {where}. "
                f"An {KEY_LABELS[key]} belongs to one Communal user: correct the wrong row."
            )
            problems.extend(
                RowError(e.line, key, value, message) for rows in users.values() for e in rows
            )
    for user_id, emails in emails_of.items():
        if len(emails) < 2:
            continue
        lines = _lines(e.line for rows in emails.values() for e in rows)
        message = (
            f"User {user_id} is given different emails in this file ({lines}); a Communal "
            "account has one email: correct the wrong row."
        )
        problems.extend(
            RowError(e.line, "email", e.email_key, message)
            for rows in emails.values()
            for e in rows
        )
    return problems


def _field_of(column: str, columns: LinkColumns) -> str:
    for name in LINK_FIELDS:
        if getattr(columns, name) == column:
            return name
    return column


def _lines(lines: Iterable[int]) -> str:
    ordered = sorted(set(lines))
    label = "line" if len(ordered) == 1 else "lines"
    return f"{label} {', '.join(str(n) for n in ordered)}"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names) if names else "(none)"
