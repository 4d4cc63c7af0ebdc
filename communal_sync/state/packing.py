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
