"""Benchmark ``communal-sync push`` against a bare httpx loop, a rate limit, and a nightly run.

Everything runs against ``communal-sync sandbox`` started as a SEPARATE process on
loopback (client and server never share a GIL), restarted from its seed before every
measured run. Seeds and exports are generated into a temporary folder. Four parts:

1. Throughput (``--latency-ms 20``, ``--users`` users needing a change, ``--concurrency``):
   the ceiling is a bare ``ThreadPoolExecutor`` over one ``httpx.Client`` sending exactly
   the PUT bodies of ``communal-sync plan --out plan.json``. Compared with it: the apply
   phase alone (the core's ``run_plan`` in-process over the same plan: same PUTs, same
   concurrency; target >= 0.8x the bare rate). The real ``push FILE --yes`` as a
   subprocess, end to end (start-up, the planning GETs and journalling included), is
   compared with a bare loop of
   the same requests, a GET then a PUT per user (target >= 0.85x, issue 11), and, for the
   record, with the PUTs alone (at most 0.5x: it sends twice the requests). With several
   ``--concurrency`` values (``--concurrency 4 16``) each is measured in turn.
1b. Planning (``--only plan``, latency 0): the real ``plan FILE`` of ``--users`` changed
   users (a fresh state file each time, start-up and printing included) against a bare
   loop of the same GETs at the same concurrency (target >= 0.8x), for each concurrency.
2. Rate limit (``--rate-limit``, no latency): the real ``push --yes`` subprocess on
   ``--limited-users`` users (one GET + one PUT each; 20 s of PUTs at 50/s); successful
   PUTs per second during the apply phase, from the sandbox's request log polled while it
   runs, over the limit (target >= 0.9) and every user applied (exit 0).
3. Nightly API calls: ``--org`` users, a first real push of everyone (latency 0,
   concurrency ``--first-concurrency``), then ``--changed-share`` of the rows edited and a
   nightly ``push --yes``; calls per changed user (target <= 2; minimum 1 PUT) and per
   unchanged user (target 0), counted from ``/_sandbox/requests``.

Run from the project root (default sizes: about 2.5 minutes on 2 cores)::

    .venv/bin/python bench/push.py
    .venv/bin/python bench/push.py --only nightly --org 100000   # the issue's full size
    .venv/bin/python bench/push.py --only throughput --only plan --users 10000 \
        --concurrency 4 16 --runs 1                              # issue 11's sizes

Exit status 0 when every measured target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from communal_sync.api.client import CommunalClient
from communal_sync.api.throttle import Throttle
from communal_sync.applying.run import RunRequest, run_plan
from communal_sync.hashing import file_sha256
from communal_sync.intake.pipeline import IntakeOptions, open_intake
from communal_sync.plan import Plan, PlanOptions
from communal_sync.planning.planner import plan_export
from communal_sync.state import open_state

MANAGER_KEY: Final = "bench-manager-key"
API_VERSION: Final = "2026-03-25"
SEED: Final = 20260325
FIRST_ID: Final = 1001

DEFAULT_USERS: Final = 400
DEFAULT_CONCURRENCY: Final = 4
DEFAULT_RUNS: Final = 3
DEFAULT_LATENCY_MS: Final = 20
DEFAULT_RATE_LIMIT: Final = 50
DEFAULT_LIMITED_USERS: Final = 1000
DEFAULT_ORG: Final = 10_000
"""Nightly org size by default. 100,000 (``--org 100000``) is far slower than 10x: the
sandbox scans every user for email uniqueness on each PUT, so its first push is quadratic."""
DEFAULT_CHANGED_SHARE: Final = 0.01
DEFAULT_FIRST_CONCURRENCY: Final = 16

THROUGHPUT_TARGET: Final = 0.8
PUSH_TARGET: Final = 0.85
"""``push --yes`` end to end against the bare loop of the same GETs and PUTs (issue 11)."""
PLAN_TARGET: Final = 0.8
"""``plan`` at latency 0 against a bare loop of the same GETs at the same concurrency."""
RATE_TARGET: Final = 0.9
CHANGED_CALLS_TARGET: Final = 2.0
UNCHANGED_CALLS_TARGET: Final = 0.0

READY_TIMEOUT_SECONDS: Final = 120.0
"""Loading a 100,000-user seed takes a while; the sandbox is polled until it answers."""
POLL_SECONDS: Final = 0.05
"""How often the request log is read while a rate-limited push runs."""

HEADER: Final = (
    "Communal ID", "First Name", "Last Name", "Email", "Mobile", "Date of Birth",
    "Street", "City", "Province", "Postal Code", "Country",
)  # fmt: skip
FIRST_NAMES: Final = (
    "Amara", "Bruno", "Chen", "Dana", "Émilie", "Farid", "Grace", "Hiro", "Isabelle",
    "Jamal", "Kateryna", "Liam", "Maya", "Noah", "Olivia", "Priya", "Raphaël", "Sofia",
)  # fmt: skip
LAST_NAMES: Final = (
    "Okafor", "Lefèvre", "Wei", "Tremblay", "Gagnon", "Roy", "Côté", "Singh", "Patel",
    "Kim", "García", "Müller", "O'Brien", "Nguyen", "Martin", "Brown", "Wilson", "Lavoie",
)  # fmt: skip
PLACES: Final = (
    ("Toronto", "ON", "M5H 2N2"),
    ("Montréal", "QC", "H3B 1A7"),
    ("Vancouver", "BC", "V6B 1A1"),
    ("Halifax", "NS", "B3H 1A1"),
    ("Calgary", "AB", "T2P 1J9"),
)


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One generated member, as the seed holds them and the export lists them."""

    user_id: int
    first_name: str
    last_name: str
    email: str
    telephone: str
    date_of_birth: str
    street: str
    city: str
    province: str
    postal_code: str

    def seed_record(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "telephone": self.telephone,
            "date_of_birth": self.date_of_birth,
            "profile_address": self.street,
            "profile_city": self.city,
            "profile_state": self.province,
            "profile_zip": self.postal_code,
            "profile_country": "CA",
            "updated_at": "2026-01-15T09:30:00.000000Z",
        }

    def export_row(self, *, changed: bool) -> list[str]:
        phone = self.telephone if not changed else self.telephone[:-4] + "9999"
        return [
            str(self.user_id), self.first_name, self.last_name, self.email, phone,
            self.date_of_birth, self.street, self.city, self.province, self.postal_code,
            "Canada",
        ]  # fmt: skip


