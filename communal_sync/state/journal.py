"""Runs and their per-request results: the history behind ``runs``, ``revert`` and resume."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Final, cast

from communal_sync import __version__
from communal_sync.errors import UsageError
from communal_sync.hashing import canonical_json
from communal_sync.state.database import Database
from communal_sync.state.packing import (
    pack,
    pack_digest,
    pack_text,
    pack_time,
    unpack,
    unpack_digest,
    unpack_text,
    unpack_time,
)
from communal_sync.state.records import (
    AttemptRecord,
    EndStatus,
    JsonObject,
    ResultRecord,
    ResultStatus,
    RunKind,
    RunRecord,
    RunStatus,
)

DEFAULT_RUN_LIST_LIMIT: Final = 20

RESULT_STATUS_CODES: Final[dict[str, int]] = {
    "applied": 0,
    "failed": 1,
    "skipped": 2,
    "conflict": 3,
}
"""How a result's status is stored since schema 8 (0, the common one, takes no bytes)."""
_STATUS_OF_CODE: Final = {code: status for status, code in RESULT_STATUS_CODES.items()}
APPLIED: Final = RESULT_STATUS_CODES["applied"]

_RESULT_COLUMNS: Final = (
    "r.id, r.run_id, r.user_id, r.operation, r.source_line, b.body_hash, r.status,"
    " r.http_status, r.error, r.images, r.finished_at"
)
_RESULT_FROM: Final = "results r LEFT JOIN result_bodies b ON b.result_id = r.id"
"""A result's body hash lives beside it until its run finishes (only a resume reads it)."""


def stored_operation(operation: str, user_id: int | None) -> str | None:
    """A result's operation as stored: NULL for a user's profile PUT (``user:<user_id>``,
    its ``user_id`` says it), as given otherwise."""
    return None if user_id is not None and operation == f"user:{user_id}" else operation


def result_row(
    run_id: int,
    *,
    operation: str,
    status: ResultStatus,
    user_id: int | None,
    source_line: int | None,
    http_status: int | None,
    error: str | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    finished_at: str,
) -> tuple[Any, ...]:
    """The values of one ``results`` row in ``RESULT_INSERT``'s order (schema 8 layout):
    the before and after images packed together, the time as microseconds."""
    images = None
    if before is not None or after is not None:
        images = pack(
            [None if before is None else dict(before), None if after is None else dict(after)]
        )
    return (
        run_id,
        user_id,
        stored_operation(operation, user_id),
        source_line,
        RESULT_STATUS_CODES[status],
        http_status,
        error,
        images,
        pack_time(finished_at),
    )


RESULT_INSERT: Final = (
    "INSERT INTO results (run_id, user_id, operation, source_line, status, http_status,"
    " error, images, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_RUN_COLUMNS: Final = (
    "id, kind, status, started_at, finished_at, input_name, input_sha256, exit_code, "
    "counts_json, pid, tool_version, attempts"
)


