"""Stable fingerprints of JSON values and files.

One canonical JSON form (sorted keys, no spaces, UTF-8 text) so that the same row or the
same request body always hashes the same, whichever process or dict order produced it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FILE_HASH_CHUNK_BYTES = 1 << 20
"""Read files in 1 MiB pieces, so hashing a large export does not load it into memory."""


def canonical_json(obj: object) -> str:
    """Render a JSON value in the one canonical form ``canonical_hash`` digests.

    NaN and infinities are refused (``ValueError``): they have no JSON spelling, so they
    would make two equal-looking values hash differently across tools.
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_hash(obj: object) -> str:
    """Return the sha256 hex digest of ``obj``'s canonical JSON.

    Used for source-row hashes (skip rows unchanged since the last push) and request-body
    hashes (never send the same body twice on resume). Raises ``TypeError`` for values
    JSON cannot express (dates, Decimals): convert them to text first.
    """
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """Return the sha256 hex digest of a file's bytes, read in chunks.

    Recorded with each run so ``apply`` and ``--resume`` can tell whether the input changed.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(FILE_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