def people(count: int, seed: int = SEED) -> list[Person]:
    """``count`` deterministic members with unique ids and emails."""
    rng = random.Random(seed)
    result = []
    for n in range(count):
        city, province, postal = rng.choice(PLACES)
        result.append(
            Person(
                user_id=FIRST_ID + n,
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                email=f"member{n}@example.org",
                telephone=f"+1 416 555 {rng.randrange(10_000):04d}",
                date_of_birth=f"{rng.randrange(1940, 2010)}-{rng.randrange(1, 13):02d}-"
                f"{rng.randrange(1, 29):02d}",
                street=f"{rng.randrange(1, 9999)} Queen St W",
                city=city,
                province=province,
                postal_code=postal,
            )
        )
    return result


def write_seed(path: Path, members: Sequence[Person]) -> Path:
    """The sandbox seed: the members as Communal holds them, and one manager key."""
    seed = {
        "api_keys": [{"key": MANAGER_KEY, "manager": True}],
        "users": [m.seed_record() for m in members],
    }
    path.write_text(json.dumps(seed), encoding="utf-8")
    return path


def write_export(path: Path, members: Sequence[Person], changed: set[int]) -> Path:
    """The CRM export: every member, with a new phone number for the ``changed`` user ids."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for member in members:
            writer.writerow(member.export_row(changed=member.user_id in changed))
    return path


def every_id(members: Sequence[Person]) -> set[int]:
    return {m.user_id for m in members}


def some_ids(members: Sequence[Person], share: float, seed: int = SEED + 1) -> set[int]:
    """A deterministic ``share`` of the member ids (at least one)."""
    count = max(1, round(len(members) * share))
    return {m.user_id for m in random.Random(seed).sample(list(members), count)}


# --- the sandbox process --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class SandboxProcess:
    """A ``communal-sync sandbox`` child process and where to reach it."""

    root_url: str
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api"

    def requests(self) -> list[dict[str, Any]]:
        """The sandbox's request log (``GET /_sandbox/requests``)."""
        answer = httpx.get(f"{self.root_url}/_sandbox/requests", timeout=60)
        answer.raise_for_status()
        log: list[dict[str, Any]] = answer.json()
        return log

    def clear_requests(self) -> None:
        httpx.delete(f"{self.root_url}/_sandbox/requests", timeout=60).raise_for_status()


