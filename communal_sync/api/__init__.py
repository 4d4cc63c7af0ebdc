"""The Communal API: settings, a thread-safe typed client, its models and its retry policy.

from communal_sync.api import CommunalClient, resolve_settings

with CommunalClient.from_settings(resolve_settings()) as client:
    user = client.get_user(42)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from communal_sync.lazy_exports import LazyExports

if TYPE_CHECKING:
    from communal_sync.api.client import CommunalClient
    from communal_sync.api.models import (
        CustomProfileField,
        CustomProfileFieldValue,
        ProgramSignup,
        User,
    )
    from communal_sync.api.retry import RetryPolicy, set_testing, should_retry
    from communal_sync.api.settings import (
        DEFAULT_API_VERSION,
        DEFAULT_BASE_URL,
        ApiKey,
        ApiSettings,
        resolve_settings,
    )

_EXPORTS = LazyExports(
    __name__,
    {
        "client": ("CommunalClient",),
        "models": ("CustomProfileField", "CustomProfileFieldValue", "ProgramSignup", "User"),
        "retry": ("RetryPolicy", "set_testing", "should_retry"),
        "settings": (
            "DEFAULT_API_VERSION",
            "DEFAULT_BASE_URL",
            "ApiKey",
            "ApiSettings",
            "resolve_settings",
        ),
    },
)


def __getattr__(name: str) -> object:
    """Import a name's module on first use: importing one module of this package does not
    import the others (start-up, see ``communal_sync.lazy_exports``)."""
    return _EXPORTS.load(name)


__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "ApiKey",
    "ApiSettings",
    "CommunalClient",
    "CustomProfileField",
    "CustomProfileFieldValue",
    "ProgramSignup",
    "RetryPolicy",
    "User",
    "resolve_settings",
    "set_testing",
    "should_retry",
]
