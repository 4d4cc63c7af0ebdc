"""The planner's two promises, held through the real CLI and the sandbox on generated files.

- A file that says what Communal already holds (in any cosmetic spelling: case and spaces
  of emails, Unicode forms, phone formats) plans no change.
- After a push, planning the same file again (re-reading everyone) plans no change, and a
  second push sends no request at all.

The unit-level forms of both live in test_properties.py, on ``diff_fields``; here the
reader, mapping, validation, matching, current record, planner, apply and journal all take
part. Each example starts its own sandbox, so the examples are few.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.cli import run_cli
from support.push import MANAGER_KEY, users_of

from communal_sync.sandbox import Sandbox

E2E_EXAMPLES = int(os.environ.get("E2E_PROPERTY_EXAMPLES", "12"))
E2E_SETTINGS = settings(
    max_examples=E2E_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEMBERS = 3
FIRST_ID = 2001
HEADER = ["id", "first_name", "last_name", "preferred_name", "email", "telephone"]
SUMMARY = re.compile(r"^Plan for .*: (\d+) users? to update", re.MULTILINE)

names = st.sampled_from(["Zoë", "José", "Ann", "ÉMILE", "Ng", "Ødegård", "D'Arcy", "Lee-Ann"])
numbers = st.sampled_from(["4165552000", "6475550123", "9055550188"])


def cosmetic_name(name: str, variant: int) -> str:
    """``name`` as another program might write it: spaced, decomposed, or as is."""
    if variant == 1:
        return f"  {name} "
    if variant == 2:
        return unicodedata.normalize("NFD", name)
    return name


def cosmetic_email(email: str, variant: int) -> str:
    """``email`` in another case or with spaces around it."""
    local, domain = email.split("@")
    return [email, f" {email.upper()} ", f"{local}@{domain.upper()}"][variant]


def cosmetic_phone(digits: str, variant: int) -> str:
    """A Canadian number in one of the formats exports use."""
    area, mid, end = digits[:3], digits[3:6], digits[6:]
    return [f"+1 {area} {mid} {end}", f"({area}) {mid}-{end}", f"{area}.{mid}.{end}"][variant]


person = st.fixed_dictionaries(
    {
        "first_name": names,
        "last_name": names,
        "preferred_name": st.one_of(st.just(""), names),
        "telephone": numbers,
        "variant": st.integers(0, 2),
    }
)
people = st.lists(person, min_size=MEMBERS, max_size=MEMBERS)


def seed_of(members: list[dict[str, Any]]) -> dict[str, Any]:
    """An organization holding ``members`` in canonical form (NFC names, E.164 phones)."""
    users: list[dict[str, Any]] = [
        {"id": 1, "first_name": "Sam", "last_name": "Admin", "email": "admin@example.org"}
    ]
    for n, member in enumerate(members):
        users.append(
            {
                "id": FIRST_ID + n,
                "first_name": member["first_name"],
                "last_name": member["last_name"],
                "preferred_name": member["preferred_name"] or None,
                "email": f"member{n}@example.org",
                "telephone": f"+1{member['telephone']}",
            }
        )
    return {"api_keys": [{"key": MANAGER_KEY, "user_id": 1, "manager": True}], "users": users}


def write_export(path: Path, members: list[dict[str, Any]], *, cosmetic: bool) -> Path:
    """The members as an export, each in its own cosmetic variant when ``cosmetic``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n, member in enumerate(members):
            variant = member["variant"] if cosmetic else 0
            writer.writerow(
                [
                    FIRST_ID + n,
                    cosmetic_name(member["first_name"], variant),
                    cosmetic_name(member["last_name"], variant),
                    cosmetic_name(member["preferred_name"], variant),
                    cosmetic_email(f"member{n}@example.org", variant),
                    cosmetic_phone(member["telephone"], variant),
                ]
            )
    return path


def planned_updates(stdout: str) -> int:
    match = SUMMARY.search(stdout)
    assert match is not None, stdout
    return int(match[1])


def env_of(sandbox: Sandbox, folder: Path) -> dict[str, str]:
    return {
        "COMMUNAL_BASE_URL": sandbox.base_url,
        "COMMUNAL_API_KEY": MANAGER_KEY,
        "COMMUNAL_SYNC_STATE": str(folder / "state.db"),
    }


@E2E_SETTINGS
@given(people)
def test_a_file_that_matches_communal_in_any_spelling_plans_no_change(
    members: list[dict[str, Any]],
) -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(seed_of(members)) as sandbox:
        export = write_export(Path(folder) / "people.csv", members, cosmetic=True)

        result = run_cli(
            "plan", str(export), "--default-region", "CA", env=env_of(sandbox, Path(folder))
        )

        assert result.exit_code == 0, result.stdout + result.stderr
        assert planned_updates(result.stdout) == 0, result.stdout


@E2E_SETTINGS
@given(people, people)
def test_after_a_push_the_same_file_plans_no_change_and_sends_nothing(
    before: list[dict[str, Any]], wanted: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(seed_of(before)) as sandbox:
        env = env_of(sandbox, Path(folder))
        export = write_export(Path(folder) / "people.csv", wanted, cosmetic=True)
        region = ("--default-region", "CA")

        pushed = run_cli("push", str(export), "--yes", *region, env=env)
        assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
        after_push = users_of(sandbox)

        replanned = run_cli("plan", str(export), "--full-refresh", *region, env=env)
        assert replanned.exit_code == 0, replanned.stdout + replanned.stderr
        assert planned_updates(replanned.stdout) == 0, replanned.stdout

        sandbox.clear_requests()
        again = run_cli("push", str(export), "--yes", *region, env=env)
        assert again.exit_code == 0, again.stdout + again.stderr
        assert sandbox.requests() == []
        assert users_of(sandbox) == after_push
        expected = {n: unicodedata.normalize("NFC", m["last_name"]) for n, m in enumerate(wanted)}
        assert {n: after_push[FIRST_ID + n]["last_name"] for n in expected} == expected