@contextmanager
def sandbox(
    seed: Path, *, latency_ms: int = 0, rate_limit: int | None = None
) -> Iterator[SandboxProcess]:
    """Start a fresh sandbox from ``seed`` in its own process; stop it after."""
    port = free_port()
    command = [
        sys.executable, "-m", "communal_sync", "sandbox", "--port", str(port),
        "--seed", str(seed), "--latency-ms", str(latency_ms),
    ]  # fmt: skip
    if rate_limit is not None:
        command += ["--rate-limit", str(rate_limit)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    running = SandboxProcess(f"http://127.0.0.1:{port}", process)
    try:
        _wait_ready(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(running: SandboxProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"The sandbox exited with {running.process.returncode}.")
        try:
            httpx.get(f"{running.root_url}/_sandbox/faults", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("The sandbox did not answer in time.")


def cli(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "communal_sync", *arguments]


def shown(command: Sequence[str]) -> str:
    """A command as a person would type it (``communal-sync`` for the module)."""
    text = " ".join(command[3:]) if command[:3] == cli() else " ".join(command)
    return f"communal-sync {text}" if command[:3] == cli() else text


def run_cli(command: Sequence[str], base_url: str) -> tuple[float, int]:
    """Run the real CLI (stdout discarded, stderr shown), return (seconds, exit code)."""
    env = {**os.environ, "COMMUNAL_API_KEY": MANAGER_KEY, "COMMUNAL_BASE_URL": base_url}
    start = time.perf_counter()
    process = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, process.returncode


def calls(log: Sequence[dict[str, Any]]) -> Counter[str]:
    """Requests by method, and successful ones as ``<METHOD> 200``."""
    tally: Counter[str] = Counter()
    for entry in log:
        tally[entry["method"]] += 1
        if entry["status"] == 200:
            tally[f"{entry['method']} 200"] += 1
    return tally


# --- 1. throughput --------------------------------------------------------------------------


@dataclass
class Result:
    """One row of the final table."""

    name: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, target: str = "", ok: bool | None = None) -> None:
        self.results.append(Result(name, value, target, ok))
        mark = "" if ok is None else ("  PASS" if ok else "  FAIL")
        print(f"  {name}: {value}{mark}", flush=True)


def bare_client(base_url: str, workers: int) -> httpx.Client:
    """One plain httpx.Client with the manager key and a pool of ``workers`` connections."""
    headers = {
        "Authorization": f"Bearer {MANAGER_KEY}",
        "Accept": "application/json",
        "X-Api-Version": API_VERSION,
    }
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    return httpx.Client(base_url=base_url, headers=headers, limits=limits, timeout=30)


def bare_put_loop(
    base_url: str, bodies: Sequence[tuple[int, dict[str, Any]]], workers: int
) -> float:
    """The ceiling: the same PUTs from a thread pool over one httpx.Client; seconds taken."""
    with bare_client(base_url, workers) as client:

        def put(item: tuple[int, dict[str, Any]]) -> int:
            user_id, body = item
            return client.put(f"/users/{user_id}", json=body).status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = Counter(pool.map(put, bodies))
        seconds = time.perf_counter() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"The bare loop got answers other than 200: {dict(statuses)}.")
    return seconds


def bare_read_write_loop(
    base_url: str, bodies: Sequence[tuple[int, dict[str, Any]]], workers: int
) -> float:
    """The ceiling for the same requests a push sends: a GET of every user, then the PUTs.

    A push reads each changed user before writing it (the three-way diff, conflicts and the
    identity check need the live record, and the API has no list endpoint), planning all
    of them before applying; this loop does the same two phases with nothing in between.
    """
    with bare_client(base_url, workers) as client:

        def get(item: tuple[int, dict[str, Any]]) -> int:
            return client.get(f"/users/{item[0]}").status_code

        def put(item: tuple[int, dict[str, Any]]) -> int:
            user_id, body = item
            return client.put(f"/users/{user_id}", json=body).status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = Counter(pool.map(get, bodies))
            statuses.update(pool.map(put, bodies))
        seconds = time.perf_counter() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"The bare loop got answers other than 200: {dict(statuses)}.")
    return seconds


