"""Who each row is: a Communal user id, found without ever guessing.

In order: the row's ``id`` column; its external key through the identity map; its email
through the identity map; and, only with ``--discover``, a search of program signups and
transactions (``discovery``) that must find exactly one user whose *account* email is
exactly that email. No match, or more than one candidate, is reported as such, with the
hint that fits: a map built from Communal's memberships knows only members. An external
key that finds someone is checked against the row's email too: when the identity map
gives that email to a different user, the two keys point at two people and the row is
ambiguous, never the external key's person with the other's email.

A match is then checked against Communal's record of that user (``identity_mismatch``):
an id column shifted by one, a CRM key taken for the Communal id or a stale identity map
points at a real user who is someone else, and pushing would overwrite that person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from communal_sync.intake.validate import ProfileRow
from communal_sync.plan import CurrentValue, IssueKind, MatchMethod
from communal_sync.values.normalize import clean_text, email_key

UNMATCHED_HINT = (
    "Add a Communal id column, load an id map with `communal-sync link FILE` or "
    "`communal-sync link --from-communal`, or pass --discover to search program signups "
    "and transactions."
)
NOT_A_MEMBER_HINT = (
    "It is none of the {members} members `communal-sync link --from-communal` read from "
    "Communal's memberships (people without a membership are not listed there): pass "
    "--discover to search program signups and transactions, add a Communal id column, or "
    "load an id map with `communal-sync link FILE`."
)
NOT_DISCOVERED_HINT = (
    "--discover found no program signup or transaction naming exactly one user whose "
    "account email is this one (a parent's, a guest's or an account's contact email does "
    "not count). Add a Communal id column, or load an id map with `communal-sync link FILE`."
)
AMBIGUOUS_FIX = "add a Communal id column to say which."
SPLIT_KEYS_FIX = (
    "the external key and the email point to two different people. Correct whichever is "
    "wrong in the file, reload the identity map with `communal-sync link FILE` if it is out "
    "of date, or add a Communal id column to say which."
)

IDENTITY_FIELDS: Final = ("first_name", "last_name", "email")
"""The fields that say who a person is: a row sharing none of them with its match is
someone else."""


class IdentityLookup(Protocol):
    """The identity map, as matching reads it (``StateStore.identity`` is one)."""

    def lookup_external_id(self, external_id: str) -> int | None: ...

    def lookup_email(self, email_key: str) -> list[int]: ...


@dataclass(frozen=True)
class Account:
    """A user a search turned up, with the account email Communal holds for them."""

    user_id: int
    email: str | None


Discover = Callable[[str], Iterable[Account]]
"""Searches Communal for an email (``discovery.discover_accounts``)."""


def unmatched_hint(*, members: int, discover: bool) -> str:
    """What to do about a row no one matched: what was searched decides what is left.

    ``members`` is how many members ``link --from-communal`` read (0: never run).
    """
    if discover:
        return NOT_DISCOVERED_HINT
    if members:
        return NOT_A_MEMBER_HINT.format(members=f"{members:,}")
    return UNMATCHED_HINT


@dataclass(frozen=True)
class Match:
    """A row's user id and how it was found, or why there is none."""

    user_id: int | None
    method: MatchMethod | None = None
    problem: IssueKind | None = None
    message: str | None = None


def match_row(
    row: ProfileRow,
    identities: IdentityLookup,
    *,
    discover: Discover | None = None,
    hint: str = UNMATCHED_HINT,
) -> Match:
    """Find the Communal user ``row`` describes; see the module docstring for the order.

    ``hint`` ends the message of a row no one matched (see ``unmatched_hint``).
    """
    if row.id is not None:
        return _checked_by_map(row.id, row.external_id, identities)
    key = email_key(row.email)
    if row.external_id is not None:
        user_id = identities.lookup_external_id(row.external_id)
        if user_id is not None:
            return _checked_by_email(user_id, sorted(set(identities.lookup_email(key))))
    candidates = sorted(set(identities.lookup_email(key)))
    if len(candidates) == 1:
        return Match(candidates[0], "email")
    if len(candidates) > 1:
        return _ambiguous(candidates, "the identity map")
    if discover is not None:
        found = sorted(set(_account_users(discover(row.email), key)))
        if len(found) == 1:
            return Match(found[0], "discover")
        if len(found) > 1:
            return _ambiguous(found, "program signups and transactions")
    return Match(
        None,
        problem="unmatched",
        message=f"No Communal user is known for this row. {hint}",
    )


