"""Who each row is: id column, identity map, and (asked for) an exact program-signup search."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from communal_sync.api.models import ProgramSignup
from communal_sync.identity.discovery import signup_accounts
from communal_sync.identity.match import UNMATCHED_HINT, Account, Match, match_row, unmatched_hint
from communal_sync.intake.validate import ProfileRow
from communal_sync.state import open_state

UNMATCHED = Match(
    None,
    problem="unmatched",
    message="No Communal user is known for this row. Add a Communal id column, load an id map "
    "with `communal-sync link FILE` or `communal-sync link --from-communal`, or pass "
    "--discover to search program signups and transactions.",
)


class Identities:
    """An identity map in memory: external id -> user, email key -> users."""

    def __init__(
        self,
        externals: dict[str, int] | None = None,
        emails: dict[str, list[int]] | None = None,
    ) -> None:
        self.externals = externals or {}
        self.emails = emails or {}
        self.asked: list[str] = []

    def lookup_external_id(self, external_id: str) -> int | None:
        self.asked.append(f"external:{external_id}")
        return self.externals.get(external_id)

    def lookup_email(self, email_key: str) -> list[int]:
        self.asked.append(f"email:{email_key}")
        return sorted(self.emails.get(email_key, []))


class Signups:
    """A discovery that finds these signups' accounts, and records its queries."""

    def __init__(self, *signups: dict[str, Any]) -> None:
        self.signups = [ProgramSignup.model_validate(s) for s in signups]
        self.queries: list[str] = []

    def __call__(self, query: str) -> Iterable[Account]:
        self.queries.append(query)
        return list(signup_accounts(self.signups))


def row(
    email: str = "ann.lee@example.org",
    *,
    id: int | None = None,
    external_id: str | None = None,
) -> ProfileRow:
    return ProfileRow(
        line=2, first_name="Ann", last_name="Lee", email=email, id=id, external_id=external_id
    )


def signup(signup_id: int, user_id: int | None, email: str, **extra: Any) -> dict[str, Any]:
    """A signup of the account ``email`` (embedded by include=user), made with that email."""
    user = {"id": user_id, "email": email} if user_id is not None else None
    return {"id": signup_id, "user_id": user_id, "associated_email": email, "user": user, **extra}


# --- order --------------------------------------------------------------------------------


def test_id_column_wins_over_every_other_key() -> None:
    identities = Identities({"M-1": 200}, {"ann.lee@example.org": [300]})
    discover = Signups(signup(1, 400, "ann.lee@example.org"))

    found = match_row(row(id=101), identities, discover=discover)

    assert found == Match(101, "id")
    assert identities.asked == []
    assert discover.queries == []


@pytest.mark.parametrize("owner", [None, 101])
def test_an_id_column_is_checked_only_against_the_external_keys_owner(owner: int | None) -> None:
    identities = Identities({"M-1": owner} if owner else {}, {"ann.lee@example.org": [300]})

    found = match_row(row(id=101, external_id="M-1"), identities)

    assert found == Match(101, "id")


def test_an_id_column_contradicting_the_maps_external_key_is_ambiguous() -> None:
    identities = Identities({"M-1": 200}, {})

    found = match_row(row(id=101, external_id="M-1"), identities)

    assert found.user_id is None
    assert found.problem == "ambiguous"
    assert "id column says user 101" in (found.message or "")
    assert "external id M-1 to user 200" in (found.message or "")


@pytest.mark.parametrize("email_owners", [[], [200]])
def test_external_id_through_the_identity_map_matches_when_the_email_agrees(
    email_owners: list[int],
) -> None:
    identities = Identities({"M-1": 200}, {"ann.lee@example.org": email_owners})

    assert match_row(row(external_id="M-1"), identities) == Match(200, "external_id")
    assert identities.asked == ["external:M-1", "email:ann.lee@example.org"]


SPLIT_KEYS = Match(
    None,
    problem="ambiguous",
    message="This row matches more than one Communal user in the identity map (200, 300); "
    "its external key is user 200's and its email is user 300's: the external key and the "
    "email point to two different people. Correct whichever is wrong in the file, reload "
    "the identity map with `communal-sync link FILE` if it is out of date, or add a "
    "Communal id column to say which.",
)


def test_external_id_and_email_of_two_different_people_is_ambiguous() -> None:
    identities = Identities({"M-1": 200}, {"ann.lee@example.org": [300]})
    discover = Signups(signup(1, 200, "ann.lee@example.org"))

    assert match_row(row(external_id="M-1"), identities, discover=discover) == SPLIT_KEYS
    assert discover.queries == []


def test_external_id_with_an_email_shared_by_its_user_and_another_is_ambiguous() -> None:
    identities = Identities({"M-1": 200}, {"ann.lee@example.org": [200, 300]})

    assert match_row(row(external_id="M-1"), identities) == SPLIT_KEYS


def test_external_id_and_email_of_two_people_in_the_real_state_store(tmp_path: Path) -> None:
    with open_state(tmp_path / "state.db") as state:
        state.identity.link(200, email_key="bo@example.org", external_id="M-1", source="link")
        state.identity.link(300, email_key="Ann.Lee@Example.org", external_id="M-2", source="link")

        assert (
            match_row(row("ann.lee@example.org", external_id="M-1"), state.identity) == SPLIT_KEYS
        )


def test_unknown_external_id_falls_back_to_email() -> None:
    identities = Identities({"M-1": 200}, {"ann.lee@example.org": [300]})

    assert match_row(row(external_id="M-2"), identities) == Match(300, "email")
    assert identities.asked == ["external:M-2", "email:ann.lee@example.org"]


