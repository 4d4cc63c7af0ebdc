"""JSON Schemas for Communal API 2026-08-25, written from the engineer's notes.

The 2026-08-25 OpenAPI document itself is not available here; the notes at
``../shared/communal-api/2026-08-25-notes.md`` copy its names, types, required lists and
status codes, each with a JSON pointer into the document. Every schema below cites the
pointer it came from (``POINTERS``), and says so where the notes leave something out: a
schema never claims more than the notes state. Validate with ``validate(name, value)``.

Pointers are RFC 6901 into ``docs/2026-08-25/openapi.json`` of
``communal-hub/communal-api-docs`` at commit ``0a6d446483061abcc88b84e309c57b183ad0c15e``.
"""

from __future__ import annotations

from typing import Any, Final

from openapi_schema_validator import OAS31Validator

NULLABLE_TEXT: Final = {"type": ["string", "null"]}
NULLABLE_INT: Final = {"type": ["integer", "null"]}
NULLABLE_DATE_TIME: Final = {"type": ["string", "null"], "format": "date-time"}


def typed(names: tuple[str, ...], schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: schema}`` for each name, each its own copy."""
    return {name: dict(schema) for name in names}


POINTERS: Final[dict[str, str]] = {
    # notes §1.3
    "UserMembershipResource": "/components/schemas/UserMembershipResource",
    # notes §1.1: every paginated list in the document uses this envelope
    "UserMembershipPage": (
        "/paths/~1user_memberships/get/responses/200/content/application~1json/schema"
    ),
    # notes §1.1 parameters
    "user_memberships.parameters": "/paths/~1user_memberships/get/parameters",
    # notes §5
    "TransactionResource": "/components/schemas/TransactionResource/properties/owner",
    "TransactionPage": "/paths/~1transactions/get/responses/200",
    "TransactionShow": "/paths/~1transactions~1{transaction}/get",
    "transactions.parameters": "/paths/~1transactions/get/parameters",
    # notes §2.3, §2.4
    "User": "/components/schemas/User",
    "UserResource": "/components/schemas/UserResource",
    # notes §3
    "ProgramSignupResource": "/components/schemas/ProgramSignupResource",
    "ProgramSignupPage": "/paths/~1program_signups/get/responses/200",
    "program_signups.parameters": "/paths/~1program_signups/get/parameters/5",
    # notes §6: shared error responses
    "ValidationException": "/components/responses/ValidationException",
    "MessageOnly": "/components/responses/AuthenticationException",
}


def envelope(item: dict[str, Any]) -> dict[str, Any]:
    """The Laravel page, every key at the top level and all seven required (notes §1.1).

    No ``links``, ``meta``, ``first_page_url``, ``next_page_url`` or ``path``: the notes
    say the document has none of them, so none is allowed here.
    """
    return {
        "type": "object",
        "required": ["data", "current_page", "from", "last_page", "per_page", "to", "total"],
        "properties": {
            "data": {"type": "array", "items": item},
            "current_page": {"type": "integer", "minimum": 1},
            "from": {"type": ["integer", "null"], "minimum": 1},
            "last_page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "to": {"type": ["integer", "null"], "minimum": 1},
            "total": {"type": "integer", "minimum": 0},
        },
        "not": {
            "anyOf": [
                {"required": [name]}
                for name in ("links", "meta", "first_page_url", "next_page_url", "path")
            ]
        },
    }


MEMBERSHIP_REQUIRED: Final = (
    "id", "user_id", "status", "will_auto_renew", "ends_at", "renewed_at", "created_at",
)  # fmt: skip
USER_MEMBERSHIP_RESOURCE: Final = {
    "type": "object",
    "required": list(MEMBERSHIP_REQUIRED),
    "properties": {
        "id": {"type": "integer"},
        "user_id": {"type": "integer"},
        "status": {"type": "string"},
        "will_auto_renew": {"type": "boolean"},
        "ends_at": NULLABLE_TEXT,
        "renewed_at": NULLABLE_TEXT,
        "created_at": NULLABLE_TEXT,
        "membership_type": {
            "type": "object",
            "required": ["id", "title"],
            "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
        },
        "plan": {
            "type": ["object", "null"],
            "required": ["id", "nickname", "amount", "interval"],
            "properties": {
                "id": {"type": "integer"},
                "nickname": NULLABLE_TEXT,
                "amount": {"type": "integer"},
                "interval": {"type": "string"},
            },
        },
    },
}

TRANSACTION_RESOURCE: Final = {
    # Only ``owner`` is in the notes (§5); the resource's other properties are not.
    "type": "object",
    "required": ["owner"],
    "properties": {
        "owner": {
            "type": ["object", "null"],
            "required": ["id", "user_id", "email", "name"],
            "properties": {
                "id": {"type": "integer"},
                "user_id": NULLABLE_INT,
                "email": NULLABLE_TEXT,
                "name": {"type": "string"},
            },
        }
    },
}

USER_RESOURCE: Final = {
    "type": "object",
    "required": ["id", "name", "email", "date_of_birth"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        **{
            name: {"type": "string"}
            for name in ("telephone", "first_name", "middle_name", "last_name", "preferred_name")
        },
        "date_of_birth": NULLABLE_TEXT,
        "created_at": NULLABLE_TEXT,
        "updated_at": NULLABLE_TEXT,
        "subscriptions": {"type": "string"},
        "family": {"type": "array"},
    },
}

USER_BOOLEANS: Final = (
    "email_locked", "requires_password_reset", "uses_two_factor_auth", "manager", "can_use_card",
    "is_communal_admin",
)  # fmt: skip
USER_DATE_TIMES: Final = (
    "date_of_birth", "trial_ends_at", "created_at", "updated_at", "deleted_timestamp",
    "anonymized_at",
)  # fmt: skip
USER_NULLABLE_TEXT: Final = (
    "first_name", "last_name", "middle_name", "preferred_name", "photo_url", "telephone",
    "work_phone", "stripe_id", "current_billing_plan", "billing_state", "vat_id",
    "profile_address", "profile_address_line_2", "profile_city", "profile_state", "profile_zip",
    "profile_country", "places_id", "last_read_announcements_at", "timezone", "member_id",
    "card_id", "business_name", "referrer",
)  # fmt: skip
_USER_TYPES: Final[dict[str, dict[str, Any]]] = {
    **typed(("id", "status"), {"type": "integer"}),
    **typed(("tenant_id", "current_team_id", "family_id", "account_id"), NULLABLE_INT),
    **typed(("name", "email", "active", "two_factor_enabled"), {"type": "string"}),
    **typed(USER_BOOLEANS, {"type": "boolean"}),
    **typed(USER_DATE_TIMES, NULLABLE_DATE_TIME),
    **typed(USER_NULLABLE_TEXT, NULLABLE_TEXT),
    **typed(
        ("base_membership_plan", "membership_start_date", "readable_membership_start_date"),
        {"type": "null"},
    ),
}
USER: Final = {
    # notes §2.3: "required lists all 49 properties"
    "type": "object",
    "required": sorted(_USER_TYPES),
    "properties": _USER_TYPES,
}

SIGNUP_NULLABLE_IDS: Final = (
    "user_id", "guest_id", "additional_member_id", "transaction_id", "subscription_schedule_id",
    "parent_program_id",
)  # fmt: skip
SIGNUP_INTEGERS: Final = ("paid", "amount_paid", "amount_refunded", "number_of_guests", "quantity")
SIGNUP_NULLABLE_TEXT: Final = (
    "ticket_uuid", "product_id", "payment_method", "associated_email", "associated_name",
    "associated_address", "associated_telephone", "participant_name", "participant_dob",
    "additional_member_name", "additional_member_dob", "additional_member_gender_identity",
    "additional_member_medical", "additional_member_emergency_contact", "deleted_timestamp",
    "list_of_activities", "program_name", "cancelled_at", "cancellation_actor",
)  # fmt: skip
SIGNUP_RELATIONS: Final = (
    "user", "guest", "additional_member", "program", "transaction", "files", "form_submissions",
    "subscription_schedule", "attendance_records",
)  # fmt: skip
"""Relation placeholders the document types as strings (filled by ``include=``)."""
PROGRAM_SIGNUP_RESOURCE: Final = {
    # notes §3. The notes give the types, and of the required list only what changed
    # (it gains cancelled_at and cancellation_actor): those and the ids are required here.
    "type": "object",
    "required": ["id", "program_id", "cancelled_at", "cancellation_actor"],
    "properties": {
        "id": {"type": "integer"},
        "program_id": {"type": "integer"},
        **typed(SIGNUP_NULLABLE_IDS, NULLABLE_INT),
        **typed(SIGNUP_INTEGERS, {"type": "integer"}),
        **typed(SIGNUP_NULLABLE_TEXT, NULLABLE_TEXT),
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "program_free": {"type": ["boolean", "null"]},
        **typed(SIGNUP_RELATIONS, {"type": "string"}),
    },
}

VALIDATION_EXCEPTION: Final = {
    "type": "object",
    "required": ["message", "errors"],
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}
MESSAGE_ONLY: Final = {
    # AuthenticationException, AuthorizationException, ModelNotFoundException (notes §6)
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}

SCHEMAS: Final[dict[str, dict[str, Any]]] = {
    "UserMembershipResource": USER_MEMBERSHIP_RESOURCE,
    "UserMembershipPage": envelope(USER_MEMBERSHIP_RESOURCE),
    "TransactionResource": TRANSACTION_RESOURCE,
    "TransactionPage": envelope(TRANSACTION_RESOURCE),
    "TransactionShow": {
        "type": "object",
        "required": ["data"],
        "properties": {"data": TRANSACTION_RESOURCE},
    },
    "User": USER,
    "UserResource": USER_RESOURCE,
    "ProgramSignupResource": PROGRAM_SIGNUP_RESOURCE,
    "ProgramSignupPage": envelope(PROGRAM_SIGNUP_RESOURCE),
    "ValidationException": VALIDATION_EXCEPTION,
    "MessageOnly": MESSAGE_ONLY,
}

PARAMETERS: Final[dict[str, dict[str, dict[str, Any]]]] = {
    # /paths/~1user_memberships/get/parameters/0..6 (notes §1.1)
    "/user_memberships": {
        "filter[user_id]": {"type": "integer"},
        "filter[active]": {"type": "boolean"},
        "filter[expired]": {"type": "boolean"},
        "filter[expires_starting_at]": {"type": "string", "format": "date-time"},
        "filter[expires_ending_at]": {"type": "string", "format": "date-time"},
        "page[number]": {"type": "integer", "minimum": 1},
        "page[size]": {"type": "integer", "minimum": 1, "maximum": 500},
    },
    # /paths/~1transactions/get/parameters/4, 10, 17, 18 (notes §5): no min, max, default
    "/transactions": {
        "filter[query]": {"type": "string"},
        "filter[user_id]": {"type": "integer"},
        "page[number]": {"type": "integer"},
        "page[size]": {"type": "integer"},
    },
    # /paths/~1program_signups/get/parameters/2, 3, 5, 14 (notes §3)
    "/program_signups": {
        "filter[user_id]": {"type": "integer"},
        "filter[query]": {"type": "string"},
        "filter[signup_status]": {
            "type": "string",
            "enum": ["active", "cancelled", "cancelled:member", "cancelled:admin"],
        },
        "include": {"type": "string"},
    },
}
"""Query parameters of each new or changed list, by name. The notes type them; a query
string carries text, so a value is checked after reading it as the type says."""


def validate(name: str, instance: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` fits schema ``name``."""
    OAS31Validator(SCHEMAS[name], format_checker=OAS31Validator.FORMAT_CHECKER).validate(instance)


def validate_query(path: str, query: dict[str, str]) -> None:
    """Raise unless every parameter of ``query`` is documented for ``path`` and fits its
    schema (integers and booleans read from their text as a server would)."""
    documented = PARAMETERS[path]
    unknown = sorted(set(query) - set(documented))
    if unknown:
        raise AssertionError(f"{path}: undocumented parameters {unknown}")
    for parameter, text in query.items():
        schema = documented[parameter]
        value: Any = text
        if schema["type"] == "integer":
            if not text.lstrip("-").isdigit():
                raise AssertionError(f"{path}: {parameter}={text!r} is not an integer")
            value = int(text)
        elif schema["type"] == "boolean":
            if text not in ("true", "false", "1", "0"):
                raise AssertionError(f"{path}: {parameter}={text!r} is not a boolean")
            value = text in ("true", "1")
        OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER).validate(value)
