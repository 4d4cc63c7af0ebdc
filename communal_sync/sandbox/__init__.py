"""A local stand-in for the Communal API: same paths, shapes, errors, keys and versions.

Use it embedded (``with Sandbox(seed) as sandbox: ...sandbox.base_url...``) or from the
``communal-sync sandbox`` command (``build_sandbox`` + ``serve_forever``). Faults
(latency, a rate limit, 5xx, dropped connections) are switched by ``Faults`` or at run
time by ``POST /_sandbox/faults``; ``GET /_sandbox/state`` and ``GET /_sandbox/requests``
show what the API did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from communal_sync.lazy_exports import LazyExports

if TYPE_CHECKING:
    from communal_sync.sandbox.faults import Faults
    from communal_sync.sandbox.routes import DEFAULT_VERSION, SUPPORTED_VERSIONS
    from communal_sync.sandbox.seed import (
        DEFAULT_MANAGER_KEY,
        DEMO_SEED,
        SandboxSeed,
        load_seed,
        parse_seed,
    )
    from communal_sync.sandbox.server import Sandbox, build_sandbox, serve_forever

_EXPORTS = LazyExports(
    __name__,
    {
        "faults": ("Faults",),
        "routes": ("DEFAULT_VERSION", "SUPPORTED_VERSIONS"),
        "seed": ("DEFAULT_MANAGER_KEY", "DEMO_SEED", "SandboxSeed", "load_seed", "parse_seed"),
        "server": ("Sandbox", "build_sandbox", "serve_forever"),
    },
)


def __getattr__(name: str) -> object:
    """Import a name's module on first use: importing one module of this package does not
    import the others (start-up, see ``communal_sync.lazy_exports``)."""
    return _EXPORTS.load(name)


__all__ = [
    "DEFAULT_MANAGER_KEY",
    "DEFAULT_VERSION",
    "DEMO_SEED",
    "SUPPORTED_VERSIONS",
    "Faults",
    "Sandbox",
    "SandboxSeed",
    "build_sandbox",
    "load_seed",
    "parse_seed",
    "serve_forever",
]