BARE_LOOPS: Final = ("get", "put", "read-write")
"""The bare loops ``--bare-loop`` runs in a child process of its own (issue 11)."""


def bare_loop_in_own_process(
    loop: str,
    base_url: str,
    bodies: Sequence[tuple[int, dict[str, Any]]],
    workers: int,
    folder: Path,
) -> float:
    """Run one bare loop (``bare_get_loop``, ``bare_put_loop`` or ``bare_read_write_loop``) in a
    child process of its own, so it shares a GIL with neither this bench nor the sandbox;
    the seconds it measured around its requests (start-up excluded)."""
    path = folder / "bare-bodies.json"
    path.write_text(json.dumps(bodies), encoding="utf-8")
    command = [
        sys.executable, str(Path(__file__).resolve()), "--bare-loop", loop,
        "--bare-url", base_url, "--bare-bodies", str(path), "--bare-workers", str(workers),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The bare {loop} loop exited {done.returncode}: {done.stderr}")
    return float(done.stdout.split()[-1])


def run_bare_loop(args: argparse.Namespace) -> int:
    """The child side of ``bare_loop_in_own_process``: print the loop's seconds."""
    bodies = [(int(u), b) for u, b in json.loads(Path(args.bare_bodies).read_text("utf-8"))]
    if args.bare_loop == "get":
        seconds = bare_get_loop(
            args.bare_url, [user_id for user_id, _ in bodies], args.bare_workers
        )
    else:
        loop = bare_put_loop if args.bare_loop == "put" else bare_read_write_loop
        seconds = loop(args.bare_url, bodies, args.bare_workers)
    print(f"{seconds:.6f}")
    return 0


def bare_get_loop(base_url: str, user_ids: Sequence[int], workers: int) -> float:
    """The ceiling for ``plan``: a GET of every user from the same pool; seconds taken."""
    with bare_client(base_url, workers) as client:

        def get(user_id: int) -> int:
            return client.get(f"/users/{user_id}").status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = Counter(pool.map(get, user_ids))
        seconds = time.perf_counter() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"The bare loop got answers other than 200: {dict(statuses)}.")
    return seconds


def throttled_client(base_url: str) -> CommunalClient:
    """The client as ``push`` builds it: the manager key, every request through a Throttle."""
    throttle = Throttle()
    return CommunalClient(
        MANAGER_KEY,
        base_url=base_url,
        api_version=API_VERSION,
        before_request=throttle.wait,
        on_rate_limited=throttle.throttled,
    )


