"""Benchmark ``communal-sync link --from-communal``: calls made, throughput, later runs.

Everything runs against ``communal-sync sandbox`` started as a SEPARATE process on
loopback (client and server never share a GIL), from a generated seed: ``--members``
members (default 10,000) holding 1 to 3 memberships each (2 on average, some expired,
shuffled so one member's memberships sit on different pages), plus users who hold no
membership (never to be read). Three parts:

1. Calls: the real ``link --from-communal --concurrency N`` as a subprocess on an empty
   state file; the calls counted from the sandbox's request log against the minimum, the
   pages of 500 plus one ``GET /users/{id}`` per distinct member (target: equal).
2. Throughput (``--latency-ms 20``): that run timed from start to exit (start-up, the
   pages, the members, every SQLite write included) against a bare ``ThreadPoolExecutor``
   of ``--concurrency`` workers over one ``httpx.Client`` sending the same GETs: page 1,
   then the other pages, then every member the pages named (target >= 0.8x). The sides
   alternate, ``--runs`` times each, best kept; each tool run starts from an empty state.
3. Later runs: ``link --from-communal`` again with nothing new (target: one page, no
   member), then with ``--new-share`` new members and memberships added at the end of the
   list (the sandbox restarted from the grown seed; target: only those members read, and
   the pages holding new memberships plus the one probe page that checks the list kept
   its order).

Run from the project root (default sizes: about 4 minutes on 2 cores)::

    .venv/bin/python bench/link.py
    .venv/bin/python bench/link.py --members 2000 --runs 1     # a quick look

Exit status 0 when every measured target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from push import MANAGER_KEY, Report, calls, cli, run_cli, sandbox, shown

SEED: Final = 20260825
FIRST_ID: Final = 100_001
PAGE_SIZE: Final = 500
"""What ``link --from-communal`` asks for (the documented maximum)."""
LIST_VERSION: Final = "2026-08-25"
"""The version the membership list is asked in; users are read as the pinned default."""
USER_VERSION: Final = "2026-03-25"

DEFAULT_MEMBERS: Final = 10_000
DEFAULT_NON_MEMBERS: Final = 500
DEFAULT_CONCURRENCY: Final = 4
DEFAULT_LATENCY_MS: Final = 20
DEFAULT_RUNS: Final = 2
DEFAULT_NEW_SHARE: Final = 0.01
THROUGHPUT_TARGET: Final = 0.8


@dataclass(frozen=True)
class Organization:
    """A generated seed: who is a member, and the membership rows in list order."""

    users: list[dict[str, Any]]
    memberships: list[dict[str, Any]]

    @property
    def members(self) -> set[int]:
        return {m["user_id"] for m in self.memberships}

    @property
    def pages(self) -> int:
        return math.ceil(len(self.memberships) / PAGE_SIZE)

    def write(self, path: Path) -> Path:
        seed = {
            "api_keys": [{"key": MANAGER_KEY, "manager": True}],
            "users": self.users,
            "user_memberships": self.memberships,
        }
        path.write_text(json.dumps(seed), encoding="utf-8")
        return path


def user(user_id: int) -> dict[str, Any]:
    n = user_id - FIRST_ID
    return {
        "id": user_id,
        "first_name": f"Member{n}",
        "last_name": "Bench",
        "email": f"member{n}@example.org",
        "telephone": f"+1 416 555 {n % 10_000:04d}",
    }


def memberships_of(user_ids: Sequence[int], first_id: int, rng: random.Random) -> list[Any]:
    """1 to 3 memberships per user (2 on average), shuffled; every third one expired."""
    holders = [u for u in user_ids for _ in range(rng.choice((1, 2, 3)))]
    rng.shuffle(holders)
    rows = []
    for index, holder in enumerate(holders):
        expired = index % 3 == 0
        rows.append(
            {
                "id": first_id + index,
                "user_id": holder,
                "status": "expired" if expired else "active",
                "ends_at": "2025-06-30T00:00:00Z" if expired else "2027-06-30T00:00:00Z",
            }
        )
    return rows


def organization(members: int, non_members: int) -> Organization:
    rng = random.Random(SEED)
    member_ids = list(range(FIRST_ID, FIRST_ID + members))
    others = range(FIRST_ID + members, FIRST_ID + members + non_members)
    return Organization(
        users=[user(u) for u in (*member_ids, *others)],
        memberships=memberships_of(member_ids, 1, rng),
    )


def grown(org: Organization, share: float) -> tuple[Organization, set[int]]:
    """``org`` with ``share`` new members whose memberships come at the end of the list."""
    count = max(1, round(len(org.members) * share))
    first = max(u["id"] for u in org.users) + 1
    new_ids = list(range(first, first + count))
    rows = memberships_of(new_ids, len(org.memberships) + 1, random.Random(SEED + 1))
    return Organization(org.users + [user(u) for u in new_ids], org.memberships + rows), set(
        new_ids
    )


# --- the bare loop ---------------------------------------------------------------------------


def bare_link_loop(base_url: str, workers: int) -> tuple[float, int]:
    """The ceiling: the same GETs from a thread pool over one httpx.Client.

    Page 1 (it says how many pages there are), the other pages, then every distinct
    member the pages named; the seconds taken and the requests sent.
    """
    headers = {"Authorization": f"Bearer {MANAGER_KEY}", "Accept": "application/json"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:

        def page(number: int) -> dict[str, Any]:
            answer = client.get(
                "/user_memberships",
                params={"page[number]": number, "page[size]": PAGE_SIZE},
                headers={"X-Api-Version": LIST_VERSION},
            )
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body

        def get_user(user_id: int) -> int:
            answer = client.get(f"/users/{user_id}", headers={"X-Api-Version": USER_VERSION})
            answer.json()
            return answer.status_code

        start = time.perf_counter()
        first = page(1)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pages = [first, *pool.map(page, range(2, first["last_page"] + 1))]
            users = list(dict.fromkeys(m["user_id"] for p in pages for m in p["data"]))
            statuses = Counter(pool.map(get_user, users))
        seconds = time.perf_counter() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"The bare loop got answers other than 200: {dict(statuses)}.")
    return seconds, len(pages) + len(users)


# --- the parts -------------------------------------------------------------------------------


def link_command(state: Path, concurrency: int) -> list[str]:
    return cli(
        "link", "--from-communal", "--concurrency", str(concurrency), "--state", str(state)
    )  # fmt: skip


def counted(log: Sequence[dict[str, Any]]) -> tuple[int, int, int]:
    """(membership pages, user GETs, distinct users read) in a request log."""
    pages = sum(1 for e in log if e["path"].startswith("/api/user_memberships"))
    users = [e["path"] for e in log if e["path"].startswith("/api/users/")]
    return pages, len(users), len(set(users))


def bench_first_run(args: argparse.Namespace, folder: Path, report: Report) -> Path:
    """Parts 1 and 2 on one sandbox; the state file of the last tool run."""
    org = organization(args.members, args.non_members)
    print(
        f"\n1-2. First run: {len(org.members):,} members, {len(org.memberships):,} memberships "
        f"({org.pages} pages of {PAGE_SIZE}), {args.non_members} users with none; "
        f"latency {args.latency_ms} ms, concurrency {args.concurrency}"
    )
    seed = org.write(folder / "seed.json")
    minimum = org.pages + len(org.members)
    tool_best = bare_best = math.inf
    state = folder / "state-0.db"
    with sandbox(seed, latency_ms=args.latency_ms) as box:
        for run in range(args.runs):
            box.clear_requests()
            bare_seconds, bare_calls = bare_link_loop(box.base_url, args.concurrency)
            bare_best = min(bare_best, bare_seconds)
            if bare_calls != minimum:
                raise RuntimeError(f"The bare loop sent {bare_calls} GETs, not {minimum}.")
            box.clear_requests()
            state = folder / f"state-{run}.db"
            seconds, code = run_cli(link_command(state, args.concurrency), box.base_url)
            tool_best = min(tool_best, seconds)
            tally = calls(box.requests())
            pages, users, distinct = counted(box.requests())
            print(
                f"  run {run + 1}: bare {bare_seconds:.2f} s, link {seconds:.2f} s (exit {code}, "
                f"{pages} pages + {users} user GETs)",
                flush=True,
            )
            if code != 0:
                raise RuntimeError(f"link --from-communal exited {code}.")
    total = tally["GET"] + tally["PUT"] + tally["POST"]
    report.add(
        "calls made vs the minimum (pages + distinct members)",
        f"{total:,} = {pages} pages + {users:,} user GETs ({distinct:,} distinct); "
        f"minimum {org.pages} + {len(org.members):,} = {minimum:,}",
        "= minimum",
        total == minimum and distinct == len(org.members),
    )
    bare_rate, tool_rate = minimum / bare_best, minimum / tool_best
    ratio = tool_rate / bare_rate
    report.add(
        "throughput vs a bare httpx loop of the same GETs",
        f"bare {bare_rate:.1f} GET/s ({bare_best:.2f} s), link {tool_rate:.1f} GET/s "
        f"({tool_best:.2f} s, start-up included) = {ratio:.2f}x",
        f">= {THROUGHPUT_TARGET}x",
        ratio >= THROUGHPUT_TARGET,
    )
    report.commands.append(
        shown(link_command(Path("STATE"), args.concurrency))
        + f"   # {len(org.members)} members, latency {args.latency_ms} ms"
    )
    return state


def bench_later_runs(args: argparse.Namespace, folder: Path, report: Report, state: Path) -> None:
    org = organization(args.members, args.non_members)
    bigger, new = grown(org, args.new_share)
    added = len(bigger.memberships) - len(org.memberships)
    first_new_page = len(org.memberships) // PAGE_SIZE + 1
    new_pages = bigger.pages - first_new_page + 1
    print(
        f"\n3. Later runs: nothing new, then {len(new)} new members with {added} memberships "
        f"(pages {first_new_page}-{bigger.pages})"
    )
    command = link_command(state, args.concurrency)
    with sandbox(org.write(folder / "seed.json")) as box:
        _, code = run_cli(command, box.base_url)
        pages, users, _ = counted(box.requests())
    report.add(
        "a later run, nothing new",
        f"exit {code}, {pages} page + {users} user GETs",
        "1 page, 0 users",
        code == 0 and (pages, users) == (1, 0),
    )
    with sandbox(bigger.write(folder / "grown.json")) as box:
        _, code = run_cli(command, box.base_url)
        log = box.requests()
        pages, users, _ = counted(log)
        read = {int(e["path"].rsplit("/", 1)[1]) for e in log if "/api/users/" in e["path"]}
    probe = 0 if len(org.memberships) % PAGE_SIZE else 1
    report.add(
        f"a later run, {len(new)} new members",
        f"exit {code}, {pages} pages + {users} user GETs; minimum {new_pages} pages with new "
        f"memberships (+{probe} probe) + {len(new)} new members",
        "only the new",
        code == 0 and read == new and users == len(new) and pages <= new_pages + 1,
    )
    report.commands.append(
        shown(link_command(Path("STATE"), args.concurrency))
        + "   # again; then after new memberships"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
    parser.add_argument("--non-members", type=int, default=DEFAULT_NON_MEMBERS)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="repeats (best kept)")
    parser.add_argument("--new-share", type=float, default=DEFAULT_NEW_SHARE)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report()
    started = time.perf_counter()
    print(f"Load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-link-") as name:
        folder = Path(name)
        state = bench_first_run(args, folder, report)
        bench_later_runs(args, folder, report, state)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\nResults (python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load average {load}, {time.perf_counter() - started:.0f} s)"
    )
    width = max(len(r.name) for r in report.results)
    for r in report.results:
        mark = "" if r.ok is None else ("PASS" if r.ok else "FAIL")
        target = f"[{r.target}]" if r.target else ""
        print(f"  {mark:4}  {r.name.ljust(width)}  {r.value} {target}")
    print("Commands:")
    for command in report.commands:
        print(f"  {command}")
    print(f"  .venv/bin/python bench/link.py {' '.join(argv or sys.argv[1:])}".rstrip())
    return 0 if all(r.ok is not False for r in report.results) else 1


if __name__ == "__main__":
    sys.exit(main())
