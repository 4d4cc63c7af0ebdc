"""A plan saved by ``plan --out``: reading it back, and checking it still fits before ``apply``.

The plan is refused when its export changed since planning or it was made against another
API; a file that is not a plan of this version is an input error naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from communal_sync.api.settings import is_loopback_host
from communal_sync.errors import InputError, RefusedError
from communal_sync.hashing import file_sha256
from communal_sync.plan import PLAN_FORMAT_VERSION, Plan


def load_plan_file(path: Path) -> Plan:
    """Read a saved plan; a file that is not one is an InputError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the plan ({error.strerror}).", file=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"is not valid JSON ({error.msg}).",
            file=str(path),
            line=error.lineno,
            hint="Save a plan with `communal-sync plan FILE --out plan.json`.",
        ) from None
    if not isinstance(data, dict) or data.get("format_version") != PLAN_FORMAT_VERSION:
        raise InputError(
            "is not a communal-sync plan of this version.",
            file=str(path),
            hint="Make a new one with `communal-sync plan FILE --out plan.json`.",
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"is not a valid plan ({where}: {first['msg']}).",
            file=str(path),
            hint="Was it edited by hand? Make a new one with `communal-sync plan`.",
        ) from None


def check_input_unchanged(plan: Plan, *, warn: Callable[[str], None]) -> None:
    """Refuse a plan whose input file has changed since it was planned."""
    if plan.input.sha256 is None:
        return
    source = Path(plan.input.path or plan.input.name)
    if not source.is_file():
        warn(f"The planned input {source} is not there; its checksum was not checked.")
        return
    if file_sha256(source) != plan.input.sha256:
        raise RefusedError(
            f"{plan.input.name} has changed since this plan was made; nothing was sent. "
            "Plan again to see the current changes."
        )


def check_same_api(plan: Plan, base_url: str) -> None:
    """Refuse to send a plan to a different API than the one it was made against."""
    if plan.base_url == base_url:
        return
    planned_host = plan.base_url.split("//", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if is_loopback_host(planned_host) and base_url.startswith(("http://127.", "http://localhost")):
        return  # both ends are local sandboxes, whose ports change from run to run
    raise RefusedError(
        f"This plan was made against {plan.base_url}, not {base_url}; nothing was sent."
    )