def apply_in_process(base_url: str, plan: Plan, state: Path, concurrency: int) -> float:
    """What ``push --yes`` does after planning: the core's run lifecycle (``run_plan``), with
    a throttled client; seconds taken."""
    with throttled_client(base_url) as client, open_state(state) as store:
        start = time.perf_counter()
        outcome = run_plan(
            plan,
            client=client,
            store=store,
            base_url=base_url,
            request=RunRequest(kind="push", confirmed=True, concurrency=concurrency),
        )
        seconds = time.perf_counter() - start
    applied = outcome.tally["applied"] if outcome.tally else 0
    if applied != len(plan.to_update):
        raise RuntimeError(f"run_plan did not apply every user: {outcome.result.counts()}.")
    return seconds


def bench_throughput(args: argparse.Namespace, folder: Path, report: Report) -> None:
    for workers in args.concurrency:
        bench_throughput_at(args, workers, folder, report)


def bench_throughput_at(
    args: argparse.Namespace, workers: int, folder: Path, report: Report
) -> None:
    users, latency = args.users, args.latency_ms
    print(f"\n1. Throughput: {users} users to change, concurrency {workers}, latency {latency} ms")
    members = people(users)
    seed = write_seed(folder / "throughput-seed.json", members)
    export = write_export(folder / "throughput.csv", members, every_id(members))
    plan_path = folder / "plan.json"

    with sandbox(seed, latency_ms=latency) as box:
        command = cli(
            "plan", str(export), "--out", str(plan_path),
            "--state", str(folder / f"plan-{workers}.db"), "--concurrency", str(workers),
        )  # fmt: skip
        _, code = run_cli(command, box.base_url)
    if code != 0:
        raise RuntimeError(f"`{shown(command)}` exited {code}; see its error above.")
    plan = Plan.model_validate_json(plan_path.read_text(encoding="utf-8"))
    bodies = [(u.user_id, u.body) for u in plan.to_update if u.body is not None]
    if len(bodies) != users:
        raise RuntimeError(f"The plan has {len(bodies)} of {users} users to update.")

    bare_times, read_write_times, apply_times, push_times = [], [], [], []
    tally: Counter[str] = Counter()
    for run in range(args.runs):  # interleaved, so a busy moment hits every side alike
        with sandbox(seed, latency_ms=latency) as box:
            bare_times.append(
                bare_loop_in_own_process("put", box.base_url, bodies, workers, folder)
            )
        with sandbox(seed, latency_ms=latency) as box:
            read_write_times.append(
                bare_loop_in_own_process("read-write", box.base_url, bodies, workers, folder)
            )
        with sandbox(seed, latency_ms=latency) as box:
            state = folder / f"apply-{workers}-{run}.db"
            apply_times.append(apply_in_process(box.base_url, plan, state, workers))
        push = cli(
            "push", str(export), "--yes", "--concurrency", str(workers),
            "--state", str(folder / f"push-{workers}-{run}.db"),
        )  # fmt: skip
        with sandbox(seed, latency_ms=latency) as box:
            seconds, code = run_cli(push, box.base_url)
            tally = calls(box.requests())
        if code != 0 or tally["PUT 200"] != users:
            raise RuntimeError(f"push exited {code}; {tally['PUT 200']} of {users} PUTs succeeded.")
        push_times.append(seconds)
    bare, read_write = min(bare_times), min(read_write_times)
    applied, end_to_end = min(apply_times), min(push_times)

    bare_rate, apply_rate = users / bare, users / applied
    ratio = apply_rate / bare_rate
    best = f"best of {args.runs}"
    at = f" (concurrency {workers})"
    report.add("bare httpx loop: the PUTs" + at, f"{bare_rate:.1f} PUT/s ({bare:.2f} s, {best})")
    report.add(
        "push apply phase (run_plan, in-process)" + at,
        f"{apply_rate:.1f} PUT/s ({applied:.2f} s, {best}) = {ratio:.2f}x bare",
        f">= {THROUGHPUT_TARGET}x",
        ratio >= THROUGHPUT_TARGET,
    )
    report.add(
        "bare httpx loop: a GET then a PUT per user" + at,
        f"{users / read_write:.1f} users/s ({read_write:.2f} s, {best})",
    )
    same_requests = read_write / end_to_end
    report.add(
        "push --yes end to end (CLI subprocess, start-up included)" + at,
        f"{users / end_to_end:.1f} users/s ({end_to_end:.2f} s, {best}; {tally['GET']} GET + "
        f"{tally['PUT']} PUT) = {same_requests:.2f}x the bare loop of the same requests",
        f">= {PUSH_TARGET}x",
        same_requests >= PUSH_TARGET,
    )
    report.add(
        "push --yes end to end vs the PUTs alone" + at,
        f"{bare / end_to_end:.2f}x (at most 0.5x: a push also reads each user it changes)",
    )
    report.commands.append(shown(push))