@pytest.mark.parametrize(
    "email", ["ann.lee@example.org", "Ann.Lee@Example.ORG", " ann.lee@example.org "]
)
def test_email_through_the_identity_map_ignores_case_and_spaces(email: str) -> None:
    identities = Identities(emails={"ann.lee@example.org": [300]})

    assert match_row(row(email), identities) == Match(300, "email")


def test_email_through_the_real_state_store(tmp_path: Path) -> None:
    with open_state(tmp_path / "state.db") as state:
        state.identity.link(300, email_key="Ann.Lee@Example.org", source="link")
        state.identity.link(200, external_id="M-1", source="link")

        assert match_row(row("ANN.LEE@example.org"), state.identity) == Match(300, "email")
        assert match_row(row("x@example.org", external_id="M-1"), state.identity) == Match(
            200, "external_id"
        )


def test_email_shared_by_several_users_is_ambiguous() -> None:
    identities = Identities(emails={"ann.lee@example.org": [306, 305, 306]})
    discover = Signups(signup(1, 400, "ann.lee@example.org"))

    found = match_row(row(), identities, discover=discover)

    assert found == Match(
        None,
        problem="ambiguous",
        message="This row matches more than one Communal user in the identity map (305, 306); "
        "add a Communal id column to say which.",
    )
    assert discover.queries == [], "an ambiguous map is never settled by a search"


def test_no_key_matches_is_unmatched_with_the_fix_in_the_message() -> None:
    found = match_row(row(external_id="M-9"), Identities())

    assert found == UNMATCHED
    assert found.message is not None and found.message.endswith(UNMATCHED_HINT)


# --- discover -----------------------------------------------------------------------------


def test_discover_with_one_exact_match() -> None:
    discover = Signups(signup(1, 113, "Ann.Lee@example.org"))

    found = match_row(row(), Identities(), discover=discover)

    assert found == Match(113, "discover")
    assert discover.queries == ["ann.lee@example.org"]


def test_discover_ignores_a_signup_made_with_someone_elses_email() -> None:
    """A parent signs a child up with the parent's email: that is not the child's account."""
    child = signup(1, 201, "pat.parent@example.org", user={"id": 201, "email": "kid@example.org"})

    found = match_row(row("pat.parent@example.org"), Identities(), discover=Signups(child))

    assert found == UNMATCHED


def test_discover_is_not_asked_when_the_identity_map_knows_the_row() -> None:
    discover = Signups(signup(1, 113, "ann.lee@example.org"))

    found = match_row(row(), Identities(emails={"ann.lee@example.org": [300]}), discover=discover)

    assert found == Match(300, "email")
    assert discover.queries == []


def test_discover_with_no_signup_is_unmatched() -> None:
    assert match_row(row(), Identities(), discover=Signups()) == UNMATCHED


@pytest.mark.parametrize(
    "other_email",
    [
        "joann.lee@example.org",
        "ann.lee@example.org.uk",
        "ann.lee@example.com",
        "ann.le@example.org",
    ],
)
def test_discover_signup_whose_email_only_partially_matches_is_unmatched(
    other_email: str,
) -> None:
    discover = Signups(signup(1, 113, other_email))

    assert match_row(row(), Identities(), discover=discover) == UNMATCHED


def test_discover_with_several_users_is_ambiguous() -> None:
    discover = Signups(
        signup(1, 114, "ann.lee@example.org"),
        signup(2, 113, "ANN.LEE@example.org"),
        signup(3, 114, "ann.lee@example.org"),
    )

    found = match_row(row(), Identities(), discover=discover)

    assert found == Match(
        None,
        problem="ambiguous",
        message="This row matches more than one Communal user in program signups and "
        "transactions (113, 114); add a Communal id column to say which.",
    )


def test_discover_one_user_with_several_signups_is_one_match() -> None:
    discover = Signups(signup(1, 113, "ann.lee@example.org"), signup(2, 113, "ann.lee@example.org"))

    assert match_row(row(), Identities(), discover=discover) == Match(113, "discover")


def test_discover_matches_the_embedded_user_email_too() -> None:
    parent = signup(1, 113, "parent@example.org", user={"id": 113, "email": "Ann.Lee@example.org"})

    assert match_row(row(), Identities(), discover=Signups(parent)) == Match(113, "discover")


def test_discover_ignores_a_signup_without_a_user() -> None:
    discover = Signups(signup(1, None, "ann.lee@example.org"), signup(2, 113, "x@example.org"))

    assert match_row(row(), Identities(), discover=discover) == UNMATCHED


# --- the hint for a row no one matched ----------------------------------------------------


def test_an_unmatched_row_after_link_from_communal_is_told_it_is_no_member() -> None:
    hint = unmatched_hint(members=3912, discover=False)

    found = match_row(row(), Identities(), hint=hint)

    assert found.message == (
        "No Communal user is known for this row. It is none of the 3,912 members "
        "`communal-sync link --from-communal` read from Communal's memberships (people "
        "without a membership are not listed there): pass --discover to search program "
        "signups and transactions, add a Communal id column, or load an id map with "
        "`communal-sync link FILE`."
    )


def test_an_unmatched_row_after_discovery_is_told_what_was_searched() -> None:
    hint = unmatched_hint(members=3912, discover=True)

    found = match_row(row(), Identities(), discover=Signups(), hint=hint)

    assert found.message is not None
    assert found.message.startswith(
        "No Communal user is known for this row. --discover found no program signup or "
        "transaction naming exactly one user whose account email is this one"
    )


def test_without_any_roster_the_hint_names_every_way_to_teach_the_map() -> None:
    assert unmatched_hint(members=0, discover=False) == UNMATCHED_HINT
    assert "link --from-communal" in UNMATCHED_HINT
