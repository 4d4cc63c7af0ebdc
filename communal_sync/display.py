"""How any value from an export or from the API is shown: cut to a fixed length, and with
the characters a terminal would obey escaped.

Every table, report, message and log line that quotes a value goes through here:

- ``cut`` keeps the first ``SHOWN_VALUE_CHARS`` characters and says how long the value
  was, so a 50 MB cell prints a line, not 165 MB of table borders (rich splits a folded
  cell's text into lines with one ``str.partition`` per line over the rest of the text,
  which is quadratic in the length of the cell: 4 MB took 26 s);
- ``for_terminal`` writes control characters (C0, DEL, C1 such as the one-byte CSI
  ``\\x9b``), line and paragraph separators, bidi embedding/override/isolate controls and
  lone surrogates as visible escapes (``\\x1b``), so a cell holding ``ESC[2J`` or an OSC 8
  link cannot clear the screen, plant a link or reorder a line;
- ``shown`` does both: what a terminal table cell gets.

Pure functions of text: the core calls ``cut`` (reports, plans), the CLI ``shown``.
"""

from __future__ import annotations

import re
from typing import Final, overload

SHOWN_VALUE_CHARS: Final = 200
"""Characters of a value shown before it is cut."""

MESSAGE_CHARS: Final = 2000
"""Characters of a message (an error line, a reason) shown before it is cut."""

_CUT_TAIL: Final = re.compile(r"… \(\d+ characters\)\Z")
_CUT_TAIL_MAX: Final = 40
"""No cut value's tail ("… (123456789 characters)") is longer than this."""

_UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""Characters a terminal acts on, or that make one line look like another."""


@overload
def cut(value: str, limit: int = SHOWN_VALUE_CHARS) -> str: ...
@overload
def cut(value: None, limit: int = SHOWN_VALUE_CHARS) -> None: ...
def cut(value: str | None, limit: int = SHOWN_VALUE_CHARS) -> str | None:
    """``value`` whole up to ``limit`` characters, else its start and its length.

    A value cut already (a plan keeps invalid values cut) is left as it is, so the length
    it names stays the original one.
    """
    if value is None or len(value) <= limit:
        return value
    tail = _CUT_TAIL.search(value, len(value) - _CUT_TAIL_MAX)
    if tail is not None and tail.start() <= limit:
        return value
    return f"{value[:limit]}… ({len(value)} characters)"


def for_terminal(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def shown(value: str | None, limit: int = SHOWN_VALUE_CHARS) -> str:
    """A value as a terminal shows it: cut, then escaped ("" for None)."""
    return "" if value is None else for_terminal(cut(value, limit))


def json_safe(line: str) -> str:
    """A JSON text with the same characters escaped as ``\\uXXXX`` (still valid JSON)."""
    if _UNSAFE.search(line) is None:
        return line
    return _UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", line)


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")