# --- 1b. planning ---------------------------------------------------------------------------


def bench_plan(args: argparse.Namespace, folder: Path, report: Report) -> None:
    """``plan FILE`` (the real CLI, a fresh state file, latency 0) against a bare loop of the
    same GETs at the same concurrency, interleaved, best of ``--runs``."""
    users = args.users
    members = people(users)
    seed = write_seed(folder / "plan-seed.json", members)
    export = write_export(folder / "plan.csv", members, every_id(members))
    ids = [m.user_id for m in members]
    for workers in args.concurrency:
        print(f"\n1b. Planning: {users} changed users, concurrency {workers}, latency 0 ms")
        bare_times, plan_times = [], []
        command: list[str] = []
        for run in range(args.runs):
            with sandbox(seed) as box:
                reads: list[tuple[int, dict[str, Any]]] = [(user_id, {}) for user_id in ids]
                bare_times.append(
                    bare_loop_in_own_process("get", box.base_url, reads, workers, folder)
                )
            command = cli(
                "plan", str(export), "--concurrency", str(workers),
                "--state", str(folder / f"plan-{workers}-{run}.db"),
            )  # fmt: skip
            with sandbox(seed) as box:
                seconds, code = run_cli(command, box.base_url)
                tally = calls(box.requests())
            if code != 0 or tally["GET 200"] != users:
                raise RuntimeError(f"plan exited {code}; {tally['GET 200']} of {users} GETs.")
            plan_times.append(seconds)
        bare, planned = min(bare_times), min(plan_times)
        ratio = bare / planned
        best = f"best of {args.runs}"
        report.add(
            f"bare httpx loop: the GETs (concurrency {workers})",
            f"{users / bare:.1f} GET/s ({bare:.2f} s, {best})",
        )
        report.add(
            f"plan (CLI subprocess, start-up and printing included; concurrency {workers})",
            f"{users / planned:.1f} users/s ({planned:.2f} s, {best}) = {ratio:.2f}x bare",
            f">= {PLAN_TARGET}x",
            ratio >= PLAN_TARGET,
        )
        report.commands.append(shown(command) + "   # sandbox --latency-ms 0")


# --- 2. rate limit --------------------------------------------------------------------------


class LogWatcher:
    """Polls the request log while a run goes on, noting when successful PUTs happened."""

    def __init__(self, box: SandboxProcess) -> None:
        self._box = box
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> LogWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                log = client.get(f"{self._box.root_url}/_sandbox/requests").json()
                done = sum(1 for e in log if e["method"] == "PUT" and e["status"] == 200)
                self.samples.append((time.perf_counter(), done))
                self._stop.wait(POLL_SECONDS)

    def put_rate(self) -> tuple[float, float]:
        """(successful PUTs per second, seconds) from the first to the last PUT seen."""
        started = [(t, n) for t, n in self.samples if n > 0]
        if len(started) < 2:
            return 0.0, 0.0
        final = started[-1][1]
        first_t, first_n = started[0]
        last_t = next(t for t, n in started if n == final)
        seconds = last_t - first_t
        return (final - first_n) / seconds if seconds > 0 else 0.0, seconds


