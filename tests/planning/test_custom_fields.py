"""Custom profile fields: resolving ``custom:<name>`` columns, planning and applying values.

Resolution and the value bookkeeping are pure; planning runs against fakes (and once
against pytest-httpx, which fails on any request not registered); the resume test runs
the real client against the sandbox with a connection dropped after the POST landed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from communal_sync.api.client import CommunalClient
from communal_sync.api.models import (
    CustomProfileField,
    CustomProfileFieldValue,
    ProgramSignup,
    User,
)
from communal_sync.api.retry import NO_RETRY
from communal_sync.applying.apply import apply_plan
from communal_sync.errors import ConfigError, NotFound
from communal_sync.intake.mapping import ColumnMapping
from communal_sync.intake.pipeline import Intake, IntakeOptions, open_intake
from communal_sync.plan import CurrentValue, CustomWrite, FieldChange, Plan, PlanOptions
from communal_sync.planning.custom_fields import (
    NO_CUSTOM_FIELDS,
    CustomFieldMode,
    CustomFields,
    adopt_custom_headers,
    custom_source,
    prepare_custom_fields,
    resolve_custom_fields,
)
from communal_sync.planning.planner import build_plan
from communal_sync.sandbox import Faults, Sandbox
from communal_sync.state import Snapshot, open_state

BASE = "https://api.getcommunal.com/api"
NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
UPDATED_AT = "2026-01-15T09:30:00.000000Z"

TSHIRT = CustomProfileField(id=1, name="T-shirt size", locked=False)
DIET = CustomProfileField(id=2, name="Dietary needs", locked=False)
TIER = CustomProfileField(id=3, name="Membership tier", locked=True)
DEFINITIONS = [TSHIRT, DIET, TIER]
EXISTING = "'Dietary needs', 'Membership tier', 'T-shirt size'"
FIX_HINT = 'Fix the name in --map "Column=custom:<name>" or the config file.'

SHIRT = "custom:T-shirt size"
DIETARY = "custom:Dietary needs"


def mapping(columns: dict[str, str], unmapped: list[str] | None = None) -> ColumnMapping:
    return ColumnMapping(columns=columns, unmapped=unmapped or [], ignored=[])


def value(value_id: int, user_id: int, field_id: int, text: str | None) -> CustomProfileFieldValue:
    return CustomProfileFieldValue(
        id=value_id, user_id=user_id, custom_profile_field_id=field_id, value=text
    )


class Definitions:
    """A definitions reader that counts its calls."""

    def __init__(self, definitions: list[CustomProfileField]) -> None:
        self.definitions = definitions
        self.calls = 0

    def list_custom_profile_fields(self) -> list[CustomProfileField]:
        self.calls += 1
        return list(self.definitions)


class NoApi:
    """A client that must not be called: any request fails the test."""

    def list_custom_profile_fields(self) -> list[CustomProfileField]:
        raise AssertionError("no request was expected")


# --- resolution -----------------------------------------------------------------------------


def test_custom_field_name_resolves_ignoring_case() -> None:
    fields = resolve_custom_fields(["custom:t-shirt SIZE"], DEFINITIONS)

    assert fields.writable == {"custom:t-shirt SIZE": TSHIRT}
    assert fields.locked == {}
    assert fields.active


def test_custom_field_name_must_otherwise_match_exactly() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_custom_fields(["custom:T shirt size"], DEFINITIONS)

    assert str(raised.value) == (
        f"'T shirt size' is not a custom profile field in Communal. "
        f"The custom fields there are: {EXISTING}. {FIX_HINT}"
    )


def test_every_unknown_name_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_custom_fields(["custom:Shoe size", SHIRT, "custom:Allergies"], DEFINITIONS)

    assert str(raised.value) == (
        "'Shoe size' is not a custom profile field; 'Allergies' is not a custom profile "
        f"field in Communal. The custom fields there are: {EXISTING}. {FIX_HINT}"
    )


def test_two_definitions_with_one_name_are_refused() -> None:
    twin = CustomProfileField(id=9, name="t-shirt size", locked=False)

    with pytest.raises(ConfigError) as raised:
        resolve_custom_fields([SHIRT], [*DEFINITIONS, twin])

    assert str(raised.value).startswith("'T-shirt size' names several fields in Communal. ")


def test_deleted_definition_is_neither_resolved_nor_offered() -> None:
    gone = CustomProfileField(id=7, name="Locker", deleted_at="2026-02-01T00:00:00.000000Z")

    with pytest.raises(ConfigError) as raised:
        resolve_custom_fields(["custom:Locker"], [*DEFINITIONS, gone])

    assert str(raised.value) == (
        f"'Locker' is not a custom profile field in Communal. "
        f"The custom fields there are: {EXISTING}. {FIX_HINT}"
    )


def test_organization_without_custom_fields_says_none_exist() -> None:
    with pytest.raises(ConfigError, match=r"The custom fields there are: none\. "):
        resolve_custom_fields([SHIRT], [])


def test_locked_field_is_read_only_and_warned_about() -> None:
    fields = resolve_custom_fields(["custom:membership tier", SHIRT], DEFINITIONS)

    assert fields.writable == {SHIRT: TSHIRT}
    assert fields.locked == {"custom:membership tier": TIER}
    assert fields.warnings() == (
        "Custom field 'Membership tier' is locked in Communal: its column is read but "
        "never written.",
    )
    assert not resolve_custom_fields(["custom:Membership tier"], DEFINITIONS).active


def test_headers_named_like_a_definition_are_adopted() -> None:
    before = mapping({"Email": "email"}, unmapped=["t-shirt size", "Notes", " Dietary Needs "])

    after = adopt_custom_headers(before, DEFINITIONS)

    assert after.columns == {
        "Email": "email",
        "t-shirt size": SHIRT,
        " Dietary Needs ": DIETARY,
    }
    assert after.unmapped == ["Notes"]
    assert adopt_custom_headers(mapping({}, ["Notes"]), DEFINITIONS) == mapping({}, ["Notes"])


def test_mode_off_drops_custom_columns_without_a_request() -> None:
    before = mapping({"Email": "email", "Shirt": SHIRT}, unmapped=["Dietary needs"])

    after, fields = prepare_custom_fields(before, NoApi(), "off")

    assert after.columns == {"Email": "email"}
    assert after.ignored == ["Shirt"]
    assert after.unmapped == ["Dietary needs"]
    assert fields is NO_CUSTOM_FIELDS


@pytest.mark.parametrize("mode", ["mapped", "off"])
def test_no_custom_column_means_no_request(mode: CustomFieldMode) -> None:
    before = mapping({"Email": "email"}, unmapped=["T-shirt size"])

    after, fields = prepare_custom_fields(before, NoApi(), mode)

    assert after == before
    assert fields is NO_CUSTOM_FIELDS
    assert not fields.active


def test_mapped_mode_reads_the_definitions_once_and_resolves() -> None:
    api = Definitions(DEFINITIONS)
    before = mapping({"Email": "email", "Shirt": "custom:T-SHIRT size"}, ["Dietary needs"])

    after, fields = prepare_custom_fields(before, api, "mapped")

    assert api.calls == 1
    # A header named like a field is not adopted in "mapped"; a mapped column is spelled
    # as its definition is, so a change of spelling never loses the remembered base.
    assert after.unmapped == before.unmapped
    assert after.columns == {"Email": "email", "Shirt": "custom:T-shirt size"}
    assert fields.writable == {"custom:T-shirt size": TSHIRT}


def test_headers_mode_adopts_columns_then_resolves() -> None:
    api = Definitions(DEFINITIONS)
    before = mapping({"Email": "email"}, ["Dietary needs", "Membership tier", "Notes"])

    after, fields = prepare_custom_fields(before, api, "headers")

    assert api.calls == 1
    assert after.columns == {
        "Email": "email",
        "Dietary needs": DIETARY,
        "Membership tier": "custom:Membership tier",
    }
    assert after.unmapped == ["Notes"]
    assert fields.writable == {DIETARY: DIET}
    assert fields.locked == {"custom:Membership tier": TIER}


# --- current values and writes ------------------------------------------------------------

FIELDS = CustomFields(writable={SHIRT: TSHIRT, DIETARY: DIET}, locked={})


def test_current_lists_a_missing_value_as_live_and_empty() -> None:
    current, ids = FIELDS.current([value(1, 101, 1, "M"), value(4, 101, 3, "Gold")])

    assert current == {
        SHIRT: CurrentValue("M", "live"),
        DIETARY: CurrentValue(None, "live"),
    }
    assert ids == {SHIRT: 1}


def test_current_treats_an_empty_stored_value_as_empty() -> None:
    current, ids = FIELDS.current([value(3, 102, 2, "")])

    assert current[DIETARY] == CurrentValue(None, "live")
    assert ids == {DIETARY: 3}


def change(field: str, before: str | None, after: str | None) -> FieldChange:
    return FieldChange(field=field, before=before, after=after, provenance="live")


def test_writes_create_update_and_clear() -> None:
    changes = [
        change("telephone", "1", "2"),
        change(SHIRT, "M", "L"),
        change(DIETARY, None, "Vegan"),
    ]

    writes = FIELDS.writes(changes, {SHIRT: 1})

    assert writes == (
        CustomWrite(field=SHIRT, field_id=1, name="T-shirt size", value_id=1, value="L"),
        CustomWrite(field=DIETARY, field_id=2, name="Dietary needs", value_id=None, value="Vegan"),
    )
    assert [w.operation for w in writes] == ["update", "create"]
    (clear,) = FIELDS.writes([change(DIETARY, "Vegetarian", None)], {DIETARY: 3})
    assert (clear.operation, clear.value_id, clear.value) == ("clear", 3, None)


def test_clearing_a_value_that_is_not_stored_writes_nothing() -> None:
    assert FIELDS.writes([change(DIETARY, None, None)], {}) == ()
    assert FIELDS.writes([change("custom:Membership tier", "Gold", None)], {}) == ()


def test_custom_source_trims_and_reads_blank_as_no_data() -> None:
    row = {"T-shirt size": "  L ", "Dietary needs": "   ", "Membership tier": "Gold"}

    assert custom_source(row, FIELDS) == {SHIRT: "L", DIETARY: None}


# --- planning -------------------------------------------------------------------------------

HEADER = "id,first_name,last_name,email,custom:T-shirt size,custom:Dietary needs"
AMARA = "101,Amara,Okafor,amara.okafor@example.org"
BRUNO = "102,Bruno,Lefèvre,bruno.lefevre@example.org"
NADIA = "113,Nadia,Rahman,nadia.rahman@example.org"


def resource(user_id: int, first: str, last: str, email: str) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "first_name": first,
        "last_name": last,
        "email": email,
        "updated_at": UPDATED_AT,
    }


USERS = {
    101: resource(101, "Amara", "Okafor", "amara.okafor@example.org"),
    102: resource(102, "Bruno", "Lefèvre", "bruno.lefevre@example.org"),
    113: resource(113, "Nadia", "Rahman", "nadia.rahman@example.org"),
}
VALUES = [value(1, 101, 1, "M"), value(2, 102, 1, "L"), value(3, 102, 2, "Vegetarian")]


class FakeState:
    def __init__(self) -> None:
        self.snapshots: dict[int, Snapshot] = {}

    def lookup_external_id(self, external_id: str) -> int | None:
        return None

    def lookup_email(self, email_key: str) -> list[int]:
        return []

    @property
    def identity(self) -> FakeState:
        """The identity map part: this object itself (``lookup_*``); ``snapshots`` is a dict."""
        return self


class FakeApi:
    """Users and custom values by user, with a log of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def get_user(self, user_id: int) -> User:
        self.calls.append(("get_user", user_id))
        if user_id not in USERS:
            raise NotFound(f"No user {user_id}.", status=404)
        return User.model_validate(USERS[user_id])

    def list_custom_profile_field_values(self, user_id: int) -> list[CustomProfileFieldValue]:
        self.calls.append(("values", user_id))
        return [v for v in VALUES if v.user_id == user_id]

    def list_custom_profile_fields(self) -> list[CustomProfileField]:
        return list(DEFINITIONS)

    def search_program_signups(
        self, query: str, *, user_id: int | None = None
    ) -> list[ProgramSignup]:
        raise AssertionError("no search was expected")


