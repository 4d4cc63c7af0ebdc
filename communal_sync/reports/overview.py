"""What the human-readable reports open with, in order: a headline that says what happened,
count cards, the per-field summary, the rows that need action, then the people.

Markdown and HTML render these same pieces in the same order, so they cannot drift apart.
Pure functions of a (redacted, shortened) plan and run: nothing here formats markup.

- ``headline``: "10 users to update" for a plan; "10 users updated, 2 failed" after a
  push; "Refused: 10 users to update, nothing sent" for a refused run.
- ``cards``: one count per thing an operator looks for first; the core ones always (a
  0 failed is news too), the rarer ones only when they happened.
- ``needs_action``: failed, changed-since-planned, conflicts, then each kind of row issue,
  then users not sent; only the groups that hold something.
- ``people``: users with a change anyone could see, and apart from them the users whose
  only changes are first-time writes over values Communal never shows (a first address
  push), folded into one compact table so they do not bury the real changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from communal_sync.plan import IssueKind, Plan, UserPlan, issue_words
from communal_sync.reports.results import RESULT_TEXT, Result, Run
from communal_sync.reports.tables import (
    Cell,
    Table,
    Tone,
    conflict_table,
    is_first_time,
    issue_kind_table,
    text_cell,
    value_cell,
)
from communal_sync.words import plural

RESULT_TONE: Final[dict[Result, Tone]] = {
    "applied": "good",
    "already": "good",
    "failed": "bad",
    "conflict": "warn",
    "not_sent": "warn",
    "held_back": "neutral",
}

ACTION_KINDS: Final[tuple[IssueKind, ...]] = (
    "invalid",
    "unmatched",
    "mismatched",
    "ambiguous",
    "unreachable",
    "email_cycle",
)
"""Row issues that need someone to act, in the order the report lists them (a skipped
duplicate is the ``--on-duplicate`` policy at work: listed later, not here)."""

ISSUE_TITLES: Final[dict[IssueKind, str]] = {
    "invalid": "Invalid rows",
    "unmatched": "Unmatched rows",
    "mismatched": "Mismatched rows (the id is someone else's)",
    "ambiguous": "Ambiguous rows",
    "unreachable": "Unreachable rows",
    "email_cycle": "Rows in an email cycle",
    "duplicate": "Skipped duplicates",
}

OPEN_PEOPLE_LIMIT: Final = 25
"""Up to this many people are shown open; more are listed closed, one line each (name,
fields, result), so a 1,000-user report's first screens still read as a list of people."""


@dataclass(frozen=True)
class Card:
    """One count at the top of a report; ``target`` is the section that lists them."""

    count: int
    label: str
    tone: Tone
    target: str | None = None


@dataclass(frozen=True)
class ActionGroup:
    """One kind of row that needs action: its section id, title and rows."""

    key: str
    title: str
    table: Table
    hint: str | None = None


@dataclass(frozen=True)
class People:
    """The planned users split for reading: ``changed`` each get a section of their own;
    ``first_time_only`` (only first-time writes) are folded together."""

    changed: tuple[UserPlan, ...]
    first_time_only: tuple[UserPlan, ...]


def headline(plan: Plan, run: Run | None) -> str:
    """What happened, in a few words: the report's title.

    A run's words are the terminal's run summary ("3 users updated, 1 already applied,
    2 failed"), so the page and the screen say the same.
    """
    if run is None or (plan.refused and not run.outcomes):
        count = len(plan.to_update)
        if plan.refused:
            return f"Refused: {count} {plural(count, 'user')} to update, nothing sent"
        if not count:
            return "Nothing to update"
        return f"{count} {plural(count, 'user')} to update"
    counts = run.counts(plan)
    parts = [f"{counts['applied']} {plural(counts['applied'], 'user')} updated"]
    if counts["already"]:
        parts.append(f"{counts['already']} already applied")
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    if counts["conflict"]:
        parts.append(f"{counts['conflict']} changed in Communal since planned")
    if counts["not_sent"]:
        parts.append(f"{counts['not_sent']} not sent")
    return ", ".join(parts)


def summary_line(plan: Plan, run: Run | None) -> str:
    """The plan's one-line summary; in a run report it says it was the plan."""
    return plan.summary() if run is None else f"Planned: {plan.summary()}"