def _checked_by_map(user_id: int, external_id: str | None, identities: IdentityLookup) -> Match:
    """The id column's match, unless the identity map gives the row's external key to
    another user: that contradiction is an identity event, reported, never settled by
    silently moving the key (which would leave its real owner's row ambiguous forever)."""
    owner = identities.lookup_external_id(external_id) if external_id is not None else None
    if owner is None or owner == user_id:
        return Match(user_id, "id")
    return Match(
        None,
        problem="ambiguous",
        message=f"This row's id column says user {user_id}, but the identity map gives its "
        f"external id {external_id} to user {owner}: nothing is planned for it, and the map "
        "is left as it is. Correct the id or the external id in the file, or, if the key "
        f"really moved, load the new pairing with `communal-sync link FILE`.",
    )


def _account_users(accounts: Iterable[Account], key: str) -> Iterable[int]:
    """User ids of accounts whose *account* email is exactly ``key``.

    A signup's ``associated_email`` or a transaction owner's email is not the account's:
    a parent signs children up with their own address, an account pays with its contact
    address, so matching on either would update someone else with this row.
    """
    for account in accounts:
        if account.email and email_key(account.email) == key:
            yield account.user_id


def _checked_by_email(user_id: int, email_owners: list[int]) -> Match:
    """The external key's match, unless the identity map gives the row's email to another.

    An email the map does not know, or knows as this same user's, confirms nothing and
    contradicts nothing; one it gives to someone else means the row names two people.
    """
    others = [owner for owner in email_owners if owner != user_id]
    if not others:
        return Match(user_id, "external_id")
    return _ambiguous(
        sorted({user_id, *others}),
        "the identity map",
        fix=f"its external key is user {user_id}'s and its email is user "
        f"{', '.join(str(o) for o in others)}'s: {SPLIT_KEYS_FIX}",
    )


def _ambiguous(candidates: list[int], where: str, *, fix: str = AMBIGUOUS_FIX) -> Match:
    """A row that matches several users: which ones, where, and ``fix`` (what to do)."""
    ids = ", ".join(str(c) for c in candidates)
    return Match(
        None,
        problem="ambiguous",
        message=f"This row matches more than one Communal user in {where} ({ids}); {fix}",
    )


def identity_key(field_name: str, value: str | None) -> str:
    """The form an identity field is compared in: emails by ``email_key``, names by cleaned,
    case-folded text ("  ADA " and "Ada" are one name); blank is ""."""
    if value is None:
        return ""
    if field_name == "email":
        return email_key(value)
    return clean_text(value).casefold()


def identity_mismatch(row: ProfileRow, current: Mapping[str, CurrentValue]) -> bool:
    """Whether ``row`` is someone else than its matched user's ``current`` record.

    The row is the same person when its email is the user's (``email_key``), or when its
    first *and* last names are both the user's (``identity_key``: case, spacing and Unicode
    forms aside). One shared first name is not enough: a shifted id column lands on
    another "John" often. Only fields whose current value is known count: a field
    Communal's record does not give (blank or unknown) is no evidence either way, so a
    record that gives none of them is never called a mismatch.
    """
    theirs: dict[str, str] = {}
    for name in IDENTITY_FIELDS:
        now = current.get(name)
        if now is None or now.provenance == "unknown":
            continue
        key = identity_key(name, now.value)
        if key:
            theirs[name] = key
    if not theirs:
        return False
    ours = {name: identity_key(name, getattr(row, name)) for name in IDENTITY_FIELDS}
    if "email" in theirs and ours["email"] == theirs["email"]:
        return False
    names = ("first_name", "last_name")
    return not all(name in theirs and ours[name] == theirs[name] for name in names)
