"""Building the plan: matching, current records, diffs and limits put together.

The first half uses fakes for the state and the API; the second half runs the real client
against pytest-httpx, which fails on any request not registered: a plan that tried to write
would fail the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from communal_sync import __version__
from communal_sync.api.client import CommunalClient
from communal_sync.api.models import ProgramSignup, Transaction, User
from communal_sync.api.retry import NO_RETRY
from communal_sync.errors import NotFound, TransportError, Unauthenticated
from communal_sync.intake.pipeline import Intake, IntakeOptions, open_intake
from communal_sync.plan import (
    Conflict,
    EmailChange,
    FieldChange,
    InputInfo,
    Plan,
    PlanOptions,
    RowIssue,
)
from communal_sync.planning.planner import (
    GET_LOOKAHEAD,
    UNREACHABLE_STREAK_LIMIT,
    PlanProgress,
    build_plan,
    source_hash,
)
from communal_sync.state import Snapshot, open_state

BASE = "https://api.getcommunal.com/api"
NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
HEADER = "Member No,Communal ID,First Name,Last Name,E-mail,Mobile,City"
UPDATED_AT = "2026-01-15T09:30:00.000000Z"


def resource(user_id: int, first: str, last: str, email: str, **more: Any) -> dict[str, Any]:
    """A ``UserResource`` as GET returns it: no address fields."""
    return {
        "id": str(user_id),
        "name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "email": email,
        "telephone": None,
        "middle_name": None,
        "preferred_name": None,
        "date_of_birth": None,
        "updated_at": UPDATED_AT,
        **more,
    }


AMARA = resource(101, "Amara", "Okafor", "amara.okafor@example.org", telephone="+1 416 555 0101")
BRUNO = resource(102, "Bruno", "Lefèvre", "bruno.lefevre@example.org", telephone="514-555-0102")
DANA = resource(104, "Dana", "Whitfield", "dana.whitfield@example.org", telephone="1")
ELIF = resource(105, "Elif", "Yılmaz", "elif.yilmaz@example.org")
NADIA = resource(113, "Nadia", "Rahman", "nadia.rahman@example.org")
USERS = {int(u["id"]): u for u in (AMARA, BRUNO, DANA, ELIF, NADIA)}


class FakeState:
    """The identity map and snapshots, in memory."""

    def __init__(self) -> None:
        self.externals: dict[str, int] = {}
        self.emails: dict[str, list[int]] = {}
        self.snapshots: dict[int, Snapshot] = {}

    def lookup_external_id(self, external_id: str) -> int | None:
        return self.externals.get(external_id)

    def lookup_email(self, email_key: str) -> list[int]:
        return self.emails.get(email_key.strip().lower(), [])

    @property
    def identity(self) -> FakeState:
        """The identity map part: this object itself (``lookup_*``); ``snapshots`` is a dict."""
        return self

    def snapshot(
        self,
        user_id: int,
        *,
        source_hash: str | None = "stale",
        user: dict[str, Any] | None = None,
        pushed: dict[str, Any] | None = None,
        pushed_email: str | None = None,
    ) -> None:
        self.snapshots[user_id] = Snapshot(
            user_id=user_id,
            user=user or {},
            pushed=pushed or {},
            source_hash=source_hash,
            external_id=None,
            pushed_email=pushed_email,
            pushed_at=NOW,
            run_id=1,
        )


class FakeApi:
    """The read side of the client: users by id, a signup search, and a log of calls."""

    def __init__(self, users: dict[int, dict[str, Any]], signups: tuple[Any, ...] = ()) -> None:
        self.users = users
        self.signups = [ProgramSignup.model_validate(s) for s in signups]
        self.calls: list[tuple[str, object]] = []

    def get_user(self, user_id: int) -> User:
        self.calls.append(("get_user", user_id))
        if user_id not in self.users:
            raise NotFound(f"No user {user_id}.", status=404)
        return User.model_validate(self.users[user_id])

    def search_program_signups(
        self, query: str, *, user_id: int | None = None, signup_status: str | None = None
    ) -> list[ProgramSignup]:
        self.calls.append(("search", f"{query} ({signup_status})"))
        return list(self.signups) if signup_status == "active" else []

    def search_transactions(self, query: str) -> list[Transaction]:
        self.calls.append(("transactions", query))
        return []


def export(tmp_path: Path, *lines: str, header: str = HEADER) -> Intake:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return open_intake(str(path), IntakeOptions(default_region="CA"), cwd=tmp_path)


def plan_of(
    intake: Intake,
    state: Any,
    api: Any,
    options: PlanOptions | None = None,
    *,
    concurrency: int = 1,
) -> Plan:
    return build_plan(
        intake,
        state=state,
        client=api,
        options=options or PlanOptions(),
        base_url=BASE,
        input_sha256="abc123",
        concurrency=concurrency,
        now=lambda: NOW,
    )


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest.fixture
def api() -> FakeApi:
    return FakeApi(USERS)


AMARA_ROW = "M-0001,101,Amara,Okafor,amara.okafor@example.org,+1 416 555 0199,"
AMARA_SAME = "M-0001,101,Amara,Okafor,Amara.Okafor@Example.org,(416) 555-0101,"


# --- the plan itself ----------------------------------------------------------------------


def test_plan_describes_input_options_and_tool(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    options = PlanOptions(on_conflict="source", allow_clear=("telephone",))
    plan = plan_of(export(tmp_path, AMARA_ROW), state, api, options)

    assert plan.tool_version == __version__
    assert plan.created_at == "2026-03-25T12:00:00+00:00"
    assert plan.base_url == BASE
    assert plan.input == InputInfo(
        name=str(tmp_path / "export.csv"),
        sha256="abc123",
        format="csv",
        rows=1,
        path=str((tmp_path / "export.csv").resolve()),
    )
    assert plan.options == options
    assert plan.refused is None


def test_changed_row_is_planned_against_the_live_user(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    plan = plan_of(export(tmp_path, AMARA_ROW), state, api)

    (user,) = plan.users
    assert (user.user_id, user.line, user.matched_by, user.name) == (101, 2, "id", "Amara Okafor")
    assert user.external_id == "M-0001"
    assert user.changes == (
        FieldChange(
            field="telephone", before="+1 416 555 0101", after="+1 416 555 0199", provenance="live"
        ),
    )
    assert user.body == {
        "first_name": "Amara",
        "last_name": "Okafor",
        "email": "amara.okafor@example.org",
        "telephone": "+1 416 555 0199",
    }
    assert user.updated_at == UPDATED_AT
    assert user.email_change is None
    assert api.calls == [("get_user", 101)]
    assert plan.summary() == "1 user to update, 0 unchanged"


def test_cosmetic_only_row_is_verified_unchanged(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    plan = plan_of(export(tmp_path, AMARA_SAME), state, api)

    assert plan.users == ()
    (same,) = plan.unchanged
    assert (same.user_id, same.line, same.verified) == (101, 2, True)
    assert api.calls == [("get_user", 101)]


def test_unchanged_row_with_the_snapshot_hash_costs_no_api_call(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    intake = export(tmp_path, AMARA_ROW)
    digest = plan_of(intake, state, api).users[0].source_hash
    state.snapshot(101, source_hash=digest)
    api.calls.clear()

    plan = plan_of(intake, state, api)

    assert api.calls == []
    assert plan.users == ()
    (same,) = plan.unchanged
    assert (same.user_id, same.line, same.verified, same.source_hash) == (101, 2, False, digest)
    assert plan.summary() == "0 users to update, 1 unchanged"


def test_progress_hears_the_row_count_first_then_every_row_planned_read_or_not(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    intake = export(
        tmp_path,
        AMARA_ROW,
        "M-0006,106,Farid,Haddad,farid@example,,",  # invalid: planned, never read
        "M-0002,102,Bruno,Lefèvre,bruno.lefevre@example.org,1,",
    )
    heard: list[PlanProgress] = []

    build_plan(
        intake,
        state=state,
        client=api,
        options=PlanOptions(),
        base_url=BASE,
        input_sha256=None,
        concurrency=2,
        progress=heard.append,
    )

    assert heard[0] == PlanProgress(planned=0, rows=3, read=0)
    assert [p.planned for p in heard] == [0, 1, 2, 3]
    assert heard[-1] == PlanProgress(planned=3, rows=3, read=2)
    assert len(api.calls) == 2


def test_full_refresh_re_reads_a_row_whose_hash_is_recorded(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    intake = export(tmp_path, AMARA_ROW)
    digest = plan_of(intake, state, api).users[0].source_hash
    state.snapshot(101, source_hash=digest)
    api.calls.clear()

    plan = plan_of(intake, state, api, PlanOptions(full_refresh=True))

    assert api.calls == [("get_user", 101)]
    assert [u.user_id for u in plan.users] == [101]


def test_row_hash_depends_on_which_blanks_would_clear(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    intake = export(tmp_path, "M-0001,101,Amara,Okafor,amara.okafor@example.org,,")
    state.snapshot(101, source_hash=plan_of(intake, state, api).unchanged[0].source_hash)
    api.calls.clear()

    plan = plan_of(intake, state, api, PlanOptions(allow_clear=("telephone",)))

    assert api.calls == [("get_user", 101)]
    assert [(c.field, c.after) for c in plan.users[0].changes] == [("telephone", None)]
    assert plan.summary() == "1 user to update, 0 unchanged, 1 field cleared"


def test_user_matched_by_two_rows_is_reported_on_both_and_planned_on_neither(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.emails["amara@home.example.org"] = [101]
    intake = export(tmp_path, AMARA_ROW, "M-0100,,Amara,Okafor,amara@home.example.org,,Toronto")

    plan = plan_of(intake, state, api)

    assert plan.users == ()
    assert plan.unchanged == ()
    assert plan.issues == (
        RowIssue(
            line=2,
            kind="ambiguous",
            message="Matches the same Communal user 101 as line(s) 3; none of these rows is "
            "pushed. Keep one row per person.",
        ),
        RowIssue(
            line=3,
            kind="ambiguous",
            message="Matches the same Communal user 101 as line(s) 2; none of these rows is "
            "pushed. Keep one row per person.",
        ),
    )
    assert plan.summary() == "0 users to update, 0 unchanged, 2 ambiguous"


def test_email_change_of_a_known_person_is_shown_as_an_email_change(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.externals["M-0005"] = 105
    state.snapshot(
        105,
        pushed={"email": "elif.yilmaz@example.org"},
        pushed_email="elif.yilmaz@example.org",
    )

    plan = plan_of(export(tmp_path, "M-0005,,Elif,Yılmaz,elif.y@example.org,,"), state, api)

    (user,) = plan.users
    assert user.matched_by == "external_id"
    assert user.email_change == EmailChange(old="elif.yilmaz@example.org", new="elif.y@example.org")
    assert user.changes == (
        FieldChange(
            field="email",
            before="elif.yilmaz@example.org",
            after="elif.y@example.org",
            provenance="live",
        ),
    )
    assert user.body == {"first_name": "Elif", "last_name": "Yılmaz", "email": "elif.y@example.org"}


def test_same_email_in_another_case_is_no_email_change(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.externals["M-0005"] = 105
    state.snapshot(105, pushed_email="Elif.Yilmaz@example.org")

    plan = plan_of(export(tmp_path, "M-0005,,Elif,Yılmaz,elif.yilmaz@EXAMPLE.org,,"), state, api)

    assert plan.users == ()
    assert [u.user_id for u in plan.unchanged] == [105]


def test_user_missing_in_communal_is_an_unmatched_row(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    plan = plan_of(export(tmp_path, "M-0999,999,Zed,Newman,zed@example.org,,"), state, api)

    assert plan.users == ()
    assert plan.issues == (
        RowIssue(
            line=2,
            kind="unmatched",
            field="id",
            value="999",
            message="Communal has no user 999 (matched by id). Check the id, or re-link this "
            "person.",
        ),
    )
    assert api.calls == [("get_user", 999)]


def test_unknown_person_is_unmatched_without_any_api_call(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    plan = plan_of(export(tmp_path, "M-0999,,Zed,Newman,zed@example.org,,"), state, api)

    (issue,) = plan.issues
    assert (issue.line, issue.kind, issue.field, issue.value) == (
        2,
        "unmatched",
        "email",
        "zed@example.org",
    )
    assert api.calls == []


def test_discover_finds_an_unknown_person_by_program_signup(
    tmp_path: Path, state: FakeState
) -> None:
    api = FakeApi(
        USERS,
        (
            {
                "id": 501,
                "user_id": 113,
                "associated_email": "nadia.rahman@example.org",
                "user": {"id": 113, "email": "nadia.rahman@example.org"},
            },
        ),
    )
    intake = export(tmp_path, "M-0013,,Nadia,Rahman,nadia.rahman@example.org,,Winnipeg")

    plan = plan_of(intake, state, api, PlanOptions(discover=True))

    assert [(u.user_id, u.matched_by) for u in plan.users] == [(113, "discover")]
    assert api.calls == [
        ("search", "nadia.rahman@example.org (active)"),
        ("search", "nadia.rahman@example.org (cancelled)"),
        ("transactions", "nadia.rahman@example.org"),
        ("get_user", 113),
    ]


def test_invalid_row_is_reported_and_costs_no_api_call(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    plan = plan_of(
        export(tmp_path, AMARA_ROW, "M-0006,106,Farid,Haddad,farid@example,,"), state, api
    )

    (issue,) = plan.issues
    assert (issue.line, issue.kind, issue.field, issue.value) == (
        3,
        "invalid",
        "email",
        "farid@example",
    )
    assert api.calls == [("get_user", 101)]
    assert plan.summary() == "1 user to update, 0 unchanged, 1 invalid"


def test_file_without_valid_rows_is_refused(tmp_path: Path, state: FakeState, api: FakeApi) -> None:
    plan = plan_of(export(tmp_path, "M-0006,106,Farid,Haddad,farid@example,,"), state, api)

    assert plan.refused == (
        "The input has no valid rows, so nothing would be synchronized; "
        "check the file and its column mapping."
    )


def test_plan_over_the_change_limit_is_refused_but_complete(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    intake = export(tmp_path, AMARA_ROW, "M-0002,102,Bruno,Lefèvre,bruno.lefevre@example.org,1,")

    plan = plan_of(intake, state, api, PlanOptions(max_changes="1"))

    assert [u.user_id for u in plan.users] == [101, 102]
    assert plan.refused is not None
    assert plan.refused.startswith("2 users would change, more than --max-changes 1.")


# --- conflicts and the recorded base ------------------------------------------------------

DANA_ROW = "M-0004,104,Dana,Whitfield-Boyd,dana.whitfield@example.org,+1 902 555 0199,Halifax"
DANA_BASE = {
    "first_name": "Dana",
    "last_name": "Whitfield-Smith",
    "email": "dana.whitfield@example.org",
    "telephone": "1",
}


def test_conflict_is_reported_and_its_field_left_out_of_body_and_pushed(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.snapshot(104, pushed=DANA_BASE, user={"profile_city": "Halifax"})

    plan = plan_of(export(tmp_path, DANA_ROW), state, api)

    (user,) = plan.users
    assert user.conflicts == (
        Conflict(
            field="last_name",
            base="Whitfield-Smith",
            current="Whitfield",
            source="Whitfield-Boyd",
            resolution="skipped",
        ),
    )
    assert [c.field for c in user.changes] == ["telephone"]
    assert user.body == {
        "first_name": "Dana",
        "last_name": "Whitfield",
        "email": "dana.whitfield@example.org",
        "telephone": "+1 902 555 0199",
    }
    assert user.pushed == {
        "first_name": "Dana",
        "email": "dana.whitfield@example.org",
        "telephone": "+1 902 555 0199",
        "profile_city": "Halifax",
    }
    assert plan.summary() == "1 user to update, 0 unchanged, 1 conflict"


def test_conflict_resolved_for_the_source_is_sent_and_recorded(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.snapshot(104, pushed=DANA_BASE, user={"profile_city": "Halifax"})

    plan = plan_of(export(tmp_path, DANA_ROW), state, api, PlanOptions(on_conflict="source"))

    (user,) = plan.users
    assert user.conflicts[0].resolution == "source"
    assert user.body is not None and user.body["last_name"] == "Whitfield-Boyd"
    assert user.pushed["last_name"] == "Whitfield-Boyd"


def test_conflict_alone_is_reported_but_nothing_is_sent(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.snapshot(104, pushed=DANA_BASE, user={"profile_city": "Halifax"})
    row = "M-0004,104,Dana,Whitfield-Boyd,dana.whitfield@example.org,1,Halifax"

    plan = plan_of(export(tmp_path, row), state, api)

    (user,) = plan.users
    assert user.body is None
    assert plan.to_update == ()
    assert plan.summary() == "0 users to update, 0 unchanged, 1 conflict"


def test_edit_made_only_in_communal_stands_and_keeps_its_base(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    state.snapshot(104, pushed={**DANA_BASE, "last_name": "Whitfield-Boyd"})

    plan = plan_of(export(tmp_path, DANA_ROW), state, api)

    (user,) = plan.users
    assert user.conflicts == ()
    assert [c.field for c in user.changes] == ["telephone", "profile_city"]
    assert user.body is not None and user.body["last_name"] == "Whitfield"
    assert "last_name" not in user.pushed


def test_blank_cells_are_not_recorded_as_pushed(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    plan = plan_of(
        export(tmp_path, "M-0001,101,Amara,Okafor,amara.okafor@example.org,,Toronto"), state, api
    )

    (user,) = plan.users
    assert user.pushed == {
        "first_name": "Amara",
        "last_name": "Okafor",
        "email": "amara.okafor@example.org",
        "profile_city": "Toronto",
    }


@pytest.mark.parametrize(
    ("snapshot_city", "file_city", "changes"),
    [
        (None, "Toronto", [("profile_city", None, "Toronto", "unknown")]),
        ("Toronto", "Toronto", []),
        ("Ottawa", "Toronto", [("profile_city", "Ottawa", "Toronto", "snapshot")]),
    ],
)
def test_address_is_compared_with_the_snapshot_or_planned_as_unknown(
    tmp_path: Path,
    state: FakeState,
    api: FakeApi,
    snapshot_city: str | None,
    file_city: str,
    changes: list[tuple[str, str | None, str, str]],
) -> None:
    if snapshot_city is not None:
        state.snapshot(101, user={"profile_city": snapshot_city})
    row = f"M-0001,101,Amara,Okafor,amara.okafor@example.org,,{file_city}"

    plan = plan_of(export(tmp_path, row), state, api)

    planned = [(c.field, c.before, c.after, c.provenance) for u in plan.users for c in u.changes]
    assert planned == changes


def test_rows_are_planned_in_file_order_whatever_the_concurrency(
    tmp_path: Path, state: FakeState, api: FakeApi
) -> None:
    lines = [
        f"M-{uid},{uid},{u['first_name']},{u['last_name']},{u['email']},+1 204 555 0{uid},"
        for uid, u in sorted(USERS.items())
    ]

    plan = plan_of(export(tmp_path, *lines), state, api, concurrency=4)

    assert [u.user_id for u in plan.users] == sorted(USERS)
    assert [u.line for u in plan.users] == [2, 3, 4, 5, 6]


class RevokedKeyApi(FakeApi):
    """Every read fails as with a revoked key."""

    def get_user(self, user_id: int) -> User:
        self.calls.append(("get_user", user_id))
        raise Unauthenticated("The API key was refused.", status=401)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_fatal_api_error_stops_planning_after_the_requests_in_flight(
    tmp_path: Path, state: FakeState, concurrency: int
) -> None:
    api = RevokedKeyApi(USERS)
    lines = [f"M-{n},{n},Ann,Lee,ann{n}@example.org,," for n in range(1000, 1200)]

    with pytest.raises(Unauthenticated):
        plan_of(export(tmp_path, *lines), state, api, concurrency=concurrency)

    assert 1 <= len(api.calls) <= GET_LOOKAHEAD * concurrency


# --- the real client against pytest-httpx: reads only -------------------------------------

NIGHTLY = (
    "M-0001,101,Amara,Okafor,amara.okafor@example.org,+1 416 555 0199,Toronto",
    "M-0002,102,Bruno,Lefèvre,Bruno.Lefevre@Example.org,514 555 0102,Montréal",
    "M-0005,,Elif,Yılmaz,elif.y@example.org,,Calgary",
    "M-0006,106,Farid,Haddad,farid@example,,",
    "M-0099,,Zed,Newman,zed@example.org,,",
)


@pytest.fixture
def client() -> Iterator[CommunalClient]:
    with CommunalClient("sk_test_plan", base_url=BASE, retry=NO_RETRY) as real:
        yield real


def real_plan(intake: Intake, state_path: Path, client: CommunalClient, **options: Any) -> Plan:
    with open_state(state_path) as store:
        return plan_of(intake, store, client, PlanOptions(**options), concurrency=4)


def test_dry_run_sends_only_the_expected_gets(
    tmp_path: Path, httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    for user in (AMARA, BRUNO, ELIF):
        httpx_mock.add_response(method="GET", url=f"{BASE}/users/{user['id']}", json=user)
    with open_state(tmp_path / "state.db") as store:
        store.identity.link(105, external_id="M-0005", source="link")

    plan = real_plan(export(tmp_path, *NIGHTLY), tmp_path / "state.db", client)

    requests = sorted((r.method, str(r.url)) for r in httpx_mock.get_requests())
    assert requests == [
        ("GET", f"{BASE}/users/101"),
        ("GET", f"{BASE}/users/102"),
        ("GET", f"{BASE}/users/105"),
    ]
    assert plan.summary() == "3 users to update, 0 unchanged, 1 invalid, 1 unmatched"


def test_discover_searches_active_and_cancelled_signups_and_transactions_with_gets(
    tmp_path: Path, httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    signups = f"{BASE}/program_signups?filter%5Bquery%5D=nadia.rahman%40example.org&include=user"
    empty = {"data": [], "current_page": 1, "last_page": 1}
    httpx_mock.add_response(
        url=f"{signups}&filter%5Bsignup_status%5D=active",
        match_headers={"X-Api-Version": "2026-08-25"},
        json=empty,
    )
    httpx_mock.add_response(
        url=f"{signups}&filter%5Bsignup_status%5D=cancelled",
        match_headers={"X-Api-Version": "2026-08-25"},
        json={
            **empty,
            "data": [
                {
                    "id": 501,
                    "user_id": 113,
                    "associated_email": "nadia.rahman@example.org",
                    "user": {"id": 113, "email": "nadia.rahman@example.org"},
                    "cancelled_at": "2026-02-10T15:00:00.000000Z",
                }
            ],
        },
    )
    httpx_mock.add_response(
        url=f"{BASE}/transactions?filter%5Bquery%5D=nadia.rahman%40example.org&page%5Bsize%5D=100",
        match_headers={"X-Api-Version": "2026-08-25"},
        json=empty,
    )
    httpx_mock.add_response(method="GET", url=f"{BASE}/users/113", json=NADIA)
    intake = export(tmp_path, "M-0013,,Nadia,Rahman,nadia.rahman@example.org,,Winnipeg")

    plan = real_plan(intake, tmp_path / "state.db", client, discover=True)

    assert [(u.user_id, u.matched_by) for u in plan.users] == [(113, "discover")]
    assert [r.method for r in httpx_mock.get_requests()] == ["GET"] * 4


def test_every_row_recorded_unchanged_sends_no_request_at_all(
    tmp_path: Path, httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    intake = export(tmp_path, *NIGHTLY[:3])
    fake = FakeState()
    fake.externals["M-0005"] = 105
    hashes = {u.user_id: u.source_hash for u in plan_of(intake, fake, FakeApi(USERS)).users}
    assert sorted(hashes) == [101, 102, 105]
    with open_state(tmp_path / "state.db") as store:
        store.identity.link(105, external_id="M-0005", source="link")
        for user_id, digest in hashes.items():
            store.snapshots.save(user_id, user={}, pushed={}, source_hash=digest)

    plan = real_plan(intake, tmp_path / "state.db", client)

    assert httpx_mock.get_requests() == []
    assert sorted(u.user_id for u in plan.unchanged) == [101, 102, 105]
    assert plan.summary() == "0 users to update, 3 unchanged"


# --- a user that cannot be read ------------------------------------------------------------


class FlakyApi(FakeApi):
    """Answers every read but those of ``down``, which fail as a network error would."""

    def __init__(self, users: dict[int, dict[str, Any]], down: set[int]) -> None:
        super().__init__(users)
        self.down = down

    def get_user(self, user_id: int) -> User:
        if user_id in self.down:
            self.calls.append(("get_user", user_id))
            raise TransportError(f"No usable answer from the API for user {user_id}.")
        return super().get_user(user_id)


def test_a_user_that_cannot_be_read_is_reported_unreachable_and_the_rest_planned(
    tmp_path: Path, state: FakeState
) -> None:
    api = FlakyApi(USERS, down={101})
    intake = export(tmp_path, AMARA_ROW, DANA_ROW)

    plan = plan_of(intake, state, api)

    assert [u.user_id for u in plan.to_update] == [104]
    (issue,) = plan.issues
    assert (issue.line, issue.kind, issue.field, issue.value) == (2, "unreachable", "id", "101")
    assert issue.message == (
        "Could not read user 101 from Communal: No usable answer from the API for user 101. "
        "The row was not planned; run again."
    )
    assert plan.has_row_problems
    assert "1 unreachable" in plan.summary()


def test_a_run_of_unreadable_users_stops_the_plan_as_the_api_being_down(
    tmp_path: Path, state: FakeState
) -> None:
    ids = range(2001, 2001 + UNREACHABLE_STREAK_LIMIT)
    users = {i: resource(i, "Member", f"N{i}", f"m{i}@example.org") for i in ids}
    rows = [f"M-{i},{i},Member,Changed{i},m{i}@example.org,," for i in ids]
    api = FlakyApi(users, down=set(ids))

    with pytest.raises(TransportError):
        plan_of(export(tmp_path, *rows), state, api)


@pytest.mark.parametrize(
    "decisive",
    [
        {"on_conflict": "source"},
        {"on_conflict": "communal"},
        {"trust_ids": True},
        {"default_region": "CA"},
        {"custom_fields": "headers"},
    ],
)
def test_an_option_that_decides_the_plan_changes_the_rows_fingerprint(
    decisive: dict[str, Any],
) -> None:
    values = {"first_name": "Ada", "email": "ada@example.org"}
    default = source_hash(values, [], PlanOptions())

    assert source_hash(values, [], PlanOptions(**decisive)) != default
    assert source_hash(values, [], PlanOptions(**decisive)) == source_hash(
        values, [], PlanOptions(**decisive)
    )


def test_options_that_do_not_decide_a_rows_plan_leave_its_fingerprint_alone() -> None:
    values = {"first_name": "Ada", "email": "ada@example.org"}
    undecisive = PlanOptions(max_changes="10", max_clears=3, full_refresh=True, discover=True)

    assert source_hash(values, [], undecisive) == source_hash(values, [], PlanOptions())
    assert source_hash(values, [], PlanOptions()) == source_hash(values, [])


def test_field_counts_tell_first_time_writes_and_clears_apart_per_field() -> None:
    from communal_sync.plan import (
        Conflict,
        FieldChange,
        InputInfo,
        Plan,
        PlanOptions,
        UserPlan,
    )

    def user(user_id: int, *changes: FieldChange, conflicts: tuple[Conflict, ...] = ()) -> UserPlan:
        return UserPlan(
            user_id=user_id,
            line=user_id + 1,
            matched_by="id",
            name=f"User {user_id}",
            changes=changes,
            conflicts=conflicts,
            body={"first_name": "A"},
            source_hash=None,
        )

    address_first = FieldChange(
        field="profile_address", before=None, after="1 King St", provenance="unknown"
    )
    address_move = FieldChange(
        field="profile_address", before="1 King St", after="2 Queen St", provenance="snapshot"
    )
    phone = FieldChange(field="telephone", before="1", after="2", provenance="live")
    phone_clear = FieldChange(field="telephone", before="1", after=None, provenance="live")
    conflict = Conflict(
        field="email", base="a@x", current="b@x", source="c@x", resolution="skipped"
    )
    plan = Plan(
        tool_version="t",
        created_at="2026-12-03T00:00:00Z",
        base_url="http://127.0.0.1",
        input=InputInfo(name="users.csv", sha256=None, format="csv", rows=4),
        options=PlanOptions(),
        users=(
            user(1, address_first, phone),
            user(2, address_first),
            user(3, address_move, phone_clear, conflicts=(conflict,)),
        ),
    )
    counts = {c.field: c for c in plan.field_counts()}
    assert list(counts) == ["profile_address", "telephone", "email"]
    address = counts["profile_address"]
    assert (address.users, address.first_time, address.unverified, address.clears) == (3, 2, 1, 0)
    assert address.real_changes == 1
    telephone = counts["telephone"]
    assert (telephone.users, telephone.first_time, telephone.clears) == (2, 0, 1)
    assert (counts["email"].users, counts["email"].conflicts) == (0, 1)
    assert plan.first_time_writes == 2
