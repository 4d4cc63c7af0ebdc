"""Identity: which Communal user each row is.

``match_row`` finds a row's user by its id column, the identity map (external id, then
email) or, when asked, an exact program-signup search, and reports a row that matches no
one or several people; ``identity_mismatch`` tells a match that shares no name or email
with the row. ``link`` loads the identity map from a file (``link_file`` reads it).
"""

from communal_sync.identity.link import LinkResult, apply_links, open_link_file, read_links
from communal_sync.identity.match import IdentityLookup, Match, identity_mismatch, match_row

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
