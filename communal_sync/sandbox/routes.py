"""The sandbox's ``/api``: version header, routing, bearer keys, and one handler per endpoint.

Checks run in the order the real (Laravel) API runs them: the ``X-Api-Version`` header
first (an unsupported one is a 400 even without a key), then routing (404/405), then the
bearer key (401), then the record lookup (404), then authorization (403), then validation
(422). Member keys may read and write only their own user, their own custom field values
(and only where the field is ``user_editable``) and their own signups; manager keys may do
anything the API allows. A ``locked`` custom field refuses every write with a 403.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from communal_sync.sandbox import activity
from communal_sync.sandbox.query import (
    UNAUTHORIZED,
    id_filters,
    includes,
    invalid,
    visible_users,
)
from communal_sync.sandbox.reply import Reply
from communal_sync.sandbox.resources import (
    VERSION_2026_08_25,
    paginate,
    render_field,
    render_signup,
    render_user,
    render_user_resource,
    render_value,
)
from communal_sync.sandbox.rules import (
    Errors,
    as_e164,
    prepare_input,
    validate_user_update,
    validate_value_write,
)
from communal_sync.sandbox.store import Caller, Record, Store

DEFAULT_VERSION: Final = VERSION_2026_08_25
"""The version served when a request names none: Communal's default since 2026-09."""
SUPPORTED_VERSIONS: Final = ("2026-02-01", "2026-03-25", VERSION_2026_08_25)
SUNSETS: Final = {"2026-02-01": "Wed, 01 Jul 2026 00:00:00 GMT"}
"""Deprecated versions and when they stop being served (an RFC 9110 HTTP-date)."""
VERSION_SOURCE_HEADER: Final = "X-Api-Version-Source"
"""Says whether the version served came from the request (``header``) or is the default."""

USER_MODEL: Final = "App\\Models\\User"
CLEARED: Final = {"message": "Profile field cleared"}
VALUE_MISSING: Final = "Resource missing."
LOCKED: Final = "This profile field is locked."
SIGNUP_STATUSES: Final = ("active", "cancelled", "cancelled:member", "cancelled:admin")
"""``filter[signup_status]`` values (2026-08-25); ``active`` is the default."""


@dataclass(frozen=True)
class ApiRequest:
    """One request to ``/api``, parsed: headers keyed in lower case, the JSON body or None."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any = None
    version: str = DEFAULT_VERSION
    """The version this request is answered in (set by ``Api.handle``)."""


Handler = Callable[[Caller, ApiRequest, str], Reply]


def requested_version(headers: Mapping[str, str]) -> str | None:
    """The version a request asks for (``X-Api-Version``, else ``Api-Version``), if any."""
    return headers.get("x-api-version") or headers.get("api-version") or None


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The key in ``Authorization: Bearer <key>`` (the scheme is case-insensitive)."""
    scheme, _, key = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


