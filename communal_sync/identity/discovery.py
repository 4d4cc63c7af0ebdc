"""``--discover``: search Communal for the user an email belongs to, two ways.

Program signups (``filter[query]``, users embedded), active and cancelled ones alike:
from 2026-08-25 the API hides cancelled signups unless ``filter[signup_status]`` asks, and
a person who cancelled is still a person. And transactions (``filter[query]``), whose
owner names the user behind it (``owner.user_id``). Only an *account* email counts: a
signup carries its user's account record, but a transaction's owner may be an account or
a guest with a contact email of its own, so each user a transaction names is read
(``GET /users/{id}``) for the email Communal holds. ``match`` then keeps the accounts whose
email is exactly the row's; more than one user is ambiguous, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, Protocol

from communal_sync.api.models import ProgramSignup, Transaction, User
from communal_sync.errors import NotFound
from communal_sync.identity.match import Account
from communal_sync.values.normalize import email_key

SIGNUP_STATUSES: Final = ("active", "cancelled")
"""Every signup, whatever became of it: the default (active) and the cancelled ones."""


class DiscoveryClient(Protocol):
    """The part of the API client discovery searches with."""

    def search_program_signups(
        self, query: str, *, user_id: int | None = None, signup_status: str | None = None
    ) -> list[ProgramSignup]: ...

    def search_transactions(self, query: str) -> list[Transaction]: ...

    def get_user(self, user_id: int) -> User: ...


def discover_accounts(client: DiscoveryClient, email: str) -> list[Account]:
    """Every user signups and transactions name for ``email``, with their account email.

    A user a signup already vouches for with exactly this email is not read again; a user
    a transaction names who is gone (404) is left out.
    """
    accounts = list(_signup_accounts(client, email))
    key = email_key(email)
    vouched = {a.user_id for a in accounts if a.email and email_key(a.email) == key}
    seen = set(vouched)
    for transaction in client.search_transactions(email):
        owner = transaction.owner
        if owner is None or owner.user_id is None or owner.user_id in seen:
            continue
        seen.add(owner.user_id)
        try:
            user = client.get_user(owner.user_id)
        except NotFound:
            continue
        accounts.append(Account(owner.user_id, user.email))
    return accounts


def signup_accounts(signups: Iterable[ProgramSignup]) -> Iterator[Account]:
    """The account behind each signup: its user, with the email of the embedded user
    record (``include=user``), never the signup's ``associated_email``."""
    for signup in signups:
        if signup.user_id is not None and signup.user is not None:
            yield Account(signup.user_id, signup.user.email)


def _signup_accounts(client: DiscoveryClient, email: str) -> Iterator[Account]:
    for status in SIGNUP_STATUSES:
        yield from signup_accounts(client.search_program_signups(email, signup_status=status))
