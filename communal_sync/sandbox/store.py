"""The sandbox's organization in memory: users, keys, custom fields, values and signups.

Records are kept as JSON-ready dicts in the seed format, so the state can be dumped and fed
back as a seed. The store is not thread-safe by itself: the server holds one lock around
every call. Timestamps come from an injectable clock and strictly increase, so two updates
in the same microsecond (or under a frozen test clock) still get distinct ``updated_at``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from communal_sync.sandbox.seed import DEFAULT_MANAGER_KEY, SandboxSeed, full_name
from communal_sync.sandbox.seed_time import format_timestamp, parse_timestamp

Record = dict[str, Any]
Clock = Callable[[], datetime]

_TICK = timedelta(microseconds=1)


def system_clock() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Caller:
    """Who a bearer key belongs to."""

    user_id: int | None
    manager: bool

    def may_act_on(self, user_id: int) -> bool:
        """Whether this key may read or write ``user_id``: managers anyone, members themselves."""
        return self.manager or self.user_id == user_id


class Store:
    """The organization's current records, and the operations the API performs on them."""

    def __init__(self, seed: SandboxSeed, *, clock: Clock = system_clock) -> None:
        self._clock = clock
        self.tenant_id = seed.tenant_id
        dumped = seed.model_dump(mode="json")
        self.api_keys: list[Record] = dumped["api_keys"] or [
            {"key": DEFAULT_MANAGER_KEY, "user_id": None, "manager": True}
        ]
        self.users: dict[int, Record] = {u["id"]: u for u in dumped["users"]}
        self._owners: dict[tuple[int | None, str], set[int]] = {}
        for user in self.users.values():
            if user["email"]:
                self._owners.setdefault(_owner_key(user, user["email"]), set()).add(user["id"])
        self.fields: dict[int, Record] = {f["id"]: f for f in dumped["custom_profile_fields"]}
        self.values: dict[int, Record] = {v["id"]: v for v in dumped["custom_profile_field_values"]}
        self.signups: dict[int, Record] = {s["id"]: s for s in dumped["program_signups"]}
        self.memberships: dict[int, Record] = {m["id"]: m for m in dumped["user_memberships"]}
        self.transactions: dict[int, Record] = {t["id"]: t for t in dumped["transactions"]}
        self._next_value_id = max(self.values, default=0) + 1
        self._last_tick = max(
            (parse_timestamp(stamp) for stamp in self._seed_timestamps()),
            default=datetime(1970, 1, 1, tzinfo=UTC),
        )

    def _seed_timestamps(self) -> list[str]:
        records = [*self.users.values(), *self.fields.values(), *self.values.values()]
        records += list(self.signups.values())
        return [r[k] for r in records for k in ("created_at", "updated_at") if r.get(k)]

    def now(self) -> str:
        """A timestamp strictly later than any this store has issued or was seeded with."""
        moment = self._clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if moment <= self._last_tick:
            moment = self._last_tick + _TICK
        self._last_tick = moment
        return format_timestamp(moment)

    def current_time(self) -> datetime:
        """The clock's time now, for judging what has expired (issues no timestamp)."""
        moment = self._clock()
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    @property
    def manager_key(self) -> str:
        """The first manager key, for printing and for embedding callers."""
        return next((k["key"] for k in self.api_keys if k["manager"]), DEFAULT_MANAGER_KEY)

    def caller(self, key: str) -> Caller | None:
        """The owner of ``key``, or None for an unknown key."""
        for entry in self.api_keys:
            if entry["key"] == key:
                return Caller(user_id=entry["user_id"], manager=entry["manager"])
        return None

    def email_taken(self, email: str, *, except_user: int) -> bool:
        """Whether another user of the same tenant has ``email``, case-insensitively."""
        key = _owner_key(self.users[except_user], email)
        return bool(self._owners.get(key, set()) - {except_user})

    def update_user(self, user_id: int, changes: Record) -> Record:
        """Apply validated profile changes; ``name`` follows first/last, ``updated_at`` moves."""
        user = self.users[user_id]
        if "email" in changes:
            if user["email"]:
                self._owners.get(_owner_key(user, user["email"]), set()).discard(user_id)
            self._owners.setdefault(_owner_key(user, changes["email"]), set()).add(user_id)
        user.update(changes)
        user["name"] = full_name(user["first_name"], user["last_name"])
        user["updated_at"] = self.now()
        return user

    def live_field(self, field_id: int) -> Record | None:
        """The custom profile field ``field_id`` unless missing or soft-deleted."""
        found = self.fields.get(field_id)
        return found if found is not None and found["deleted_at"] is None else None

    def live_fields(self) -> list[Record]:
        """Every custom profile field that is not soft-deleted, by id."""
        return [f for _, f in sorted(self.fields.items()) if f["deleted_at"] is None]

    def live_values(self) -> list[Record]:
        """Every stored custom profile field value whose field is live, by id."""
        return [
            v
            for _, v in sorted(self.values.items())
            if v["deleted_at"] is None and self.live_field(v["custom_profile_field_id"])
        ]

    def find_value(self, user_id: int, field_id: int) -> Record | None:
        """The value ``user_id`` holds for ``field_id``, if any."""
        return next(
            (
                v
                for v in self.live_values()
                if v["user_id"] == user_id and v["custom_profile_field_id"] == field_id
            ),
            None,
        )

    def store_value(self, user_id: int, field_id: int, value: str) -> Record:
        """Create or overwrite the user's value of the field (one value per user and field)."""
        existing = self.find_value(user_id, field_id)
        if existing is not None:
            return self.set_value(existing["id"], value)
        stamp = self.now()
        record: Record = {
            "id": self._next_value_id,
            "tenant_id": self.tenant_id,
            "value": value,
            "user_id": user_id,
            "custom_profile_field_id": field_id,
            "created_at": stamp,
            "updated_at": stamp,
            "deleted_at": None,
        }
        self._next_value_id += 1
        self.values[record["id"]] = record
        return record

    def set_value(self, value_id: int, value: str) -> Record:
        """Overwrite a stored value; ``updated_at`` moves even if the text is the same."""
        record = self.values[value_id]
        record["value"] = value
        record["updated_at"] = self.now()
        return record

    def clear_value(self, user_id: int, field_id: int) -> None:
        """Delete the user's value of the field, if there is one (clearing twice is fine)."""
        existing = self.find_value(user_id, field_id)
        if existing is not None:
            del self.values[existing["id"]]

    def live_signups(self, *, with_trashed: bool = False) -> list[Record]:
        """Program signups by id; soft-deleted ones only when asked."""
        return [
            s
            for _, s in sorted(self.signups.items())
            if with_trashed or s["deleted_timestamp"] is None
        ]

    def dump(self) -> Record:
        """The whole state in the seed format (a deep copy, safe to hand out)."""
        return {
            "tenant_id": self.tenant_id,
            "api_keys": [dict(k) for k in self.api_keys],
            "users": [dict(u) for _, u in sorted(self.users.items())],
            "custom_profile_fields": [dict(f) for _, f in sorted(self.fields.items())],
            "custom_profile_field_values": [dict(v) for _, v in sorted(self.values.items())],
            "program_signups": [dict(s) for _, s in sorted(self.signups.items())],
            "user_memberships": [dict(m) for _, m in sorted(self.memberships.items())],
            "transactions": [dict(t) for _, t in sorted(self.transactions.items())],
        }


def _owner_key(user: Record, email: str) -> tuple[int | None, str]:
    """Emails are unique per tenant: the key a user's email is owned under."""
    return user.get("tenant_id"), email.casefold()