class RunJournal:
    """Start, finish and list runs; record each request's outcome the moment it ends."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start_run(
        self,
        kind: RunKind,
        *,
        input_name: str | None = None,
        input_sha256: str | None = None,
        plan_json: str | None = None,
        tool_version: str = __version__,
    ) -> int:
        """Record a new run as ``running`` and return its id (ids only ever increase).

        ``plan_json`` is the whole plan as text, so an interrupted run can be resumed from
        exactly what it meant to do; it can also be set later with ``set_plan``.
        """
        now = self._db.now()
        with self._db.transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (kind, status, started_at, input_name, input_sha256, plan_json,"
                " pid, tool_version) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    now,
                    input_name,
                    input_sha256,
                    None if plan_json is None else pack_text(plan_json),
                    os.getpid(),
                    tool_version,
                ),
            )
            run_id = int(cast(int, cursor.lastrowid))
            self._db.execute(
                "INSERT INTO run_attempts (run_id, attempt, started_at, status)"
                " VALUES (?, 1, ?, 'running')",
                (run_id, now),
            )
        return run_id

    def set_plan(self, run_id: int, plan_json: str) -> None:
        """Store (or replace) the plan of a run, as text."""
        self._update_run(
            run_id, "UPDATE runs SET plan_json = ? WHERE id = ?", (pack_text(plan_json),)
        )

    def load_plan(self, run_id: int) -> str | None:
        """Return the plan text stored with a run, or None if it has none."""
        rows = self._db.query("SELECT plan_json FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise self._no_run(run_id)
        stored = rows[0]["plan_json"]
        return None if stored is None else unpack_text(stored)

    def finish_run(
        self,
        run_id: int,
        *,
        status: EndStatus,
        exit_code: int,
        counts: Mapping[str, int],
        kept_plan: str | None = None,
    ) -> None:
        """Mark a run (and its latest attempt) as ended with its status, process exit code
        and summary counts.

        ``kept_plan`` (a run that finished: ``records.kept_plan``) replaces the stored plan
        in the same commit: only an unfinished run is resumed from its whole plan, and
        ``runs``/``runs show`` read a finished run's counts, ``revert`` its options.
        """
        now = self._db.now()
        with self._db.transaction():
            self._update_run(
                run_id,
                "UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, counts_json = ?,"
                " plan_json = COALESCE(?, plan_json) WHERE id = ?",
                (
                    status,
                    now,
                    exit_code,
                    canonical_json(dict(counts)),
                    None if kept_plan is None else pack_text(kept_plan),
                ),
            )
            self._db.execute(
                "UPDATE run_attempts SET status = ?, ended_at = ?, exit_code = ?"
                " WHERE run_id = ? AND attempt = (SELECT attempts FROM runs WHERE id = ?)",
                (status, now, exit_code, run_id, run_id),
            )
            if status == "finished":  # never resumed: its body hashes have no reader left
                self._db.execute(
                    "DELETE FROM result_bodies WHERE result_id IN"
                    " (SELECT id FROM results WHERE run_id = ?)",
                    (run_id,),
                )
        self._db.reclaim_free_pages()

    def reopen_run(self, run_id: int) -> RunRecord:
        """Mark a run as ``running`` again in this process, to resume it under the same id.

        Results keep accumulating under the one id, so ``applied_operations`` covers every
        attempt. ``attempts`` goes up by one, and the new attempt is recorded with its start.
        """
        with self._db.transaction():
            self._update_run(
                run_id,
                "UPDATE runs SET status = 'running', finished_at = NULL, exit_code = NULL,"
                " counts_json = NULL, pid = ?, attempts = attempts + 1 WHERE id = ?",
                (os.getpid(),),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO run_attempts (run_id, attempt, started_at, status)"
                " SELECT id, attempts, ?, 'running' FROM runs WHERE id = ?",
                (self._db.now(), run_id),
            )
        return self.get_run(run_id)

    def mark_abandoned_runs(self) -> list[int]:
        """Mark runs still ``running`` as ``interrupted``; return their ids.

        Call it only while holding the state lock: then no other process can be running,
        so a ``running`` row is one whose process was killed before it could finish.
        """
        with self._db.transaction():
            rows = self._db.query("SELECT id FROM runs WHERE status = 'running' ORDER BY id")
            self._db.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            # A killed attempt ended, as far as anyone can tell, at its last journalled result.
            running = self._db.query(
                "SELECT run_id, attempt, started_at FROM run_attempts WHERE status = 'running'"
            )
            for attempt in running:
                last = self._db.query(
                    "SELECT MAX(finished_at) AS last FROM results"
                    " WHERE run_id = ? AND finished_at >= ?",
                    (attempt["run_id"], pack_time(attempt["started_at"])),
                )[0]["last"]
                self._db.execute(
                    "UPDATE run_attempts SET status = 'interrupted', ended_at = ?"
                    " WHERE run_id = ? AND attempt = ?",
                    (
                        None if last is None else unpack_time(last).isoformat(),
                        attempt["run_id"],
                        attempt["attempt"],
                    ),
                )
        return [int(row["id"]) for row in rows]

    def attempts(self, run_ids: Collection[int]) -> dict[int, list[AttemptRecord]]:
        """Each run's attempts, first to latest, for the runs asked for (one query)."""
        ids = sorted(set(run_ids))
        found: dict[int, list[AttemptRecord]] = {run_id: [] for run_id in ids}
        if not ids:
            return found
        marks = ", ".join("?" for _ in ids)
        columns = "run_id, attempt, started_at, ended_at, status, exit_code"
        rows = self._db.query(
            f"SELECT {columns} FROM run_attempts WHERE run_id IN ({marks}) ORDER BY run_id, attempt",  # noqa: S608, E501
            ids,
        )
        for row in rows:
            ended = row["ended_at"]
            found[int(row["run_id"])].append(
                AttemptRecord(
                    run_id=int(row["run_id"]),
                    attempt=int(row["attempt"]),
                    started_at=datetime.fromisoformat(row["started_at"]),
                    ended_at=datetime.fromisoformat(ended) if ended else None,
                    status=cast(RunStatus, row["status"]),
                    exit_code=row["exit_code"],
                )
            )
        return found

    def get_run(self, run_id: int) -> RunRecord:
        """Return one run; raise ``UsageError`` naming the state file when there is none."""
        rows = self._db.query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))  # noqa: S608
        if not rows:
            raise self._no_run(run_id)
        return _run_record(rows[0])

    def list_runs(self, limit: int = DEFAULT_RUN_LIST_LIMIT) -> list[RunRecord]:
        """Return the most recent runs, newest first."""
        rows = self._db.query(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?",  # noqa: S608
            (limit,),
        )
        return [_run_record(row) for row in rows]

    def latest_unfinished_run(
        self, input_sha256: str | None = None, *, kind: RunKind | None = None
    ) -> RunRecord | None:
        """Return the latest run (of this input and kind, when given) if it did not finish.

        Only the latest counts: once a later run of the same input has finished, an older
        interrupted one is history, not something to resume.
        """
        conditions: list[str] = []
        params: list[Any] = []
        if input_sha256 is not None:
            conditions.append("input_sha256 = ?")
            params.append(input_sha256)
        if kind is not None:
            conditions.append("kind = ?")
            params.append(kind)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._db.query(
            f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY id DESC LIMIT 1",  # noqa: S608
            params,
        )
        if not rows or rows[0]["status"] == "finished":
            return None
        return _run_record(rows[0])

    def record_result(
        self,
        run_id: int,
        *,
        operation: str,
        status: ResultStatus,
        user_id: int | None = None,
        source_line: int | None = None,
        body_hash: str | None = None,
        http_status: int | None = None,
        error: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        settled: bool = True,
    ) -> int:
        """Journal one request's outcome and commit at once; return the result's id.

        Safe to call from several worker threads. Once it returns, the row survives the
        process being killed, so a resumed run will not send that body again. ``error``
        is shown to the user later: it must never contain the API key. ``settled`` (the
        default) also clears the operation's intent in the same commit; pass False for
        an error after which the request may still have landed (no answer, a 5xx), so a
        resume keeps treating it as possibly landed.
        """
        with self._db.transaction():
            cursor = self._db.execute(
                RESULT_INSERT,
                result_row(
                    run_id,
                    operation=operation,
                    status=status,
                    user_id=user_id,
                    source_line=source_line,
                    http_status=http_status,
                    error=error,
                    before=before,
                    after=after,
                    finished_at=self._db.now(),
                ),
            )
            if body_hash is not None:
                self._db.execute(
                    "INSERT INTO result_bodies (result_id, body_hash) VALUES (?, ?)",
                    (cursor.lastrowid, pack_digest(body_hash)),
                )
            if settled:
                self._db.execute(
                    "DELETE FROM intents WHERE run_id = ? AND operation = ?", (run_id, operation)
                )
        return int(cast(int, cursor.lastrowid))

    def record_intent(
        self,
        run_id: int,
        *,
        operation: str,
        body_hash: str,
        fields: Collection[str],
        user_id: int | None = None,
    ) -> None:
        """Journal that a write of this body is about to be sent, before sending it.

        If the process dies before ``record_result``, a resume knows the request may have
        landed (``unsettled_operations``) instead of mistaking its effect for someone
        else's edit. ``fields`` names what the body sets; a newer intent for the same
        operation replaces the older one. The commit survives the process being killed
        but does not wait for the disk (a fraction of a result's cost): a power cut may
        lose it, and a lost intent only makes a resume as cautious as it was without
        intents (a PUT it cannot verify is a conflict), never send anything twice.
        """
        self._db.write_unsynced(
            "INSERT OR REPLACE INTO intents (run_id, operation, user_id, body_hash, fields_json,"
            " sent_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                run_id,
                operation,
                user_id,
                body_hash,
                canonical_json(sorted(fields)),
                self._db.now(),
            ),
        )

    def unsettled_operations(self, run_id: int) -> set[tuple[str, str]]:
        """Return the (operation, body hash) pairs this run sent without learning the outcome.

        Each was journalled by ``record_intent`` and then either the process died before
        its result was recorded, or the result was recorded with ``settled=False``: the
        request may or may not have changed Communal.
        """
        rows = self._db.query(
            "SELECT operation, body_hash FROM intents WHERE run_id = ?",
            (run_id,),
        )
        return {(str(row["operation"]), str(unpack_digest(row["body_hash"]))) for row in rows}

    def applied_operations(self, run_id: int) -> set[tuple[str, str]]:
        """Return the (operation, body hash) pairs this run already applied.

        Resume skips exactly these: the same operation with a different body (the plan was
        rebuilt and the values differ) is not skipped. A missing body hash counts as "".
        """
        rows = self._db.query(
            "SELECT DISTINCT COALESCE(r.operation, 'user:' || r.user_id) AS operation,"  # noqa: S608
            f" b.body_hash FROM {_RESULT_FROM} WHERE r.run_id = ? AND r.status = ?",
            (run_id, APPLIED),
        )
        return {(str(row["operation"]), unpack_digest(row["body_hash"]) or "") for row in rows}

    def applied_after(self, run_id: int, operation: str) -> JsonObject | None:
        """The record an operation of this run left, as its last applied result holds it."""
        # as ``stored_operation`` stores it: a profile PUT's as NULL beside its user id
        kind, _, rest = operation.partition(":")
        user_id = int(rest) if kind == "user" and rest.isdigit() else None
        where, params = "operation = ?", tuple[int, ...]()
        if user_id is not None and operation == f"user:{user_id}":
            where, params = "(operation = ? OR (operation IS NULL AND user_id = ?))", (user_id,)
        rows = self._db.query(
            f"SELECT images FROM results WHERE run_id = ? AND {where}"  # noqa: S608
            " AND status = ? ORDER BY id DESC LIMIT 1",
            (run_id, operation, *params, APPLIED),
        )
        return _images(rows[0]["images"])[1] if rows else None

    def results(self, run_id: int) -> list[ResultRecord]:
        """Return every result recorded for a run, in the order they were recorded."""
        rows = self._db.query(
            f"SELECT {_RESULT_COLUMNS} FROM {_RESULT_FROM} WHERE r.run_id = ? ORDER BY r.id",  # noqa: S608
            (run_id,),
        )
        return [_result_record(row) for row in rows]

    def _update_run(self, run_id: int, sql: str, params: tuple[Any, ...]) -> None:
        cursor = self._db.write(sql, (*params, run_id))
        if cursor.rowcount == 0:
            raise self._no_run(run_id)

    def _no_run(self, run_id: int) -> UsageError:
        return UsageError(
            f"There is no run {run_id} in {self._db.path}; `communal-sync runs` lists them."
        )


