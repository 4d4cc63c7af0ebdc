"""``communal-sync sandbox``: a local Communal API to try things against, with faults."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

import typer

from communal_sync.api.settings import is_loopback_host
from communal_sync.cli.app import app, handles_errors, stdout_console
from communal_sync.errors import UsageError

if TYPE_CHECKING:
    from communal_sync.sandbox import Sandbox

DEFAULT_HOST: Final = "127.0.0.1"
"""``sandbox.server.DEFAULT_HOST``, spelled here so that this module need not import the
server before the command runs (a test holds the two equal)."""

HOST: str = typer.Option(DEFAULT_HOST, "--host", help="Loopback address to listen on.")
PORT: int = typer.Option(0, "--port", min=0, max=65535, help="Port (0: any free port).")
SEED: Path | None = typer.Option(
    None, "--seed", help="Seed JSON file (default: the demo organization shipped with the tool)."
)
LATENCY_MS: int = typer.Option(0, "--latency-ms", min=0, help="Delay every API response.")
RATE_LIMIT: int | None = typer.Option(
    None, "--rate-limit", min=1, help="Requests per second before answering 429."
)
ERROR_RATE: float = typer.Option(
    0.0, "--error-rate", min=0.0, max=1.0, help="Share of API requests answered 500/502/503."
)
DROP_RATE: float = typer.Option(
    0.0, "--drop-rate", min=0.0, max=1.0, help="Share of API requests dropped unanswered."
)
DROP_AFTER_APPLY_RATE: float = typer.Option(
    0.0,
    "--drop-after-apply-rate",
    min=0.0,
    max=1.0,
    help="Share of API requests applied and then dropped unanswered.",
)
TELEPHONES_E164: str | None = typer.Option(
    None,
    "--telephones-e164",
    metavar="CC",
    help="Store telephones as E.164, as a real API may: numbers written without a country "
    "code are read in region CC (two letters).",
)
FAULT_SEED: int | None = typer.Option(
    None, "--fault-seed", help="Seed the fault dice, for repeatable runs."
)


@app.command()
@handles_errors
def sandbox(
    host: str = HOST,
    port: int = PORT,
    seed: Path | None = SEED,
    latency_ms: int = LATENCY_MS,
    rate_limit: int | None = RATE_LIMIT,
    error_rate: float = ERROR_RATE,
    drop_rate: float = DROP_RATE,
    drop_after_apply_rate: float = DROP_AFTER_APPLY_RATE,
    fault_seed: int | None = FAULT_SEED,
    telephones_e164: str | None = TELEPHONES_E164,
) -> None:
    """Run a local sandbox of the Communal API until Ctrl-C.

    It keeps everything in memory. GET /_sandbox/state shows the data, GET /_sandbox/requests
    the requests received, POST /_sandbox/faults changes faults while it runs.
    """
    from communal_sync.sandbox import DEMO_SEED, build_sandbox, serve_forever

    if not is_loopback_host(host):
        raise UsageError(f"--host {host} is not a loopback address; the sandbox stays local.")
    if telephones_e164 is not None and not (
        len(telephones_e164) == 2 and telephones_e164.isalpha()
    ):
        raise UsageError(
            f"--telephones-e164 {telephones_e164!r} is not a two-letter region; use e.g. CA."
        )
    server = build_sandbox(
        host=host,
        port=port,
        seed=seed if seed is not None else DEMO_SEED,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        error_rate=error_rate,
        drop_rate=drop_rate,
        drop_after_apply_rate=drop_after_apply_rate,
        fault_seed=fault_seed,
        telephone_region=telephones_e164.upper() if telephones_e164 else None,
    )
    console = stdout_console()

    def ready(base_url: str, manager_key: str) -> None:
        console.print(f"Communal sandbox listening on {base_url}", soft_wrap=True)
        console.print(f"Manager key: {manager_key}", soft_wrap=True)
        # One line however narrow the terminal: it is meant to be copied and pasted.
        console.print(_try_line(server, base_url, manager_key), soft_wrap=True)
        console.print("Press Ctrl-C to stop.")

    serve_forever(server, on_ready=ready)


def _try_line(server: Sandbox, base_url: str, manager_key: str) -> str:
    """A command to paste, naming a user the served seed holds.

    The lowest id of a user who holds no API key (a member, like the people a file
    syncs), else the lowest id; ``fields`` when the seed has no user at all.
    """
    state = server.state()
    key_holders = {key["user_id"] for key in state["api_keys"]}
    ids = sorted(user["id"] for user in state["users"])
    members = [user_id for user_id in ids if user_id not in key_holders]
    command = f"user {(members or ids)[0]}" if ids else "fields"
    return f"Try: COMMUNAL_API_KEY={manager_key} communal-sync {command} --base-url {base_url}"