class Api:
    """Answers ``/api`` requests from a ``Store``; the caller holds the sandbox lock."""

    def __init__(self, store: Store, *, telephone_region: str | None = None) -> None:
        self.store = store
        self.telephone_region = telephone_region
        """When set, telephones are stored as E.164 (read in this region), as a real API
        may store them; None stores them exactly as sent."""
        memberships = activity.Memberships(store)
        transactions = activity.Transactions(store)
        new = VERSION_2026_08_25
        # (method, route, handler, the first version that has the route)
        self._routes: list[tuple[str, re.Pattern[str], Handler, str | None]] = [
            ("GET", re.compile(r"users/([^/]+)"), self._show_user, None),
            ("PUT", re.compile(r"users/([^/]+)"), self._update_user, None),
            ("GET", re.compile(r"custom_profile_fields()"), self._list_fields, None),
            ("GET", re.compile(r"custom_profile_field_values()"), self._list_values, None),
            ("POST", re.compile(r"custom_profile_field_values()"), self._store_value, None),
            ("PUT", re.compile(r"custom_profile_field_values/([^/]+)"), self._update_value, None),
            ("GET", re.compile(r"program_signups()"), self._list_signups, None),
            ("GET", re.compile(r"user_memberships()"), _plain(memberships.index), new),
            ("GET", re.compile(r"user_memberships/([^/]+)"), _keyed(memberships.show), new),
            ("GET", re.compile(r"transactions()"), _plain(transactions.index), new),
            ("GET", re.compile(r"transactions/([^/]+)"), _keyed(transactions.show), new),
        ]

    def handle(self, request: ApiRequest) -> Reply:
        """Answer one request, with the version headers every served response carries."""
        version = requested_version(request.headers)
        if version is not None and version not in SUPPORTED_VERSIONS:
            return Reply.message(
                400, "Unsupported API version.", supported_versions=list(SUPPORTED_VERSIONS)
            )
        served = version or DEFAULT_VERSION
        reply = self._dispatch(dataclasses.replace(request, version=served))
        reply.headers["X-Api-Version"] = served
        reply.headers[VERSION_SOURCE_HEADER] = "default" if version is None else "header"
        if served in SUNSETS:
            reply.headers["X-Api-Version-Warning"] = (
                f"API version {served} is deprecated and will stop being served on "
                f"{SUNSETS[served]}; send X-Api-Version: {DEFAULT_VERSION}."
            )
            reply.headers["Sunset"] = SUNSETS[served]
        return reply

    def _dispatch(self, request: ApiRequest) -> Reply:
        route = request.path.removeprefix("/api").strip("/")
        allowed: list[str] = []
        for method, pattern, handler, since in self._routes:
            match = pattern.fullmatch(route)
            if match is None or (since is not None and request.version < since):
                continue
            if method != request.method:
                allowed.append(method)
                continue
            caller = self._authenticate(request)
            if caller is None:
                return Reply.message(401, "Unauthenticated.")
            return handler(caller, request, match.group(1))
        if allowed:
            return Reply.message(
                405,
                f"The {request.method} method is not supported for route api/{route}. "
                f"Supported methods: {', '.join(allowed)}.",
            )
        return Reply.message(404, f"The route api/{route} could not be found.")

    def _authenticate(self, request: ApiRequest) -> Caller | None:
        key = bearer_key(request.headers)
        return None if key is None else self.store.caller(key)

    # --- users -------------------------------------------------------------------------

    def _find_user(self, key: str) -> Record | None:
        return self.store.users.get(int(key)) if key.isdigit() else None

    def _show_user(self, caller: Caller, request: ApiRequest, key: str) -> Reply:
        user = self._find_user(key)
        if user is None:
            return Reply.message(404, f"No query results for model [{USER_MODEL}] {key}")
        if not caller.may_act_on(user["id"]):
            return Reply.message(403, UNAUTHORIZED)
        return Reply.json(200, render_user_resource(user, request.version))

    def _update_user(self, caller: Caller, request: ApiRequest, key: str) -> Reply:
        user = self._find_user(key)
        if user is None:
            return Reply.message(404, f"No query results for model [{USER_MODEL}] {key}")
        if not caller.may_act_on(user["id"]):
            return Reply.message(403, UNAUTHORIZED)
        changes, errors = validate_user_update(prepare_input(request.body), user["id"], self.store)
        if errors:
            return invalid(errors)
        telephone = changes.get("telephone")
        if self.telephone_region is not None and isinstance(telephone, str):
            changes["telephone"] = as_e164(telephone, self.telephone_region)
        updated = self.store.update_user(user["id"], changes)
        return Reply.json(200, render_user(updated, request.version))

    # --- custom profile fields and values --------------------------------------------------

    def _list_fields(self, caller: Caller, request: ApiRequest, _: str) -> Reply:
        include_values = "values" in includes(request.query)
        rendered = []
        for field in self.store.live_fields():
            values = None
            if include_values:
                values = [
                    v
                    for v in self.store.live_values()
                    if v["custom_profile_field_id"] == field["id"]
                    and caller.may_act_on(v["user_id"])
                ]
            rendered.append(render_field(field, values))
        return Reply.json(200, paginate(rendered, request.query))

    def _list_values(self, caller: Caller, request: ApiRequest, _: str) -> Reply:
        filters, errors = id_filters(request.query, ("user_id", "custom_profile_field_id"))
        if errors:
            return invalid(errors)
        users = visible_users(caller, filters.get("user_id"))
        if isinstance(users, Reply):
            return users
        field_ids = filters.get("custom_profile_field_id")
        embed = "customProfileField" in includes(request.query)
        rendered = [
            render_value(v, self.store.fields[v["custom_profile_field_id"]] if embed else None)
            for v in self.store.live_values()
            if (users is None or v["user_id"] in users)
            and (field_ids is None or v["custom_profile_field_id"] in field_ids)
        ]
        return Reply.json(200, paginate(rendered, request.query))

    def _store_value(self, caller: Caller, request: ApiRequest, _: str) -> Reply:
        body = prepare_input(request.body)
        user_id, field_id, value, errors = validate_value_write(body, self.store)
        if errors:
            return invalid(errors)
        refusal = self._refuse_value_write(caller, user_id, field_id)
        if refusal is not None:
            return refusal
        if value is None:
            self.store.clear_value(user_id, field_id)
            return Reply.json(200, CLEARED)
        return Reply.json(200, render_value(self.store.store_value(user_id, field_id, value)))

    def _update_value(self, caller: Caller, request: ApiRequest, key: str) -> Reply:
        record = self.store.values.get(int(key)) if key.isdigit() else None
        if record is None or record not in self.store.live_values():
            return Reply.json(404, VALUE_MISSING)
        body = prepare_input(request.body)
        user_id, field_id, value, errors = validate_value_write(body, self.store)
        if not errors:
            errors = _mismatch(record, user_id, field_id)
        if errors:
            return invalid(errors)
        refusal = self._refuse_value_write(caller, user_id, field_id)
        if refusal is not None:
            return refusal
        if value is None:
            self.store.clear_value(user_id, field_id)
            return Reply.json(200, CLEARED)
        return Reply.json(200, render_value(self.store.set_value(record["id"], value)))

    def _refuse_value_write(self, caller: Caller, user_id: int, field_id: int) -> Reply | None:
        field = self.store.fields[field_id]
        if field["locked"]:
            return Reply.message(403, LOCKED)
        if not caller.may_act_on(user_id) or not (caller.manager or field["user_editable"]):
            return Reply.message(403, UNAUTHORIZED)
        return None

    # --- program signups ------------------------------------------------------------------

    def _list_signups(self, caller: Caller, request: ApiRequest, _: str) -> Reply:
        filters, errors = id_filters(request.query, ("user_id", "program_id"))
        if errors:
            return invalid(errors)
        users = visible_users(caller, filters.get("user_id"))
        if isinstance(users, Reply):
            return users
        programs = filters.get("program_id")
        status = _signup_status(caller, request)
        if isinstance(status, Reply):
            return status
        text = request.query.get("filter[query]", "").strip().casefold()
        with_trashed = request.query.get("filter[withTrashed]", "").lower() in {"1", "true"}
        embed = "user" in includes(request.query)
        rendered = []
        for signup in self.store.live_signups(with_trashed=with_trashed):
            user = self.store.users.get(signup["user_id"]) if signup["user_id"] else None
            if users is not None and signup["user_id"] not in users:
                continue
            if programs is not None and signup["program_id"] not in programs:
                continue
            if status is not None and not _has_status(signup, status):
                continue
            if text and not _signup_matches(signup, user, text):
                continue
            rendered.append(render_signup(signup, user if embed else None, request.version))
        return Reply.json(200, paginate(rendered, request.query))