def _images(stored: bytes | None) -> tuple[JsonObject | None, JsonObject | None]:
    """A result's (before, after) images from its ``images`` column."""
    if stored is None:
        return None, None
    before, after = unpack(stored)
    return cast(JsonObject | None, before), cast(JsonObject | None, after)


def _result_record(row: sqlite3.Row) -> ResultRecord:
    before, after = _images(row["images"])
    operation = row["operation"]
    return ResultRecord(
        id=int(row["id"]),
        run_id=int(row["run_id"]),
        user_id=row["user_id"],
        operation=f"user:{row['user_id']}" if operation is None else str(operation),
        source_line=row["source_line"],
        body_hash=unpack_digest(row["body_hash"]),
        status=cast(ResultStatus, _STATUS_OF_CODE[int(row["status"])]),
        http_status=row["http_status"],
        error=row["error"],
        before=before,
        after=after,
        finished_at=unpack_time(row["finished_at"]),
    )


def _run_record(row: sqlite3.Row) -> RunRecord:
    finished = row["finished_at"]
    counts = row["counts_json"]
    return RunRecord(
        id=int(row["id"]),
        kind=cast(RunKind, row["kind"]),
        status=cast(RunStatus, row["status"]),
        started_at=datetime.fromisoformat(row["started_at"]),
        finished_at=datetime.fromisoformat(finished) if finished else None,
        input_name=row["input_name"],
        input_sha256=row["input_sha256"],
        exit_code=row["exit_code"],
        counts={str(k): int(v) for k, v in json.loads(counts).items()} if counts else {},
        pid=int(row["pid"]),
        tool_version=str(row["tool_version"]),
        attempts=int(row["attempts"]),
    )
