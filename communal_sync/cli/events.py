"""``--log-format json``: one JSON object per line on stderr, for cron and log shippers.

In the default text mode nothing is emitted here (the rich output says it all); in JSON
mode warnings and errors are events too, so stderr is machine-readable line by line.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from communal_sync.display import json_safe

LogFormat = Literal["text", "json"]

_format: LogFormat = "text"


def configure(log_format: LogFormat) -> None:
    """Choose how events and messages go to stderr for the rest of the process."""
    global _format
    _format = log_format


def json_mode() -> bool:
    """Whether stderr carries JSON events (``--log-format json``)."""
    return _format == "json"


def emit(event: str, **fields: Any) -> None:
    """Write one event line to stderr in JSON mode; do nothing in text mode."""
    if _format != "json":
        return
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
    record.update(fields)
    # Valid JSON, but no raw control or bidi character reaches a terminal reading stderr.
    sys.stderr.write(json_safe(json.dumps(record, ensure_ascii=False, default=str)) + "\n")
    sys.stderr.flush()
