"""Identity: which Communal user each row is.

``match_row`` finds a row's user by its id column, the identity map (external id, then
email) or, when asked, an exact program-signup search, and reports a row that matches no
one or several people; ``identity_mismatch`` tells a match that shares no name or email
with the row. ``link`` loads the identity map from a file (``link_file`` reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from communal_sync.lazy_exports import LazyExports

if TYPE_CHECKING:
    from communal_sync.identity.link import LinkResult, apply_links, open_link_file, read_links
    from communal_sync.identity.match import IdentityLookup, Match, identity_mismatch, match_row

_EXPORTS = LazyExports(
    __name__,
    {
        "link": ("LinkResult", "apply_links", "open_link_file", "read_links"),
        "match": ("IdentityLookup", "Match", "identity_mismatch", "match_row"),
    },
)


def __getattr__(name: str) -> object:
    """Import a name's module on first use: importing one module of this package does not
    import the others (start-up, see ``communal_sync.lazy_exports``)."""
    return _EXPORTS.load(name)


__all__ = [
    "IdentityLookup",
    "LinkResult",
    "Match",
    "apply_links",
    "identity_mismatch",
    "match_row",
    "open_link_file",
    "read_links",
]
