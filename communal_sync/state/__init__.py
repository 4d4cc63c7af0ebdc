"""What communal-sync remembers between runs, in one private SQLite file.

The store is composed of parts over one connection: ``identity`` (external key or email
-> user id), ``snapshots`` (each user as our last successful PUT left them, and what we
sent), ``journal`` (runs with their plans, for ``apply`` and resume, and the per-request
results with before and after images, for ``revert``, and the intent journalled before
each write, so a resume knows what may have landed), ``binding`` (the API the file
belongs to) and ``roster`` (Communal's member list, as ``link --from-communal`` read
it). A run takes ``acquire_lock`` first; writes from worker threads are safe.

    state_path = resolve_state_path(args.state, os.environ)
    with acquire_lock(state_path, command="push users.csv"), open_state(state_path) as state:
        state.journal.mark_abandoned_runs()
        run_id = state.journal.start_run("push", input_name=..., input_sha256=..., plan_json=...)
        ...
        state.journal.record_intent(run_id, operation="user:101", body_hash=..., fields=body)
        ...  # send the PUT
        with state.transaction():
            state.journal.record_result(run_id, operation="user:101", status="applied", ...)
            state.snapshots.save(101, user=..., pushed=..., source_hash=...)
        state.journal.finish_run(run_id, status="finished", exit_code=0, counts={...})
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from communal_sync.lazy_exports import LazyExports

if TYPE_CHECKING:
    from communal_sync.state.binding import ApiBinding
    from communal_sync.state.identity import IdentityMap, normalize_email_key
    from communal_sync.state.journal import RunJournal
    from communal_sync.state.location import STATE_ENV_VAR, lock_path_for, resolve_state_path
    from communal_sync.state.lock import StateLock, acquire_lock
    from communal_sync.state.migrations import SCHEMA_VERSION
    from communal_sync.state.records import (
        EndStatus,
        IdentitySource,
        ResultRecord,
        ResultStatus,
        RunKind,
        RunRecord,
        RunStatus,
        Snapshot,
    )
    from communal_sync.state.roster import ListedMembership, Roster, RosterCounts, RosterUser
    from communal_sync.state.snapshots import Snapshots
    from communal_sync.state.store import StateStore, open_state

_EXPORTS = LazyExports(
    __name__,
    {
        "binding": ("ApiBinding",),
        "identity": ("IdentityMap", "normalize_email_key"),
        "journal": ("RunJournal",),
        "location": ("STATE_ENV_VAR", "lock_path_for", "resolve_state_path"),
        "lock": ("StateLock", "acquire_lock"),
        "migrations": ("SCHEMA_VERSION",),
        "records": (
            "EndStatus",
            "IdentitySource",
            "ResultRecord",
            "ResultStatus",
            "RunKind",
            "RunRecord",
            "RunStatus",
            "Snapshot",
        ),
        "roster": ("ListedMembership", "Roster", "RosterCounts", "RosterUser"),
        "snapshots": ("Snapshots",),
        "store": ("StateStore", "open_state"),
    },
)


def __getattr__(name: str) -> object:
    """Import a name's module on first use: importing one module of this package does not
    import the others (start-up, see ``communal_sync.lazy_exports``)."""
    return _EXPORTS.load(name)


__all__ = [
    "SCHEMA_VERSION",
    "STATE_ENV_VAR",
    "ApiBinding",
    "EndStatus",
    "IdentityMap",
    "IdentitySource",
    "ListedMembership",
    "ResultRecord",
    "ResultStatus",
    "Roster",
    "RosterCounts",
    "RosterUser",
    "RunJournal",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "Snapshot",
    "Snapshots",
    "StateLock",
    "StateStore",
    "acquire_lock",
    "lock_path_for",
    "normalize_email_key",
    "open_state",
    "resolve_state_path",
]