def export(tmp_path: Path, *rows: str) -> Intake:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return open_intake(str(path), IntakeOptions(), cwd=tmp_path)


def plan_of(intake: Intake, state: Any, api: Any, options: PlanOptions | None = None) -> Plan:
    intake.mapping, custom = prepare_custom_fields(intake.mapping, api, "mapped")
    return build_plan(
        intake,
        state=state,
        client=api,
        options=options or PlanOptions(),
        base_url=BASE,
        input_sha256=None,
        concurrency=1,
        custom=custom,
        now=lambda: NOW,
    )


def test_plan_creates_updates_and_leaves_equal_values_alone(tmp_path: Path) -> None:
    api = FakeApi()
    plan = plan_of(
        export(tmp_path, f"{AMARA},L,Vegan", f"{BRUNO},L, Vegetarian "), FakeState(), api
    )

    (amara,) = plan.users
    assert amara.body is None
    assert amara.changes == (change(SHIRT, "M", "L"), change(DIETARY, None, "Vegan"))
    assert [(w.operation, w.value_id, w.value) for w in amara.custom_writes] == [
        ("update", 1, "L"),
        ("create", None, "Vegan"),
    ]
    assert amara.pushed[SHIRT] == "L"
    (bruno,) = plan.unchanged
    assert (bruno.user_id, bruno.verified) == (102, True)
    assert bruno.pushed is not None and bruno.pushed[DIETARY] == "Vegetarian"
    assert api.calls == [("get_user", 101), ("values", 101), ("get_user", 102), ("values", 102)]
    assert plan.summary() == "1 user to update, 1 unchanged"


