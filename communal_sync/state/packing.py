"""How the state file stores JSON it reads rarely: compact, compressed, and never twice.

A snapshot's ``User`` (about 50 keys, most of them null), a result's before and after
images, a run's plan: stored as canonical JSON they were 72 MB for a first push of 10,000
users. Each is now one BLOB: a format byte, then the canonical JSON deflated (raw, no
header) against ``ZDICT``, a preset dictionary of the keys and values such records repeat,
so even a 300-byte record shrinks to its distinct values. Sha-256 hex digests are stored as
their 32 bytes. Readers take both forms, so rows written before schema 5 (text) still read.

``ZDICT`` is part of the file format: blobs written with it can only be read with it.
Never edit it; to change it, add a new format byte and keep the old dictionary readable.
"""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from communal_sync.hashing import canonical_json

FORMAT_DEFLATE_V1: Final = 1
"""The first byte of a packed value: raw deflate against ``ZDICT`` (version 1)."""

LEVEL: Final = 6
WBITS: Final = -15
"""Raw deflate (no zlib header or checksum: SQLite pages carry their own integrity) with
the full 32 KiB window, so a whole plan compresses across its users."""

_USER_TEMPLATE: Final = (
    '{"account_id":null,"active":"active","anonymized_at":null,"base_membership_plan":null,'
    '"billing_state":null,"business_name":null,"can_use_card":false,"card_id":null,'
    '"created_at":"2026-01-01T00:00:00.000000Z","current_billing_plan":null,'
    '"current_team_id":null,"date_of_birth":"","deleted_timestamp":null,"email":"",'
    '"email_locked":false,"family_id":null,"first_name":"","id":,"is_communal_admin":false,'
    '"last_name":"","last_read_announcements_at":null,"manager":false,"member_id":null,'
    '"membership_start_date":null,"middle_name":null,"name":"","photo_url":null,'
    '"places_id":null,"preferred_name":null,"profile_address":"","profile_address_line_2":'
    'null,"profile_city":"","profile_country":"","profile_state":"","profile_zip":"",'
    '"readable_membership_start_date":null,"referrer":null,"requires_password_reset":false,'
    '"status":1,"stripe_id":null,"telephone":"","tenant_id":1,"timezone":null,'
    '"trial_ends_at":null,"two_factor_enabled":false,"updated_at":"2026-","uses_two_factor_auth":'
    'false,"vat_id":null,"work_phone":null}'
)
_PLAN_TEMPLATE: Final = (
    '{"body":{"email":"","first_name":"","last_name":"","profile_address":"",'
    '"profile_city":"","profile_country":"","profile_state":"","profile_zip":"",'
    '"telephone":""},"changes":[{"after":"","before":null,"field":"","note":"current unknown",'
    '"provenance":"unknown"},{"after":"","before":"","field":"telephone","note":null,'
    '"provenance":"live"}],"conflicts":[],"custom_writes":[],"email_after":null,'
    '"email_change":null,"external_id":null,"line":,"matched_by":"id","name":"",'
    '"pushed":{"date_of_birth":"","email":"","first_name":"","last_name":""},'
    '"skipped":[],"source_hash":"","temporary_email":null,"updated_at":"2026-","user_id":}'
)
_IMAGE_TEMPLATE: Final = (
    '[{"fields":{"email":"","first_name":"","last_name":"","profile_city":"",'
    '"telephone":""},"unknown":["profile_address","profile_city","profile_state",'
    '"profile_zip","profile_country"],"unverified":[],"updated_at":"2026-"},'
    '{"date_of_birth":"","email":"","first_name":"","id":,"last_name":"","updated_at":"2026-"}]'
)
ZDICT: Final = (_PLAN_TEMPLATE + _IMAGE_TEMPLATE + _USER_TEMPLATE).encode("utf-8")
"""The preset dictionary (most frequent last, where deflate reaches it most cheaply)."""

_HEX_DIGEST: Final = re.compile(r"[0-9a-f]{64}")


def pack(value: Any) -> bytes:
    """``value`` (JSON-able) as a packed BLOB: the format byte, then its deflated JSON."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, zdict=ZDICT)
    data = canonical_json(value).encode("utf-8")
    return bytes((FORMAT_DEFLATE_V1,)) + compressor.compress(data) + compressor.flush()


def pack_or_none(value: Any | None) -> bytes | None:
    """``pack(value)``, or None for None (a NULL column)."""
    return None if value is None else pack(value)


def unpack(stored: bytes | str) -> Any:
    """The JSON value of a column: a packed BLOB, or JSON text written before schema 5."""
    if isinstance(stored, str):
        return json.loads(stored)
    if not stored or stored[0] != FORMAT_DEFLATE_V1:
        raise ValueError("unknown packed format")
    decompressor = zlib.decompressobj(WBITS, zdict=ZDICT)
    return json.loads(decompressor.decompress(stored[1:]) + decompressor.flush())


def unpack_or_none(stored: bytes | str | None) -> Any | None:
    """``unpack(stored)``, or None for a NULL column."""
    return None if stored is None else unpack(stored)


def pack_text(text: str) -> bytes:
    """Text already in JSON form (a plan's ``model_dump_json``), packed without re-encoding."""
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, zdict=ZDICT)
    return bytes((FORMAT_DEFLATE_V1,)) + compressor.compress(text.encode()) + compressor.flush()


def unpack_text(stored: bytes | str) -> str:
    """The JSON text of a column written by ``pack_text`` (or as text before schema 5)."""
    if isinstance(stored, str):
        return stored
    if not stored or stored[0] != FORMAT_DEFLATE_V1:
        raise ValueError("unknown packed format")
    decompressor = zlib.decompressobj(WBITS, zdict=ZDICT)
    return (decompressor.decompress(stored[1:]) + decompressor.flush()).decode("utf-8")