def bench_rate_limit(args: argparse.Namespace, folder: Path, report: Report) -> None:
    users, limit, workers = args.limited_users, args.rate_limit, args.concurrency[0]
    print(f"\n2. Rate limit: {users} users, --rate-limit {limit}, concurrency {workers}")
    members = people(users, seed=SEED + 2)
    seed = write_seed(folder / "limited-seed.json", members)
    export = write_export(folder / "limited.csv", members, every_id(members))
    push = cli(
        "push", str(export), "--yes", "--concurrency", str(workers),
        "--state", str(folder / "limited.db"),
    )  # fmt: skip
    with sandbox(seed, rate_limit=limit) as box:
        with LogWatcher(box) as watcher:
            seconds, code = run_cli(push, box.base_url)
        tally = calls(box.requests())
    rate, put_seconds = watcher.put_rate()
    ratio = rate / limit
    all_ok = code == 0 and tally["PUT 200"] == users
    rejected = tally["GET"] + tally["PUT"] - tally["GET 200"] - tally["PUT 200"]
    report.add(
        "successful PUT/s during apply",
        f"{rate:.1f}/s over {put_seconds:.1f} s = {ratio:.2f}x the limit of {limit}/s",
        f">= {RATE_TARGET}x",
        ratio >= RATE_TARGET,
    )
    report.add(
        "every user applied",
        f"exit {code}, {tally['PUT 200']}/{users} PUT 200, {rejected} answered 429 "
        f"(whole run {seconds:.1f} s, {(tally['GET 200'] + tally['PUT 200']) / seconds:.1f} ok/s)",
        "exit 0, all",
        all_ok,
    )
    report.commands.append(shown(push) + f"   # sandbox --rate-limit {limit}")


# --- 3. nightly API calls -------------------------------------------------------------------


def first_push_in_process(export: Path, state: Path, base_url: str, concurrency: int) -> float:
    """``push --yes`` minus the terminal rendering: the real planner and run lifecycle.

    Rendering the plan of every user costs the CLI more than the API calls do on a first
    push of a whole organization, so the state is established in-process; seconds taken.
    """
    start = time.perf_counter()
    intake = open_intake(str(export), IntakeOptions())
    with throttled_client(base_url) as client, open_state(state) as store:
        plan = plan_export(
            intake,
            state=store,
            client=client,
            options=PlanOptions(),
            base_url=base_url,
            input_sha256=file_sha256(export),
            concurrency=concurrency,
        )
        outcome = run_plan(
            plan,
            client=client,
            store=store,
            base_url=base_url,
            request=RunRequest(
                kind="push", confirmed=True, run_key=plan.input.sha256, concurrency=concurrency
            ),
        )
        if outcome.exit_code != 0:
            raise RuntimeError(f"The first push did not go through: {outcome.result.counts()}.")
    return time.perf_counter() - start


