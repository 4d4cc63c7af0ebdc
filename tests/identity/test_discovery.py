"""``--discover`` against the demo organization: signups (cancelled ones too) and
transactions, and only ever an account email that names exactly one user.

The demo seed has Nadia with an active signup, Priya whose only signup she cancelled,
Olivia with a transaction of her own, an account paying for Rafael with the family's
contact email, a walk-in guest, and a child Amara signed up with her own address.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from communal_sync.api.client import CommunalClient
from communal_sync.identity.discovery import discover_accounts
from communal_sync.identity.match import Match, match_row, unmatched_hint
from communal_sync.intake.validate import ProfileRow
from communal_sync.sandbox import Sandbox


class NoMap:
    def lookup_external_id(self, external_id: str) -> int | None:
        return None

    def lookup_email(self, email_key: str) -> list[int]:
        return []


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[CommunalClient]:
    with CommunalClient(sandbox.manager_key, base_url=sandbox.base_url) as api:
        yield api


def discovered(client: CommunalClient, email: str) -> Match:
    row = ProfileRow(line=2, first_name="A", last_name="B", email=email)
    discover = functools.partial(discover_accounts, client)
    return match_row(row, NoMap(), discover=discover, hint=unmatched_hint(members=0, discover=True))


def paths(sandbox: Sandbox) -> list[str]:
    return [entry["path"].removeprefix("/api") for entry in sandbox.requests()]


def test_an_active_signup_finds_its_user(client: CommunalClient) -> None:
    assert discovered(client, "nadia.rahman@example.org") == Match(113, "discover")


def test_a_cancelled_signup_still_finds_its_user(client: CommunalClient, sandbox: Sandbox) -> None:
    assert discovered(client, "Priya.Nair@example.org") == Match(115, "discover")
    assert any("signup_status%5D=cancelled" in path for path in paths(sandbox))


def test_a_users_own_transaction_finds_them_after_reading_their_account(
    client: CommunalClient, sandbox: Sandbox
) -> None:
    assert discovered(client, "olivia.chen@example.org") == Match(114, "discover")
    assert "/users/114" in paths(sandbox), "the account email is read, not the owner's"


@pytest.mark.parametrize(
    "email",
    [
        "costa.family@example.org",  # an account's contact email: its user is rafael.costa@
        "guest.walkin@example.org",  # a guest: no user behind it
        "amara.okafor@example.org",  # the parent's address on her child's signup
        "quinn.tremblay@example.org",  # a user with no signup and no transaction
    ],
)
def test_a_contact_guest_or_parent_email_finds_no_one(client: CommunalClient, email: str) -> None:
    found = discovered(client, email)

    assert (found.user_id, found.problem) == (None, "unmatched")
    assert found.message is not None
    assert "--discover found no program signup or transaction" in found.message


def test_a_guest_transaction_costs_no_user_read(client: CommunalClient, sandbox: Sandbox) -> None:
    discovered(client, "guest.walkin@example.org")

    assert [p for p in paths(sandbox) if p.startswith("/users/")] == []


def test_discovery_asks_for_2026_08_25_while_pinned_to_2026_03_25(
    client: CommunalClient, sandbox: Sandbox
) -> None:
    discovered(client, "olivia.chen@example.org")

    versions = {entry["path"].split("?")[0]: entry["api_version"] for entry in sandbox.requests()}
    assert versions == {
        "/api/program_signups": "2026-08-25",
        "/api/transactions": "2026-08-25",
        "/api/users/114": "2026-03-25",
    }
