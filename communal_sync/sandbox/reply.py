"""A response the sandbox will send: status, headers and an already-encoded body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=UTF-8"


@dataclass
class Reply:
    """One HTTP response, independent of the socket it goes to."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        """A compact UTF-8 JSON response."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return cls(status=status, body=body, headers=dict(headers or {}))

    @classmethod
    def message(cls, status: int, text: str, **extra: Any) -> Reply:
        """The ``{"message": ...}`` body every Laravel error has, plus any extra keys."""
        return cls.json(status, {"message": text, **extra})