def bench_nightly(args: argparse.Namespace, folder: Path, report: Report) -> None:
    org, share = args.org, args.changed_share
    print(f"\n3. Nightly API calls: {org} users, {share:.1%} changed since the last push")
    members = people(org, seed=SEED + 3)
    seed = write_seed(folder / "org-seed.json", members)
    first_export = write_export(folder / "org.csv", members, set())
    changed = some_ids(members, share)
    nightly_export = write_export(folder / "org-nightly.csv", members, changed)
    state = folder / "org.db"
    first = cli(
        "push", str(first_export), "--yes", "--concurrency", str(args.first_concurrency),
        "--state", str(state),
    )  # fmt: skip
    nightly = cli("push", str(nightly_export), "--yes", "--state", str(state))
    with sandbox(seed) as box:
        if args.first_push == "cli":
            first_seconds, code = run_cli(first, box.base_url)
            if code != 0:
                raise RuntimeError(f"The first push exited {code}.")
        else:
            first_seconds = first_push_in_process(
                first_export, state, box.base_url, args.first_concurrency
            )
        first_tally = calls(box.requests())
        box.clear_requests()
        nightly_seconds, code = run_cli(nightly, box.base_url)
        tally = calls(box.requests())
    total = tally["GET"] + tally["PUT"] + tally["POST"]
    per_changed = total / len(changed)
    report.add(
        "first push (establishes state)",
        f"{first_tally['GET']} GET + {first_tally['PUT']} PUT in {first_seconds:.1f} s "
        f"({args.first_push}, concurrency {args.first_concurrency}, latency 0)",
    )
    report.add(
        "nightly push",
        f"exit {code}, {tally['GET']} GET + {tally['PUT']} PUT for {len(changed)} changed "
        f"users in {nightly_seconds:.1f} s",
    )
    report.add(
        "calls per changed user",
        f"{per_changed:.2f} (minimum 1 PUT = 1.00)",
        f"<= {CHANGED_CALLS_TARGET:g}",
        code == 0 and tally["PUT 200"] == len(changed) and per_changed <= CHANGED_CALLS_TARGET,
    )
    # Every call above is accounted to a changed user, so unchanged users cost what is left.
    extra = max(0, total - 2 * len(changed))
    per_unchanged = extra / (org - len(changed))
    report.add(
        "calls per unchanged user",
        f"{per_unchanged:.4f} ({extra} calls beyond 2 per changed user)",
        f"= {UNCHANGED_CALLS_TARGET:g}",
        per_unchanged <= UNCHANGED_CALLS_TARGET,
    )
    report.commands.append(shown(nightly) + f"   # {org} users, {len(changed)} changed")


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="throughput users")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[DEFAULT_CONCURRENCY],
        help="throughput and planning concurrency; several (--concurrency 4 16) measure each",
    )
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help="throughput repeats (best kept)"
    )
    parser.add_argument("--latency-ms", type=int, default=DEFAULT_LATENCY_MS)
    parser.add_argument("--rate-limit", type=int, default=DEFAULT_RATE_LIMIT)
    parser.add_argument("--limited-users", type=int, default=DEFAULT_LIMITED_USERS)
    parser.add_argument("--org", type=int, default=DEFAULT_ORG, help="nightly org size")
    parser.add_argument("--changed-share", type=float, default=DEFAULT_CHANGED_SHARE)
    parser.add_argument("--first-concurrency", type=int, default=DEFAULT_FIRST_CONCURRENCY)
    parser.add_argument(
        "--first-push",
        choices=("in-process", "cli"),
        default="in-process",
        help="establish the nightly state with push's own planner+apply in-process (default; "
        "skips rendering every user) or with the real CLI (slow: see BENCHMARKS.md)",
    )
    parser.add_argument(
        "--only",
        choices=("throughput", "plan", "rate-limit", "nightly"),
        action="append",
        help="run only these parts (repeatable)",
    )
    parser.add_argument("--bare-loop", choices=BARE_LOOPS, help=argparse.SUPPRESS)
    parser.add_argument("--bare-url", help=argparse.SUPPRESS)
    parser.add_argument("--bare-bodies", help=argparse.SUPPRESS)
    parser.add_argument("--bare-workers", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_loop:
        return run_bare_loop(args)
    parts = args.only or ["throughput", "plan", "rate-limit", "nightly"]
    report = Report()
    started = time.perf_counter()
    print(f"Load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-push-") as name:
        folder = Path(name)
        if "throughput" in parts:
            bench_throughput(args, folder, report)
        if "plan" in parts:
            bench_plan(args, folder, report)
        if "rate-limit" in parts:
            bench_rate_limit(args, folder, report)
        if "nightly" in parts:
            bench_nightly(args, folder, report)
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
    print(f"  .venv/bin/python bench/push.py {' '.join(argv or sys.argv[1:])}".rstrip())
    return 0 if all(r.ok is not False for r in report.results) else 1


if __name__ == "__main__":
    sys.exit(main())