def test_blank_custom_cell_never_clears_by_default(tmp_path: Path) -> None:
    plan = plan_of(export(tmp_path, f"{BRUNO},,"), FakeState(), FakeApi())

    assert plan.users == ()
    assert [u.user_id for u in plan.unchanged] == [102]


@pytest.mark.parametrize("allowed", [DIETARY, "all"])
def test_allow_clear_lets_a_blank_custom_cell_clear_its_value(tmp_path: Path, allowed: str) -> None:
    plan = plan_of(
        export(tmp_path, f"{BRUNO},L,", f"{NADIA},,"),
        FakeState(),
        FakeApi(),
        PlanOptions(allow_clear=(allowed,)),
    )

    (bruno,) = plan.users
    assert bruno.changes == (change(DIETARY, "Vegetarian", None),)
    assert bruno.custom_writes == (
        CustomWrite(field=DIETARY, field_id=2, name="Dietary needs", value_id=3, value=None),
    )
    assert bruno.body is None
    assert [u.user_id for u in plan.unchanged] == [113]  # nothing stored, nothing to clear
    assert plan.summary() == "1 user to update, 1 unchanged, 1 field cleared"


def test_custom_value_is_part_of_the_row_hash(tmp_path: Path) -> None:
    state, api = FakeState(), FakeApi()
    first = plan_of(export(tmp_path, f"{AMARA},L,Vegan"), state, api)
    state.snapshots[101] = Snapshot(
        user_id=101,
        user={},
        pushed={},  # no base: the fake never took the push, so no three-way diff here
        source_hash=first.users[0].source_hash,
        external_id=None,
        pushed_email=None,
        pushed_at=NOW,
        run_id=1,
    )
    api.calls.clear()

    same = plan_of(export(tmp_path, f"{AMARA},L,Vegan"), state, api)
    assert api.calls == []
    assert [(u.user_id, u.verified) for u in same.unchanged] == [(101, False)]

    edited = plan_of(export(tmp_path, f"{AMARA},L,Vegetarian"), state, api)
    assert api.calls == [("get_user", 101), ("values", 101)]
    (amara,) = edited.users
    assert amara.source_hash != first.users[0].source_hash
    assert [(w.field, w.value) for w in amara.custom_writes] == [
        (SHIRT, "L"),
        (DIETARY, "Vegetarian"),
    ]


