"""The sandbox's 2026-08-25 endpoints: ``/user_memberships`` and ``/transactions``.

Both list in id order, page with ``page[number]``/``page[size]`` and answer in the
Laravel envelope. Memberships take every documented filter (``user_id``, ``active``,
``expired``, ``expires_starting_at``, ``expires_ending_at``) and refuse a ``page[size]``
over 500 with Laravel's 422. With no filter every membership is listed, expired ones
included (the document does not say; this is what an unfiltered Laravel query does).
Transactions take ``filter[query]`` (a case-insensitive piece of the owner's name or
email, or of the user's behind it) and ``filter[user_id]``. A member key sees only its
own rows, as on every list.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from communal_sync.sandbox.query import (
    boolean_filter,
    date_filter,
    id_filters,
    invalid,
    json_api_page,
    visible_users,
)
from communal_sync.sandbox.reply import Reply
from communal_sync.sandbox.resources import render_membership, render_transaction
from communal_sync.sandbox.seed_time import parse_timestamp
from communal_sync.sandbox.store import Caller, Record, Store

MAX_MEMBERSHIP_PAGE_SIZE: Final = 500
MEMBERSHIP_MODEL: Final = "App\\Models\\UserMembership"
TRANSACTION_MODEL: Final = "App\\Models\\Transaction"
ACTIVE_STATUSES: Final = frozenset({"active", "retrying"})
"""Statuses of a membership still in force (``retrying``: a renewal payment failed and
more attempts are scheduled)."""


class Memberships:
    """``GET /user_memberships`` and ``GET /user_memberships/{id}``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def index(self, caller: Caller, query: Mapping[str, str]) -> Reply:
        """The memberships the filters keep, one page of them."""
        filters, errors = id_filters(query, ("user_id",), lists=False)
        active = boolean_filter(query, "active", errors)
        expired = boolean_filter(query, "expired", errors)
        starting = date_filter(query, "expires_starting_at", errors)
        ending = date_filter(query, "expires_ending_at", errors)
        if errors:
            return invalid(errors)
        users = visible_users(caller, filters.get("user_id"))
        if isinstance(users, Reply):
            return users
        now = self._store.current_time()
        kept = []
        for _, membership in sorted(self._store.memberships.items()):
            if users is not None and membership["user_id"] not in users:
                continue
            ends = _ends(membership)
            if active is not None and is_active(membership, now) != active:
                continue
            if expired is not None and is_expired(ends, now) != expired:
                continue
            if starting is not None and (ends is None or ends < starting):
                continue
            if ending is not None and (ends is None or ends > ending):
                continue
            kept.append(render_membership(membership))
        return json_api_page(kept, query, max_size=MAX_MEMBERSHIP_PAGE_SIZE)

    def show(self, caller: Caller, key: str) -> Reply:
        """One membership, unwrapped (not in ``{data: ...}``)."""
        membership = self._store.memberships.get(int(key)) if key.isdigit() else None
        if membership is None:
            return Reply.message(404, f"No query results for model [{MEMBERSHIP_MODEL}] {key}")
        if not caller.may_act_on(membership["user_id"]):
            return Reply.message(403, "This action is unauthorized.")
        return Reply.json(200, render_membership(membership))


class Transactions:
    """``GET /transactions`` (search by owner) and ``GET /transactions/{id}``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def index(self, caller: Caller, query: Mapping[str, str]) -> Reply:
        """The transactions whose owner matches ``filter[query]``, one page of them."""
        filters, errors = id_filters(query, ("user_id",), lists=False)
        if errors:
            return invalid(errors)
        users = visible_users(caller, filters.get("user_id"))
        if isinstance(users, Reply):
            return users
        text = query.get("filter[query]", "").strip().casefold()
        kept = []
        for _, transaction in sorted(self._store.transactions.items()):
            owner = transaction["owner"] or {}
            if users is not None and owner.get("user_id") not in users:
                continue
            if text and not self._owner_matches(owner, text):
                continue
            kept.append(render_transaction(transaction))
        return json_api_page(kept, query)

    def show(self, caller: Caller, key: str) -> Reply:
        """One transaction, wrapped as ``{data: ...}`` as the document says."""
        transaction = self._store.transactions.get(int(key)) if key.isdigit() else None
        if transaction is None:
            return Reply.message(404, f"No query results for model [{TRANSACTION_MODEL}] {key}")
        owner_user = (transaction["owner"] or {}).get("user_id")
        if not caller.manager and owner_user != caller.user_id:
            return Reply.message(403, "This action is unauthorized.")
        return Reply.json(200, {"data": render_transaction(transaction)})

    def _owner_matches(self, owner: Record, text: str) -> bool:
        """``filter[query]``: the owner's name or email, or its user's, contains ``text``."""
        haystack = [owner.get("name"), owner.get("email")]
        user = self._store.users.get(owner["user_id"]) if owner.get("user_id") else None
        if user is not None:
            haystack += [user["name"], user["email"]]
        return any(text in value.casefold() for value in haystack if value)


def is_expired(ends: datetime | None, now: datetime) -> bool:
    """A membership whose period ended (no end date: never expires)."""
    return ends is not None and ends <= now


def is_active(membership: Record, now: datetime) -> bool:
    """In force: an active (or retrying) status and a period not yet over."""
    return membership["status"] in ACTIVE_STATUSES and not is_expired(_ends(membership), now)


def _ends(membership: Record) -> datetime | None:
    ends = membership.get("ends_at")
    return parse_timestamp(ends) if ends else None
