"""``communal-sync link``: the identity map, from a FILE or from Communal itself.

``link FILE`` loads an id map (Communal user id by email or external id) from a file.
``link --from-communal`` builds it from Communal's own member list
(``identity.from_communal``): a progress bar on a terminal, JSON events with
``--log-format json``, one summary line, and the members it could not map, listed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from communal_sync.api.throttle import Throttle
from communal_sync.cli import events
from communal_sync.cli.app import app, fail, handles_errors, stdout_console, warn
from communal_sync.cli.options import (
    DEFAULT_CONCURRENCY,
    ApiFlags,
    ConcurrencyOpt,
    FormatOpt,
    JsonOpt,
    ReadFlags,
    RedactOpt,
    ReportFormat,
    StateOpt,
    flags,
)
from communal_sync.cli.progress import member_progress
from communal_sync.display import MESSAGE_CHARS, cut, for_terminal, shown
from communal_sync.errors import ExitCode, UsageError
from communal_sync.reports.redaction import REDACTED, redact_value

if TYPE_CHECKING:
    from communal_sync.identity.from_communal import RosterResult
    from communal_sync.identity.link import LinkResult
    from communal_sync.session import Session

LinkDryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Check the file and report what would be linked; write nothing."
    ),
]


LinkFileArg = Annotated[
    str | None,
    typer.Argument(
        metavar="[FILE]",
        help="An id map to load: a CSV, JSON or JSON Lines file with a Communal id column "
        "and an email and/or external id column, or - for standard input.",
        show_default=False,
    ),
]
FromCommunalOpt = Annotated[
    bool,
    typer.Option(
        "--from-communal",
        help="Instead of a FILE, build the map from Communal itself: every member in "
        "GET /user_memberships (API 2026-08-25), then GET /users/{id} of each member not "
        "read yet. Run it again to finish an interrupted run or to learn new members.",
    ),
]
LinkFullRefreshOpt = Annotated[
    bool,
    typer.Option(
        "--full-refresh",
        help="With --from-communal: read every membership page and every member again "
        "(say, weekly), not only what is new.",
    ),
]


@app.command()
@handles_errors
@flags
def link(
    read: ReadFlags,
    api: ApiFlags,
    file: LinkFileArg = None,
    from_communal: FromCommunalOpt = False,
    full_refresh: LinkFullRefreshOpt = False,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    state: StateOpt = None,
    dry_run: LinkDryRunOpt = False,
    as_json: JsonOpt = False,
    report_format: FormatOpt = ReportFormat.text,
    redact: RedactOpt = False,
) -> None:
    """Load an id map: which Communal user id each email or external id belongs to.

    FILE has a column with the Communal user id and an email and/or external id column
    (a people export from Communal, or your system's table of Communal ids). Later plans
    match rows without an id column through it. Valid rows are linked in one go; bad or
    contradictory rows are refused and listed. Exit 0 when every row was linked, 3 when
    some were refused, 1 when the file cannot be read, 4 when another run holds the state.

    --from-communal builds the map from Communal's members instead (no FILE): exit 0 when
    every member was read, 3 when some could not be (run it again), 1 on a fatal error,
    130 when interrupted (run it again: nothing read is read again).
    """
    from communal_sync.identity.link import apply_links, open_link_file, read_links
    from communal_sync.state import acquire_lock, open_state, resolve_state_path

    if as_json:
        report_format = ReportFormat.json
    if from_communal:
        _refuse_file_options(file, read, dry_run)
        code = _link_from_communal(
            api, state, full_refresh, concurrency, report_format, redact=redact
        )
        raise typer.Exit(code)
    if file is None:
        raise UsageError(
            "Give FILE, an id map to load, or --from-communal to read Communal's members."
        )
    _refuse_communal_options(api, full_refresh, concurrency)
    link_file = open_link_file(file, read.options())
    with link_file.source:
        for message in link_file.warnings:
            warn(message)
        links = read_links(link_file)
    state_path = resolve_state_path(state, os.environ)
    if dry_run:
        if state_path.exists():
            with open_state(state_path) as store:
                result = apply_links(store, links, dry_run=True)
        else:
            result = apply_links(None, links, dry_run=True)
    else:
        with (
            acquire_lock(state_path, command=f"link {links.name}"),
            open_state(state_path) as store,
        ):
            result = apply_links(store, links, dry_run=False)

    if report_format is ReportFormat.json:
        payload = _result_json(result, link_file.columns.unmapped, state_path, redact)
        typer.echo(json.dumps(payload, indent=2))
    else:
        _render_text(result, link_file.columns.unmapped, stdout_console(), redact)
    raise typer.Exit(ExitCode.ROW_FAILURES if result.refused_rows else ExitCode.OK)


def _result_json(
    result: LinkResult, unmapped: tuple[str, ...], state_path: Path, redact: bool
) -> dict[str, Any]:
    return {
        "file": result.name,
        "state": str(state_path),
        "dry_run": result.dry_run,
        "rows": result.rows,
        "people": result.people,
        "by_email": result.by_email,
        "by_external_id": result.by_external_id,
        "already_known": result.already_known,
        "moved": len(result.moves),
        "refused": result.refused_rows,
        "moves": [
            {
                "line": move.line,
                "field": move.key,
                "value": redact_value(move.value, redact),
                "from_users": list(move.from_users),
                "to_user": move.to_user,
            }
            for move in result.moves
        ],
        "errors": [
            {
                "line": error.line,
                "field": error.field,
                "value": redact_value(error.value, redact),
                "message": error.message,
            }
            for error in result.problems
        ],
        "unmapped_columns": list(unmapped),
    }


def _render_text(
    result: LinkResult, unmapped: tuple[str, ...], console: Console, redact: bool
) -> None:
    console.print(f"{escape(for_terminal(result.name))}: {escape(result.summary())}")
    if unmapped:
        columns = escape(", ".join(repr(cut(c)) for c in unmapped))
        console.print(
            f"Columns not mapped to any Communal field (ignored): {columns}. "
            'Use --map "Column=id", "Column=email" or "Column=external_id" if one was meant.'
        )
    if result.moves:
        table = Table(title="Moved mappings", title_justify="left")
        for column in ("line", "field", "change"):
            table.add_column(column, overflow="fold")
        for move in result.moves:
            value = REDACTED if redact else cut(move.value)
            table.add_row(str(move.line), move.key, Text(for_terminal(move.describe(value))))
        console.print(table)
    if result.problems:
        table = Table(title="Refused rows (not linked)", title_justify="left")
        for column in ("line", "field", "value", "reason"):
            table.add_column(column, overflow="fold")
        for error in result.problems:
            value = redact_value(error.value, redact) or ""
            table.add_row(
                str(error.line),
                Text(shown(error.field)),
                Text(shown(value)),
                Text(shown(error.message, MESSAGE_CHARS)),
            )
        console.print(table)


# --- link --from-communal -------------------------------------------------------------------


def _refuse_file_options(file: str | None, read: ReadFlags, dry_run: bool) -> None:
    """Options about a FILE mean nothing with --from-communal: say so, do not ignore them."""
    given = [
        name
        for name, used in (
            ("FILE", file is not None),
            ("--map", bool(read.map_items)),
            ("--config", read.config is not None),
            ("--encoding", read.encoding is not None),
            ("--input-format", read.input_format is not None),
            ("--dry-run", dry_run),
        )
        if used
    ]
    if given:
        raise UsageError(
            f"--from-communal reads Communal, not a file: drop {', '.join(given)} "
            "(or drop --from-communal to load a FILE)."
        )


def _refuse_communal_options(api: ApiFlags, full_refresh: bool, concurrency: int) -> None:
    """Options about reading Communal mean nothing with FILE: say so, do not ignore them."""
    given = [
        name
        for name, used in (
            ("--full-refresh", full_refresh),
            ("--concurrency", concurrency != DEFAULT_CONCURRENCY),
            ("--base-url", api.base_url is not None),
            ("--api-key-file", api.api_key_file is not None),
            ("--api-version", api.api_version is not None),
            ("--sandbox", api.sandbox),
            ("--sandbox-seed", api.sandbox_seed is not None),
        )
        if used
    ]
    if given:
        raise UsageError(
            f"link FILE reads only the file: {', '.join(given)} "
            f"{'applies' if len(given) == 1 else 'apply'} to link --from-communal."
        )


def _link_from_communal(
    api: ApiFlags,
    state: str | None,
    full_refresh: bool,
    concurrency: int,
    report_format: ReportFormat,
    *,
    redact: bool,
) -> int:
    from communal_sync.identity.from_communal import link_from_communal
    from communal_sync.session import open_session
    from communal_sync.state import acquire_lock, open_state

    if api.sandbox and state is None:
        warn(
            "--sandbox without --state keeps this identity map in a temporary file, gone "
            "when the command ends; pass --state PATH to keep it for a later push."
        )
    with (
        open_session(api.options(), state=state, env=os.environ, throttle=Throttle()) as session,
        acquire_lock(session.state_path, command="link --from-communal"),
        open_state(session.state_path) as store,
    ):
        store.binding.check(session.settings.base_url, bind=True)
        with member_progress(redact=redact) as on_progress:
            result = link_from_communal(
                session.client,
                store,
                concurrency=concurrency,
                full_refresh=full_refresh,
                on_progress=on_progress,
            )
    code = _roster_exit_code(result)
    events.emit("link_finished", summary=result.summary(), exit_code=code, **result.count_fields())
    if report_format is ReportFormat.json:
        typer.echo(json.dumps(_roster_json(result, session, redact), indent=2))
    else:
        _render_roster(result, stdout_console(), redact)
    _say_how_it_ended(result)
    return code


def _roster_exit_code(result: RosterResult) -> int:
    if result.fatal is not None:
        return ExitCode.FATAL
    if result.interrupted:
        return ExitCode.INTERRUPTED
    return ExitCode.ROW_FAILURES if result.tally.failures else ExitCode.OK


AGAIN = "Run `communal-sync link --from-communal` again to continue: nothing read is read again."


def _say_how_it_ended(result: RosterResult) -> None:
    if result.fatal is not None:
        fail(f"{result.fatal} The run stopped; what was read is kept. {AGAIN}")
    elif result.interrupted:
        fail(f"Interrupted; what was read is kept. {AGAIN}")
    elif result.tally.failures:
        count = len(result.tally.failures)
        warn(f"{count} {'member' if count == 1 else 'members'} could not be read. {AGAIN}")


def _roster_json(result: RosterResult, session: Session, redact: bool) -> dict[str, Any]:
    counts = result.counts
    return {
        "source": "communal",
        "state": str(session.state_path),
        "summary": result.summary(),
        **result.count_fields(),
        "shared": [
            {"email": redact_value(cut(email), redact), "user_ids": list(users)}
            for email, users in counts.shared.items()
        ],
        "without_email_ids": list(counts.without_email),
        "not_found_ids": list(counts.not_found),
        "failures": [
            {
                "user_id": failure.user_id,
                "http_status": failure.error.status,
                "reason": redact_value(cut(str(failure.error), MESSAGE_CHARS), redact),
            }
            for failure in result.tally.failures
        ],
        "interrupted": result.interrupted,
        "fatal": None
        if result.fatal is None
        else redact_value(cut(str(result.fatal), MESSAGE_CHARS), redact),
    }


def _render_roster(result: RosterResult, console: Console, redact: bool) -> None:
    console.print(escape(result.summary()), soft_wrap=True)
    console.print(escape(f"This run: {result.activity()}."), soft_wrap=True)
    counts = result.counts
    if counts.shared:
        # The title on a line of its own: a table as narrow as its emails would fold it.
        console.print("Emails shared by several users (not mapped):", soft_wrap=True)
        table = Table()
        table.add_column("email", overflow="fold")
        table.add_column("user ids", overflow="fold")
        for email, users in counts.shared.items():
            table.add_row(
                Text(REDACTED if redact else shown(email)), ", ".join(str(u) for u in users)
            )
        console.print(table)
    for title, ids in (
        ("Members without an email (not mapped)", counts.without_email),
        ("Members Communal could not find (404)", counts.not_found),
    ):
        if ids:
            console.print(escape(f"{title}: {', '.join(str(i) for i in ids)}."), soft_wrap=True)
    if result.tally.failures:
        table = Table(title="Members not read (read again next run)", title_justify="left")
        table.add_column("user id")
        table.add_column("reason", overflow="fold")
        for failure in result.tally.failures:
            reason = redact_value(str(failure.error), redact) or ""
            table.add_row(str(failure.user_id), Text(shown(reason, MESSAGE_CHARS)))
        console.print(table)