@pytest.fixture
def client() -> Iterator[CommunalClient]:
    with CommunalClient("sk_test_custom", base_url=BASE, retry=NO_RETRY) as real:
        yield real


def test_dry_run_of_custom_changes_sends_only_gets(
    tmp_path: Path, httpx_mock: HTTPXMock, client: CommunalClient
) -> None:
    def page(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"data": items, "current_page": 1, "last_page": 1}

    httpx_mock.add_response(
        url=f"{BASE}/custom_profile_fields",
        json=page([d.model_dump() for d in DEFINITIONS]),
    )
    httpx_mock.add_response(url=f"{BASE}/users/102", json=USERS[102])
    httpx_mock.add_response(
        url=f"{BASE}/custom_profile_field_values?filter%5Buser_id%5D=102",
        json=page([v.model_dump() for v in VALUES if v.user_id == 102]),
    )

    with open_state(tmp_path / "state.db") as store:
        plan = plan_of(
            export(tmp_path, f"{BRUNO},XL,"),
            store,
            client,
            PlanOptions(allow_clear=(DIETARY,)),
        )

    assert [(r.method, str(r.url)) for r in httpx_mock.get_requests()] == [
        ("GET", f"{BASE}/custom_profile_fields"),
        ("GET", f"{BASE}/users/102"),
        ("GET", f"{BASE}/custom_profile_field_values?filter%5Buser_id%5D=102"),
    ]
    (bruno,) = plan.users
    assert [(w.operation, w.value_id, w.value) for w in bruno.custom_writes] == [
        ("update", 2, "XL"),
        ("clear", 3, None),
    ]


