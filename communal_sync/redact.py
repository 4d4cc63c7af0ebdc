"""Masking personal values in everything printed or written when ``--redact`` is on."""

from __future__ import annotations

from typing import Final

REDACTED: Final = "•••"


def redact_value(value: str | None, redact: bool) -> str | None:
    """``value`` itself, or a mask when redacting (``None`` and blanks stay visible as such)."""
    if not redact or value is None or value == "":
        return value
    return REDACTED
