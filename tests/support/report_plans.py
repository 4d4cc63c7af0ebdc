"""Plans for the report tests: one that fills every section of the HTML and Markdown
reports, and the run outcomes that go with it."""

from __future__ import annotations

from communal_sync.plan import (
    Conflict,
    FieldChange,
    InputInfo,
    Outcome,
    Plan,
    PlanOptions,
    RowIssue,
    SkippedField,
    Unchanged,
    UserPlan,
)


def person(user_id: int, name: str, *changes: FieldChange, **more: object) -> UserPlan:
    first, _, last = name.partition(" ")
    fields: dict[str, object] = {
        "user_id": user_id,
        "line": user_id - 100,
        "matched_by": "id",
        "name": name,
        "changes": changes,
        "body": {"first_name": first, "last_name": last, "email": f"u{user_id}@example.org"},
        "source_hash": f"h-{user_id}",
    }
    fields.update(more)
    return UserPlan.model_validate(fields)


def phone(before: str, after: str) -> FieldChange:
    return FieldChange(field="telephone", before=before, after=after, provenance="live")


def first_address(value: str, field: str = "profile_address") -> FieldChange:
    return FieldChange(
        field=field, before=None, after=value, provenance="unknown", note="current unknown"
    )


def issue(line: int, kind: str, message: str) -> RowIssue:
    return RowIssue.model_validate(
        {"line": line, "kind": kind, "field": "email", "value": f"row{line}@x", "message": message}
    )


def full_plan(**overrides: object) -> Plan:
    """Every section: changes, a first-time-only user, conflicts, each issue kind, a
    locked field, a skipped duplicate, warnings and an unmapped column."""
    users = (
        person(101, "Amara Okafor", phone("+1 416 555 0101", "+1 416 555 0199")),
        person(102, "Bruno Lefèvre", first_address("480 Rue Sainte-Catherine")),
        person(
            103,
            "Chen Wei",
            phone("604-555-0103", "604-555-0199"),
            first_address("88 Pender St"),
            conflicts=(
                Conflict(
                    field="preferred_name",
                    base="C",
                    current="CW",
                    source="Chen",
                    resolution="skipped",
                ),
            ),
        ),
        person(
            104,
            "Dana Whitfield",
            phone("902-555-0104", "902-555-0199"),
            skipped=(
                SkippedField(
                    field="custom:Badge", source="A1", current="B2", reason="locked in Communal"
                ),
            ),
        ),
        person(
            105, "Elif Yilmaz", first_address("1 Main St"), first_address("Halifax", "profile_city")
        ),
    )
    fields: dict[str, object] = {
        "tool_version": "0.1.0",
        "created_at": "2026-03-25T12:00:00Z",
        "base_url": "https://api.getcommunal.com/api",
        "input": InputInfo(name="users.csv", sha256="abc", format="csv", rows=12),
        "options": PlanOptions(),
        "users": users,
        "unchanged": (Unchanged(user_id=120, line=20, verified=True, source_hash="h-120"),),
        "issues": (
            issue(30, "invalid", "Not a valid email address."),
            issue(31, "unmatched", "No Communal user is known for this row."),
            issue(32, "ambiguous", "Two users share this email."),
            issue(33, "mismatched", "The id is someone else's."),
            issue(34, "unreachable", "The user is gone."),
            issue(35, "email_cycle", "A swap no PUT can start."),
            issue(36, "duplicate", "Duplicate email; the first row wins."),
        ),
        "unmapped_columns": ("Shoe size",),
        "warnings": ("The API version is deprecated.",),
    }
    fields.update(overrides)
    return Plan.model_validate(fields)


def outcomes() -> list[Outcome]:
    """101 applied, 102 failed, 103 changed since planned; 104 and 105 never sent."""
    return [
        Outcome(user_id=101, line=1, status="applied", http_status=200),
        Outcome(user_id=102, line=2, status="failed", http_status=422, message="Bad address."),
        Outcome(user_id=103, line=3, status="conflict", message="Changed since planned."),
    ]