def _signup_status(caller: Caller, request: ApiRequest) -> str | Reply | None:
    """The lifecycle a signup list keeps: from 2026-08-25 ``filter[signup_status]``
    (manager-only, default ``active``); before it, every signup (None)."""
    if request.version < VERSION_2026_08_25:
        return None
    raw = request.query.get("filter[signup_status]")
    if raw is None or not raw.strip():
        return "active"
    if not caller.manager:
        return Reply.message(403, UNAUTHORIZED)
    if raw.strip() not in SIGNUP_STATUSES:
        return invalid({"filter.signup_status": ["The selected filter.signup_status is invalid."]})
    return raw.strip()


def _has_status(signup: Record, status: str) -> bool:
    if status == "active":
        return signup["cancelled_at"] is None
    if signup["cancelled_at"] is None:
        return False
    _, _, actor = status.partition(":")
    return not actor or signup["cancellation_actor"] == actor


def _plain(index: Callable[[Caller, Mapping[str, str]], Reply]) -> Handler:
    """A list endpoint that reads only the caller and the query string."""
    return lambda caller, request, _: index(caller, request.query)


def _keyed(show: Callable[[Caller, str], Reply]) -> Handler:
    """A show endpoint that reads only the caller and the record's key."""
    return lambda caller, _, key: show(caller, key)


def _signup_matches(signup: Record, user: Record | None, text: str) -> bool:
    """``filter[query]``: a case-insensitive substring of the user's name or email."""
    haystack = [signup["associated_name"], signup["associated_email"]]
    if user is not None:
        haystack += [user["name"], user["email"]]
    return any(text in value.casefold() for value in haystack if value)


def _mismatch(record: Record, user_id: int, field_id: int) -> Errors:
    errors: Errors = {}
    if record["user_id"] != user_id:
        errors["user_id"] = ["The user id does not match this profile field value."]
    if record["custom_profile_field_id"] != field_id:
        errors["custom_profile_field_id"] = [
            "The custom profile field id does not match this profile field value."
        ]
    return errors