def cards(plan: Plan, run: Run | None) -> list[Card]:
    """The counts a report opens with, in reading order."""
    shown: list[Card] = []

    def add(count: int, one: str, many: str, tone: Tone, target: str | None, always: bool) -> None:
        if count or always:
            shown.append(
                Card(count, plural(count, one, many), tone if count else "neutral", target)
            )

    if run is None:
        add(len(plan.to_update), "user to update", "users to update", "change", "changes", True)
    else:
        counts = run.counts(plan)
        add(counts["applied"], "user updated", "users updated", "good", "changes", True)
        add(counts["already"], "already applied", "already applied", "good", "changes", False)
        add(counts["failed"], "failed", "failed", "bad", "failed", True)
        add(
            counts["conflict"],
            "changed since planned",
            "changed since planned",
            "warn",
            "changed-since-planned",
            False,
        )
        add(counts["not_sent"], "not sent", "not sent", "warn", "not-sent", False)
    add(len(plan.unchanged), "unchanged", "unchanged", "neutral", None, True)
    add(plan.conflicts, "conflict", "conflicts", "warn", "conflicts", True)
    for kind in ACTION_KINDS:
        always = kind in ("invalid", "unmatched")
        words = issue_words(kind)
        add(plan.issue_count(kind), words, words, "bad", _issue_key(kind), always)
    add(plan.first_time_writes, "first-time write", "first-time writes", "info", "fields", True)
    add(plan.clears, "field cleared", "fields cleared", "warn", "fields", False)
    add(
        plan.unverified_changes,
        "change over our last push",
        "changes over our last push",
        "info",
        "fields",
        False,
    )
    add(plan.locked_skips, "locked field", "locked fields", "info", "locked", False)
    duplicates = plan.issue_count("duplicate")
    add(duplicates, "duplicate skipped", "duplicates skipped", "neutral", "duplicate", False)
    return shown


def field_table(plan: Plan, run: Run | None = None) -> Table:
    """The per-field summary (``Plan.field_counts``): how many users each field changes
    for, and of those how many are first-time writes, clears, or over our last push.

    In a run report a last column counts the users whose change of that field did not
    land (failed, changed since planned, not sent), so "telephone 50" is not read as 50
    telephones written when 2 failed.
    """
    headers = ("field", "users", "first-time writes", "cleared", "over our last push", "conflicts")
    table = Table((*headers, "not updated") if run is not None else headers)
    missed = {} if run is None else _not_updated_by_field(plan, run)
    for count in plan.field_counts():
        row: tuple[Cell, ...] = (
            text_cell(count.field),
            Cell(str(count.users)),
            _count_cell(count.first_time, "info"),
            _count_cell(count.clears, "warn"),
            _count_cell(count.unverified, "info"),
            _count_cell(count.conflicts, "warn"),
        )
        if run is not None:
            row = (*row, _count_cell(missed.get(count.field, 0), "bad"))
        table.rows.append(row)
    return table


def _not_updated_by_field(plan: Plan, run: Run) -> dict[str, int]:
    missed: dict[str, int] = {}
    for user in plan.users:
        if run.result_of(user) in ("failed", "conflict", "not_sent"):
            for change in user.changes:
                missed[change.field] = missed.get(change.field, 0) + 1
    return missed


def needs_action(plan: Plan, run: Run | None) -> list[ActionGroup]:
    """Every group of rows someone has to look at, in order; empty groups left out."""
    groups: list[ActionGroup] = []
    if run is not None:
        groups += _outcome_groups(plan, run, ("failed",))
        groups += _outcome_groups(plan, run, ("conflict",))
    conflicts = conflict_table(plan)
    if conflicts.rows:
        groups.append(ActionGroup("conflicts", f"Conflicts ({len(conflicts.rows)})", conflicts))
    for kind in ACTION_KINDS:
        table = issue_kind_table(plan, kind)
        if table.rows:
            rows = plan.issue_count(kind)
            title = f"{ISSUE_TITLES[kind]} ({rows})"
            groups.append(ActionGroup(_issue_key(kind), title, table))
    if run is not None:
        groups += _outcome_groups(plan, run, ("not_sent",))
        others = run.others(plan)
        if others:
            table = Table(("user", "line", "result", "HTTP status", "message"))
            for outcome in others:
                table.rows.append(
                    (
                        text_cell(str(outcome.user_id)),
                        text_cell(str(outcome.line)),
                        result_cell(outcome.status),
                        text_cell(
                            None if outcome.http_status is None else str(outcome.http_status)
                        ),
                        text_cell(outcome.reason),
                    )
                )
            groups.append(
                ActionGroup(
                    "other-outcomes", f"Outcomes for users not in the plan ({len(others)})", table
                )
            )
    return groups


def duplicate_group(plan: Plan) -> ActionGroup | None:
    """Rows skipped by the ``--on-duplicate`` policy: listed, but needing no action."""
    table = issue_kind_table(plan, "duplicate")
    if not table.rows:
        return None
    title = f"{ISSUE_TITLES['duplicate']} ({plan.issue_count('duplicate')})"
    return ActionGroup("duplicate", title, table)