# --- applying: a create is never sent twice -------------------------------------------------


def values_of(sandbox: Sandbox, user_id: int, field_id: int) -> list[str]:
    return [
        v["value"]
        for v in sandbox.state()["custom_profile_field_values"]
        if (v["user_id"], v["custom_profile_field_id"]) == (user_id, field_id)
    ]


def test_resume_finds_the_value_whose_post_landed_and_does_not_post_again(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    chen = "103,Chen,Wei,chen.wei@example.org,S,"
    with (
        CommunalClient(sandbox.manager_key, base_url=sandbox.base_url) as api,
        open_state(tmp_path / "state.db") as store,
    ):
        plan = plan_of(export(tmp_path, chen), store, api)
        (user,) = plan.to_update
        assert (user.body, [w.operation for w in user.custom_writes]) == (None, ["create"])
        run_id = store.journal.start_run(
            "push", input_name="export.csv", plan_json=plan.model_dump_json()
        )
        sandbox.clear_requests()

        sandbox.set_faults(Faults(drop_after_apply_rate=1.0))
        first = apply_plan(plan, client=api, store=store, run_id=run_id)

        assert [(o.user_id, o.status) for o in first.outcomes] == [(103, "failed")]
        assert [(e["method"], e["fault"]) for e in sandbox.requests()] == [
            ("POST", "drop_after_apply")  # stored, then the connection dropped: not retried
        ]
        assert values_of(sandbox, 103, 1) == ["S"]
        assert not any(op.startswith("cpfv:") for op, _ in store.journal.applied_operations(run_id))
        assert store.snapshots.get(103) is None  # no hash: the row is not "unchanged" yet

        sandbox.set_faults(Faults())
        sandbox.clear_requests()
        second = apply_plan(plan, client=api, store=store, run_id=run_id, verify=True)

        assert [(o.user_id, o.status) for o in second.outcomes] == [(103, "already")]
        assert [(e["method"], e["path"]) for e in sandbox.requests()] == [
            ("GET", "/api/custom_profile_field_values?filter%5Buser_id%5D=103")
        ]
        assert values_of(sandbox, 103, 1) == ["S"]
        failed, journalled = [
            r for r in store.journal.results(run_id) if r.operation == "cpfv:103:1"
        ]
        assert (failed.status, journalled.status) == ("failed", "applied")
        assert journalled.after is not None and journalled.after["value"] == "S"
        snapshot = store.snapshots.get(103)
        assert snapshot is not None
        assert snapshot.source_hash == user.source_hash
        assert snapshot.pushed[SHIRT] == "S"
