"""One matched row against its user's current record: unchanged, a user plan, or someone else.

The pure part of planning (no request, no state write): the identity check, the
three-way diff, the PUT body and the custom writes of one row whose user was read.
``planner.build_plan`` reads users concurrently and hands each one here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from communal_sync.api.models import CustomProfileFieldValue, User
from communal_sync.errors import ApiError
from communal_sync.fields import PROFILE_FIELDS
from communal_sync.identity.match import IDENTITY_FIELDS, identity_mismatch
from communal_sync.intake.profile_row import ProfileRow
from communal_sync.plan import (
    CurrentValue,
    EmailChange,
    MatchMethod,
    PlanOptions,
    RowIssue,
    Unchanged,
    UserPlan,
)
from communal_sync.planning.current import current_record
from communal_sync.planning.custom_fields import CustomFields
from communal_sync.planning.diff import FieldDiff, build_put_body, diff_fields
from communal_sync.state.records import Snapshot
from communal_sync.values.countries import normalize_country
from communal_sync.values.normalize import clean_text, e164, email_key, phone_compare_region


@dataclass
class Candidate:
    """A matched row waiting for (then holding) its current record."""

    row: ProfileRow
    user_id: int
    method: MatchMethod
    source: dict[str, str | None]
    source_hash: str
    snapshot: Snapshot | None
    live: User | None = None
    custom_values: list[CustomProfileFieldValue] | None = None
    missing: bool = False
    unreachable: ApiError | None = None


@dataclass(frozen=True)
class Judging:
    """What every row of one plan is judged with."""

    options: PlanOptions
    allow_clear: set[str]
    region: str | None
    custom: CustomFields


def plan_user(candidate: Candidate, judging: Judging) -> UserPlan | Unchanged | RowIssue:
    """The plan for one row whose user was read: what to send, nothing, or a mismatch.

    A row whose user shares no name or email with it is someone else (``mismatched``),
    unless ``trust_ids``. A locked custom field's differing value is reported on every
    run until someone settles it, so such a row's hash is not remembered (``None``): the
    next run reads the user again instead of skipping.
    """
    row = candidate.row
    snapshot = candidate.snapshot
    snapshot_user = snapshot.user if snapshot else None
    snapshot_at = snapshot.pushed_at.date().isoformat() if snapshot else None
    if not judging.options.trust_ids:
        identity = current_record(IDENTITY_FIELDS, candidate.live, snapshot_user)
        if identity_mismatch(row, identity):
            return mismatch_issue(candidate, identity)
    current = current_record(candidate.source, candidate.live, snapshot_user, snapshot_at)
    custom_current, value_ids = judging.custom.current(candidate.custom_values or [])
    current.update(custom_current)
    known = set(PROFILE_FIELDS) | set(judging.custom.writable)
    base = {k: v for k, v in snapshot.pushed.items() if k in known} if snapshot else None
    region = row_region(judging.region, row.profile_country, snapshot)
    source = sent_telephone(candidate.source, current, region, judging.options)
    diff = diff_fields(
        source,
        current,
        base,
        on_conflict=judging.options.on_conflict,
        allow_clear=judging.allow_clear,
        region=region,
    )
    diff = note_uncompared_telephone(diff, source, current, region)
    body = build_put_body(diff, current)
    writes = judging.custom.writes(diff.changes, value_ids)
    email_change = None
    if (
        snapshot is not None
        and snapshot.pushed_email
        and email_key(snapshot.pushed_email) != email_key(row.email)
    ):
        email_change = EmailChange(old=snapshot.pushed_email, new=row.email)
    skipped = judging.custom.locked_skips(row.custom, candidate.custom_values or [])
    if body is None and not writes and not diff.conflicts and not skipped:
        return Unchanged(
            user_id=candidate.user_id,
            line=row.line,
            verified=True,
            source_hash=candidate.source_hash,
            email=row.email,
            external_id=row.external_id,
            pushed={k: v for k, v in source.items() if v is not None},
        )
    live = candidate.live
    return UserPlan(
        user_id=candidate.user_id,
        line=row.line,
        matched_by=candidate.method,
        name=f"{row.first_name} {row.last_name}",
        external_id=row.external_id,
        email_change=email_change,
        changes=diff.changes,
        conflicts=diff.conflicts,
        skipped=skipped,
        body=body,
        custom_writes=writes,
        updated_at=live.updated_at if live is not None else None,
        source_hash=None if skipped else candidate.source_hash,
        pushed=diff.asserted,
    )


UNCOMPARED_PHONE_NOTE = (
    "no country code, and no region to read it in (--default-region, a profile_country "
    "column, or an international number in Communal): compared by its digits only"
)


def row_region(
    configured: str | None, country: str | None, snapshot: Snapshot | None
) -> str | None:
    """The region a row's telephone is read in: ``--default-region``, else the row's own
    ``profile_country``, else the country we last pushed for that user. None when none
    says (then the other number's own country code decides, see ``same_phone``)."""
    if configured:
        return configured
    for text in (country, snapshot.pushed.get("profile_country") if snapshot else None):
        region = normalize_country(text) if text else None
        if region:
            return region
    return None


def sent_telephone(
    source: dict[str, str | None],
    current: dict[str, CurrentValue],
    region: str | None,
    options: PlanOptions,
) -> dict[str, str | None]:
    """The row's values with its telephone as it would be sent: the file's text, or
    E.164 under ``--phone-format e164`` when it reads as a possible number (a number that
    does not is sent as written, and compared by its digits)."""
    text = source.get("telephone")
    if options.phone_format != "e164" or not text or not clean_text(text):
        return source
    now = current.get("telephone")
    where = phone_compare_region(text, now.value if now else None, region)
    formatted = e164(text, where)
    return {**source, "telephone": formatted} if formatted else source


def note_uncompared_telephone(
    diff: FieldDiff,
    source: dict[str, str | None],
    current: dict[str, CurrentValue],
    region: str | None,
) -> FieldDiff:
    """Say on a telephone change when the number could only be compared by its digits."""
    now = current.get("telephone")
    if phone_compare_region(source.get("telephone"), now.value if now else None, region):
        return diff
    changes = tuple(
        change.model_copy(update={"note": change.note or UNCOMPARED_PHONE_NOTE})
        if change.field == "telephone" and change.after and now and now.value
        else change
        for change in diff.changes
    )
    return dataclasses.replace(diff, changes=changes)


MISMATCH_FIXES: dict[MatchMethod, str] = {
    "id": "Check the id column",
    "external_id": "Check the external id column and the identity map "
    "(`communal-sync link FILE` reloads it)",
    "email": "The identity map is out of date: reload it with `communal-sync link FILE`",
    "discover": "Check the email against Communal's program signups",
}
"""What to do about a row whose match is someone else, by how it was matched."""
TRUST_IDS_HINT = "or pass --trust-ids if the file is meant to rename this person."


def mismatch_issue(candidate: Candidate, identity: dict[str, CurrentValue]) -> RowIssue:
    """The issue of a row whose matched user is someone else: who each is, and the fix.

    Both people's names and emails are quoted, so they are listed for redaction.
    """
    row = candidate.row
    theirs = {name: identity[name].value for name in IDENTITY_FIELDS}
    method = candidate.method
    field_name: str = "email"
    value: str | None = row.email
    how = "by --discover" if method == "discover" else "by email through the identity map"
    if method == "id":
        field_name, value, how = "id", str(candidate.user_id), "by the id column"
    elif method == "external_id":
        field_name, value = "external_id", row.external_id
        how = f"by external id {row.external_id} through the identity map"
    quoted = (row.first_name, row.last_name, row.email, row.external_id, *theirs.values())
    return RowIssue(
        line=row.line,
        kind="mismatched",
        field=field_name,
        value=value,
        message=f"This row is {_person(row.first_name, row.last_name, row.email)}, but the "
        f"Communal user {candidate.user_id} it matched ({how}) is "
        f"{_person(theirs['first_name'], theirs['last_name'], theirs['email'])}: neither the "
        "same email nor the same first and last name, so nothing is planned for this row. "
        f"{MISMATCH_FIXES[method]}, {TRUST_IDS_HINT}",
        quoted=tuple(v for v in quoted if v),
    )


def _person(first: str | None, last: str | None, email: str | None) -> str:
    """ "Ada Lovelace <ada@example.org>", leaving out what is blank."""
    name = " ".join(part for part in (first, last) if part)
    if not email:
        return name or "(no name)"
    return f"{name} <{email}>" if name else f"<{email}>"
