"""Email addresses that can pass for another: mixed scripts and compatibility characters.

``аmara@example.org`` with a Cyrillic ``а``, ``bruno@exаmple.org``, or full-width
``ｃｈｅｎ@example.org`` look like an existing member's address and are none: pushed,
they would give someone's account an address they do not own. Following Unicode TR39
(Security Mechanisms), an address is suspect when one of its parts (the local part, or a
label of the domain) mixes letters of scripts that are not written together, or when it
holds compatibility characters (full-width and half-width forms, ligatures) that NFKC
would replace. The script of each character comes from ``confusable_homoglyphs`` (the
Unicode data), not from a table of our own. A part in one script only (``маша@почта.рф``),
and Latin with Han, Hiragana, Katakana, Bopomofo or Hangul (TR39's "highly restrictive"
combinations), are ordinary addresses.
"""

from __future__ import annotations

import functools
import unicodedata
from typing import Final

SCRIPTS_KEPT: Final = 8192
"""Distinct characters whose script is remembered (a few hundred KB at most)."""

NEUTRAL_SCRIPTS: Final = frozenset({"COMMON", "INHERITED"})
"""Digits, punctuation and combining marks: written with any script."""

WRITTEN_TOGETHER: Final = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
"""Scripts one word may mix (Japanese, Chinese, Korean with Latin), per TR39."""


@functools.lru_cache(maxsize=SCRIPTS_KEPT)
def script_of(char: str) -> str:
    """The script alias of one character ("LATIN", "CYRILLIC", "COMMON"...), remembered:
    ``categories.alias`` is a binary search in Python, and names repeat their letters."""
    from confusable_homoglyphs import categories  # its script table: only when asked

    return str(categories.alias(char))


def confusable_reason(email: str) -> str | None:
    """Why ``email`` could pass for another address, as a sentence; None when it cannot.

    Plain ASCII addresses cost one test: they can hold neither a second script nor a
    compatibility character.
    """
    if email.isascii():
        return None
    if unicodedata.normalize("NFKC", email) != email:
        odd = next(c for c in email if unicodedata.normalize("NFKC", c) != c)
        return (
            f"This email holds {unicodedata.name(odd, 'a compatibility character').lower()} "
            f"(U+{ord(odd):04X}), a look-alike of an ordinary letter, so it can pass for "
            "another address."
        )
    local, _, domain = email.rpartition("@")
    for part in (local, *domain.split(".")):
        scripts = set(map(script_of, set(part))) - NEUTRAL_SCRIPTS
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in WRITTEN_TOGETHER):
            named = " and ".join(sorted(script.title() for script in scripts))
            return (
                f"This email mixes {named} letters in {part!r}, so it can pass for another "
                "address (a look-alike letter from another alphabet)."
            )
    return None
