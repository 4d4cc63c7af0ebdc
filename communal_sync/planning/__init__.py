"""Planning: what a push would change, per user and field, and every row it would not touch.

``plan_export`` (custom fields settled, then ``build_plan``) matches each valid row, reads
its user (``current``: live, snapshot or unknown, per field), plans it (``user_plan``: the
identity check and the three-way ``diff``) and checks the safety ``limits``. The result is
a ``plan.Plan``: data, shown by a dry run and applied as it is. ``build_revert_plan``
makes the plan that undoes a past run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from communal_sync.lazy_exports import LazyExports

if TYPE_CHECKING:
    from communal_sync.planning.planner import build_plan, plan_export
    from communal_sync.planning.revert import build_revert_plan

_EXPORTS = LazyExports(
    __name__,
    {
        "planner": ("build_plan", "plan_export"),
        "revert": ("build_revert_plan",),
    },
)


def __getattr__(name: str) -> object:
    """Import a name's module on first use: importing one module of this package does not
    import the others (start-up, see ``communal_sync.lazy_exports``)."""
    return _EXPORTS.load(name)


__all__ = ["build_plan", "build_revert_plan", "plan_export"]