def pack_digest(digest: str | None) -> bytes | str | None:
    """A sha-256 hex digest as its 32 bytes; anything else (None, another form) as it is."""
    if digest is not None and _HEX_DIGEST.fullmatch(digest):
        return bytes.fromhex(digest)
    return digest


def unpack_digest(stored: bytes | str | None) -> str | None:
    """The hex digest of a column written by ``pack_digest`` (or as text)."""
    if isinstance(stored, bytes):
        return stored.hex()
    return stored


FORMAT_SNAPSHOT_V2: Final = 2
"""The first byte of a snapshot record since schema 8: its values by position
(``SNAPSHOT_FIELDS``), raw deflate against ``SNAPSHOT_ZDICT``."""

SNAPSHOT_FIELDS: Final = (
    "first_name",
    "last_name",
    "email",
    "middle_name",
    "preferred_name",
    "telephone",
    "date_of_birth",
    "profile_address",
    "profile_address_line_2",
    "profile_city",
    "profile_state",
    "profile_zip",
    "profile_country",
)
"""The positions of a format-2 snapshot record: the profile fields as schema 8 knew them.
Part of the file format like ``ZDICT``: never reorder it; a field added later goes in the
record's ``extra`` objects (or a new format byte)."""

ABSENT: Final = 0
"""A position whose field the snapshot does not hold (a stored value is text or null)."""

SAME: Final = 1
"""A position of the user part whose value is the pushed value at the same position."""

_SNAPSHOT_TEMPLATE: Final = (
    '[["","","@gmail.com",null,null,"","T00:00:00.000000Z","",null,"","","",""],'
    "[1,1,1,null,null,1,1,1,null,1,1,1,1],{},{},null,1]"
)
SNAPSHOT_ZDICT: Final = ZDICT + _SNAPSHOT_TEMPLATE.encode("utf-8")
"""The preset dictionary of format 2 (never edit it, as ``ZDICT``)."""


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, str)


def pack_snapshot(
    user: dict[str, Any],
    pushed: dict[str, Any],
    external_id: str | None,
    pushed_email: str | None,
) -> bytes:
    """A snapshot's record in format 2: what the three-way diff reads and nothing else.

    The pushed values (the diff's base) by position, the user's profile fields by
    position (``SAME`` where the PUT returned what we sent, as it almost always does:
    stored once), whatever does not fit a position (custom fields, a non-text value) in
    two small objects, then the external id and the pushed email (``SAME`` when it is the
    pushed ``email``). The user's other keys (ids, flags, timestamps) are not kept: no
    reader looks at them, GET shows them again.
    """
    pushed_at: list[Any] = []
    user_at: list[Any] = []
    pushed_extra = {k: v for k, v in pushed.items() if k not in SNAPSHOT_FIELDS}
    user_extra = {k: v for k, v in user.items() if k not in SNAPSHOT_FIELDS}
    for name in SNAPSHOT_FIELDS:
        if name in pushed and _is_plain(pushed[name]):
            pushed_at.append(pushed[name])
        else:
            pushed_at.append(ABSENT)
            if name in pushed:
                pushed_extra[name] = pushed[name]
        if name not in user:
            user_at.append(ABSENT)
        elif name in pushed and _is_plain(pushed[name]) and user[name] == pushed[name]:
            user_at.append(SAME)
        elif _is_plain(user[name]):
            user_at.append(user[name])
        else:
            user_at.append(ABSENT)
            user_extra[name] = user[name]
    same_email = pushed_email is not None and pushed_email == pushed.get("email")
    record: list[Any] = [
        pushed_at,
        user_at,
        pushed_extra,
        user_extra,
        external_id,
        SAME if same_email else pushed_email,
    ]
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, zdict=SNAPSHOT_ZDICT)
    data = canonical_json(record).encode("utf-8")
    return bytes((FORMAT_SNAPSHOT_V2,)) + compressor.compress(data) + compressor.flush()


def unpack_snapshot(stored: bytes) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    """(user, pushed, external id, pushed email) of a format-2 record (``pack_snapshot``)."""
    if not stored or stored[0] != FORMAT_SNAPSHOT_V2:
        raise ValueError("unknown packed format")
    decompressor = zlib.decompressobj(WBITS, zdict=SNAPSHOT_ZDICT)
    data = decompressor.decompress(stored[1:]) + decompressor.flush()
    pushed_at, user_at, pushed_extra, user_extra, external_id, email = json.loads(data)
    pushed: dict[str, Any] = {}
    user: dict[str, Any] = {}
    for name, value, held in zip(SNAPSHOT_FIELDS, pushed_at, user_at, strict=False):
        # A position holds text, null, or one of the two integer marks.
        if value is None or isinstance(value, str):
            pushed[name] = value
        if held == SAME and isinstance(held, int):
            user[name] = value
        elif held is None or isinstance(held, str):
            user[name] = held
    pushed.update(pushed_extra)
    user.update(user_extra)
    if isinstance(email, int):  # SAME
        email = pushed.get("email")
    return user, pushed, external_id, email


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def pack_time(moment: datetime | str) -> int:
    """A time as whole microseconds since 1970 (UTC): 8 bytes, not 32 of ISO text, and
    exact (``unpack_time`` gives the same instant back). A naive time is taken as UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def unpack_time(stored: int | str) -> datetime:
    """The UTC time of a column written by ``pack_time`` (or as ISO text before schema 8)."""
    if isinstance(stored, str):
        return datetime.fromisoformat(stored)
    return _EPOCH + timedelta(microseconds=stored)
