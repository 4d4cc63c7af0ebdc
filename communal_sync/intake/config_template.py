"""The ``communal-sync.toml`` that ``init`` writes from a sample export's header line.

Every column is accounted for: one it maps (its field's own name, a known synonym or a
``custom:`` header) becomes a ``"Column" = "field"`` entry, so the file spells out the
mapping the tool would use and ``config.load_config`` reads back exactly that; a column
it does not map is a comment saying why, with the line to uncomment where there is a
suggestion. ``[defaults]`` lists every setting, commented out, with what it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from communal_sync.fields import CUSTOM_PREFIX, REQUIRED_FIELDS
from communal_sync.intake.mapping_hints import SUGGESTED_COLUMNS, suggest_field
from communal_sync.intake.synonyms import SYNONYM_INDEX, column_key

DEFAULTS_BLOCK: Final = """\
[defaults]
# default_region = "CA"   # telephone numbers written without a country code
# date_order = "dmy"      # 03/04/2001 is 3 April ("mdy": March 4); unset: ambiguous is invalid
# on_duplicate = "error"  # rows sharing an email or id: error (all invalid) | first | last
# encoding = "utf-8"      # unset: detected
# custom_fields = true    # also map columns named like a custom profile field (false: ignore them)
"""


@dataclass
class Template:
    """The text to write, and what it says, for the command's summary line."""

    text: str
    mapped: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F or not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _automatic(header: str) -> tuple[str | None, str]:
    """The field a header maps to by itself, and why; (None, "") when none."""
    stripped = header.strip()
    if stripped[: len(CUSTOM_PREFIX)].casefold() == CUSTOM_PREFIX:
        name = stripped[len(CUSTOM_PREFIX) :].strip()
        return (CUSTOM_PREFIX + name, "a custom: header") if name else (None, "")
    target = SYNONYM_INDEX.get(column_key(header))
    if target is None:
        return None, ""
    own = column_key(target) == column_key(header)
    return target, "the field's own name" if own else "a known column name"


def render_template(headers: Sequence[str], *, sample: str) -> Template:
    """The commented config for a file with ``headers`` (its name ``sample``, for comments)."""
    template = Template(text="")
    entries: list[str] = []
    comments: list[str] = []
    source_of: dict[str, str] = {}
    for index, header in enumerate(headers):
        target, why = _automatic(header)
        key = toml_string(header)
        if target is not None and target not in source_of:
            source_of[target] = header
            template.mapped[header] = target
            entries.append(f"{key} = {toml_string(target)}  # {why}")
            continue
        template.unmapped.append(header)
        if target is not None:
            comments.append(
                f"# not mapped: {key} would be {target}, which comes from "
                f"{toml_string(source_of[target])}. To take it from this column instead, move "
                f"the entry:\n# {key} = {toml_string(target)}"
            )
            continue
        lookalike = suggest_field(header) if index < SUGGESTED_COLUMNS else None
        if lookalike is not None and lookalike in source_of:
            comments.append(
                f"# not mapped: {key} looks like {lookalike}, which comes from "
                f"{toml_string(source_of[lookalike])}. To take it from this column instead, "
                f"move the entry:\n# {key} = {toml_string(lookalike)}"
            )
            continue
        guess = lookalike
        if guess is not None:
            comments.append(
                f"# not mapped: {key} looks like {guess}? If so, uncomment:\n"
                f"# {key} = {toml_string(guess)}"
            )
        else:
            comments.append(
                f"# not mapped: {key} names no Communal field. A custom profile field? Use "
                "--custom-fields (plan, push), or map it:\n"
                f"# {key} = {toml_string(CUSTOM_PREFIX + header.strip())}\n"
                f'# or another field ("<field>"), or ignore it ("").'
            )
    template.missing = [name for name in REQUIRED_FIELDS if name not in source_of]
    lines = [
        f"# communal-sync.toml, written by `communal-sync init` from the header of {sample}.",
        "# Each column is mapped to a Communal field below, or a comment says why not.",
        "# Fields: first_name, last_name, email, middle_name, preferred_name, telephone,",
        "# date_of_birth, profile_address, profile_address_line_2, profile_city,",
        "# profile_state, profile_zip, profile_country, id (the Communal user id),",
        '# external_id (your own key) and custom:<name>; "" ignores a column.',
        "# Check it with: communal-sync validate FILE --show-mapping",
        "",
        "[mapping]",
        *entries,
        *comments,
    ]
    if template.missing:
        lines.append(
            f"# missing: no column maps to {', '.join(template.missing)}, which every row "
            'needs: add "Column" = "field" for it.'
        )
    template.text = "\n".join(lines) + "\n\n" + DEFAULTS_BLOCK
    return template
