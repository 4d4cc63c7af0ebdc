"""Connecting a command to the API and the state file: the real API, or the embedded sandbox.

``--sandbox`` starts a local Communal on a free loopback port, seeded with the demo
organization, and points the client at it with the sandbox's manager key. Its state file
is temporary unless ``--state`` is given, so sandbox user ids never mix with a real
organization's identity map.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from communal_sync.api.client import CommunalClient
from communal_sync.api.settings import (
    DEFAULT_API_VERSION,
    ApiKey,
    ApiSettings,
    check_api_version,
    resolve_settings,
)
from communal_sync.api.throttle import Throttle
from communal_sync.errors import ConfigError
from communal_sync.sandbox import DEMO_SEED, Sandbox, load_seed
from communal_sync.state.location import resolve_state_path


@dataclass(frozen=True)
class ApiOptions:
    """How to reach the API, as the command line said it."""

    base_url: str | None = None
    api_key_file: Path | None = None
    api_version: str | None = None
    sandbox: bool = False
    sandbox_seed: Path | None = None


@dataclass
class Session:
    """A connected client and where its state lives."""

    client: CommunalClient
    settings: ApiSettings
    state_path: Path
    sandbox: Sandbox | None = None


@contextlib.contextmanager
def open_session(
    options: ApiOptions,
    *,
    state: str | None,
    env: Mapping[str, str],
    throttle: Throttle | None = None,
    client_options: Mapping[str, Any] | None = None,
) -> Iterator[Session]:
    """Resolve settings (or start the sandbox), open the client, and close both after.

    With a ``throttle``, every request waits for its turn and every 429 slows the run.
    ``client_options`` are more ``CommunalClient`` keywords (``doctor`` passes a recording
    transport, its own warning sink and a single attempt per request).
    """
    with contextlib.ExitStack() as stack:
        sandbox: Sandbox | None = None
        if options.sandbox:
            sandbox = stack.enter_context(_start_sandbox(options.sandbox_seed))
            settings = ApiSettings(
                api_key=ApiKey(sandbox.manager_key),
                base_url=sandbox.base_url,
                api_version=check_api_version(options.api_version or DEFAULT_API_VERSION),
                key_source="the embedded sandbox",
            )
            if state is None:
                folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="communal-sync-"))
                state = str(Path(folder) / "sandbox-state.db")
            state_path = Path(state)
        else:
            settings = resolve_settings(
                base_url=options.base_url,
                api_key_file=options.api_key_file,
                api_version=options.api_version,
                env=env,
            )
            state_path = resolve_state_path(state, env)
        hooks: dict[str, Any] = {}
        if throttle is not None:
            hooks = {"before_request": throttle.wait, "on_rate_limited": throttle.throttled}
        hooks.update(client_options or {})
        client = stack.enter_context(CommunalClient.from_settings(settings, **hooks))
        yield Session(client=client, settings=settings, state_path=state_path, sandbox=sandbox)


@contextlib.contextmanager
def _start_sandbox(seed_path: Path | None) -> Iterator[Sandbox]:
    path = seed_path or DEMO_SEED
    if not path.exists():
        raise ConfigError(
            f"The sandbox seed {path} does not exist. Pass --sandbox-seed FILE "
            "(see `communal-sync sandbox --help` for the format)."
        )
    with Sandbox(load_seed(path)) as sandbox:
        yield sandbox
