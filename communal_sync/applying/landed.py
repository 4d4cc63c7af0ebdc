"""Did a write land? Judging, on resume, a PUT whose answer an earlier attempt never got.

A resumed run (or a saved plan applied later) re-reads each user before writing. When the
record moved since planning, either someone else edited it or our own earlier PUT landed
just before a crash; ``already_holds`` tells the two apart from what a GET shows and from
the intent the journal kept for that PUT, and ``as_landed`` is the record it then leaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from communal_sync.api.models import User
from communal_sync.planning.diff import same_value

FOUND_NOTE: Final = "found already applied"
"""The journal's note on a PUT not sent because Communal already held its whole body."""
LANDED_NOTE: Final = "found already applied (sent by an earlier attempt that stopped)"
"""The journal's note on a PUT an earlier attempt sent without learning the outcome."""
FOUND_MESSAGE: Final = "Communal already held these values; nothing was sent."
LANDED_MESSAGE: Final = (
    "Sent by an earlier attempt that stopped before its answer; Communal shows it landed, "
    "so it was not sent again."
)


def already_holds(
    live: User, body: Mapping[str, str | None], *, region: str | None, in_flight: bool
) -> bool:
    """Whether Communal already holds ``body``, judged from a fresh GET of the user.

    Every body field the GET shows must hold the body's value (cosmetics aside). GET never
    shows the address fields (``UserResource`` has none; only a PUT's ``User`` does), so
    for those there is nothing to compare, and the journal decides:

    - Without ``in_flight`` this run never sent this body: a hidden field cannot be
      vouched for, and the answer is False (the caller reports a conflict).
    - With ``in_flight`` an earlier attempt journalled its intent to send exactly this
      body and never learned the outcome (killed, or no answer). The caller asks only
      because ``updated_at`` moved since planning, so *something* wrote the user. A PUT
      is validated and saved whole or not at all, so if that write was our PUT, the
      hidden fields hold the body's values exactly as the shown ones do. Every shown
      field matching is then taken as our PUT having landed. The rule errs only when
      our PUT never reached Communal (the intent is written just before sending; a
      connection that certainly never opened clears it) and, in that same window,
      someone else edited the user and left every shown field of our body at our
      values: the address is then journalled as landed though it is not, and later
      pushes of an unchanged row will not resend it. Nothing is overwritten or sent
      twice either way. Comparing the PUT's own answer (its ``updated_at``) with the
      GET's would settle it, but that answer is exactly what a crash loses.
    """
    values = live.raw()
    provided = live.provided_fields()
    shown = [name for name in body if name in provided]
    if len(shown) < len(body) and not in_flight:
        return False
    return all(same_value(name, values.get(name), body[name], region=region) for name in shown)


def as_landed(live: User, body: Mapping[str, str | None]) -> dict[str, Any]:
    """The user as our landed PUT left it: the GET's fields, plus the body's hidden ones."""
    provided = live.provided_fields()
    return {**live.raw(), **{k: v for k, v in body.items() if k not in provided}}
