"""Canonical hashes: the same value hashes the same whatever its key order."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from communal_sync.hashing import canonical_hash, canonical_json, file_sha256


def test_key_order_does_not_change_the_hash() -> None:
    assert canonical_hash({"b": 1, "a": [1, "x"]}) == canonical_hash({"a": [1, "x"], "b": 1})


def test_canonical_json_is_compact_sorted_utf8() -> None:
    assert canonical_json({"b": "Zoë", "a": None}) == '{"a":null,"b":"Zoë"}'
    assert (
        canonical_hash({"b": "Zoë", "a": None})
        == hashlib.sha256('{"a":null,"b":"Zoë"}'.encode()).hexdigest()
    )


def test_different_values_hash_differently() -> None:
    assert canonical_hash({"zip": "02139"}) != canonical_hash({"zip": "2139"})
    assert canonical_hash({"zip": "1"}) != canonical_hash({"zip": 1})


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        canonical_hash({"x": math.nan})


def test_file_hash_is_sha256_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    content = b"id,email\n" + b"1,a@example.org\n" * 100_000
    path.write_bytes(content)
    assert file_sha256(path) == hashlib.sha256(content).hexdigest()