def _outcome_groups(plan: Plan, run: Run, results: Sequence[Result]) -> list[ActionGroup]:
    users = [u for u in plan.users if run.result_of(u) in results]
    if not users:
        return []
    result = results[0]
    if result == "not_sent":
        table = Table(("user", "name", "line"))
        for user in users:
            table.rows.append(
                (text_cell(str(user.user_id)), value_cell(user.name), text_cell(str(user.line)))
            )
        hint = "The run stopped before sending these: resume it to send them."
        return [ActionGroup("not-sent", f"Not sent ({len(users)})", table, hint)]
    table = Table(("user", "name", "line", "HTTP status", "reason"))
    for user in users:
        outcome = run.outcome_of(user)
        status = None if outcome is None or outcome.http_status is None else outcome.http_status
        table.rows.append(
            (
                text_cell(str(user.user_id)),
                value_cell(user.name),
                text_cell(str(user.line)),
                text_cell(None if status is None else str(status)),
                text_cell("" if outcome is None else outcome.reason),
            )
        )
    if result == "failed":
        return [ActionGroup("failed", f"Failed ({len(users)})", table)]
    hint = "Changed in Communal after the plan was made, so not sent: plan again to see why."
    title = f"Changed in Communal since planned ({len(users)})"
    return [ActionGroup("changed-since-planned", title, table, hint)]


def people(plan: Plan) -> People:
    """The planned users, split into those with a visible change and the first-time-only."""
    changed: list[UserPlan] = []
    first_time_only: list[UserPlan] = []
    for user in plan.users:
        only_first = (
            bool(user.changes)
            and all(is_first_time(c) for c in user.changes)
            and not user.conflicts
            and not user.skipped
            and user.email_change is None
        )
        (first_time_only if only_first else changed).append(user)
    return People(tuple(changed), tuple(first_time_only))


def person_title(user: UserPlan) -> str:
    """ "Ada Lovelace · user 42 · line 2": a person first, then how to find them."""
    return f"{user.name} · user {user.user_id} · line {user.line}"


def person_fields(user: UserPlan) -> str:
    """The fields a person's section holds, in one line: "email, telephone (cleared)",
    first-time writes counted apart ("+ 2 first-time writes")."""
    seen = [c for c in user.changes if not is_first_time(c)]
    words = [f"{c.field} (cleared)" if c.is_clear else c.field for c in seen]
    words += [f"{c.field} (conflict)" for c in user.conflicts]
    first = len(user.changes) - len(seen)
    text = ", ".join(words)
    if first:
        extra = f"{first} first-time {plural(first, 'write')}"
        text = f"{text} + {extra}" if text else extra
    return text or "no field to send"


def result_of(user: UserPlan, run: Run | None) -> Result | None:
    """The user's result in a run report; ``None`` in a plan report."""
    return None if run is None else run.result_of(user)


def result_cell(result: Result) -> Cell:
    """A result in words, coloured by what it means."""
    return Cell(RESULT_TEXT[result], tone=RESULT_TONE[result])


def first_time_table(users: Sequence[UserPlan], run: Run | None) -> Table:
    """One line per first-time-only user: who, and each field with the value written."""
    headers = ("user", "name", "line", "fields written")
    table = Table((*headers, "result") if run is not None else headers)
    for user in users:
        written = "\n".join(
            f"{c.field} cleared" if c.is_clear else f"{c.field}: {c.after}" for c in user.changes
        )
        row: tuple[Cell, ...] = (
            text_cell(str(user.user_id)),
            value_cell(user.name),
            text_cell(str(user.line)),
            Cell(written),
        )
        if run is not None:
            row = (*row, result_cell(run.result_of(user)))
        table.rows.append(row)
    return table


def first_time_title(users: Sequence[UserPlan]) -> str:
    """ "52 users: first-time writes only (profile_address, profile_city)"."""
    fields: list[str] = []
    for user in users:
        for change in user.changes:
            if change.field not in fields:
                fields.append(change.field)
    count = len(users)
    return (
        f"{count} {plural(count, 'user')}: first-time writes only ({', '.join(fields)}), "
        "over values Communal never shows"
    )


def _count_cell(count: int, tone: Tone) -> Cell:
    return Cell(str(count), tone=tone) if count else Cell("—", placeholder=True)


def _issue_key(kind: IssueKind) -> str:
    return kind.replace("_", "-")


def outcome_sentence(user: UserPlan, run: Run) -> str:
    """ "Result: failed (HTTP 422): The email has already been taken." for a person."""
    result = run.result_of(user)
    outcome = run.outcome_of(user)
    text = f"Result: {RESULT_TEXT[result]}"
    if outcome is not None and outcome.http_status is not None:
        text += f" (HTTP {outcome.http_status})"
    reason = "" if outcome is None else outcome.reason
    return f"{text}: {reason}" if reason else f"{text}."
