"""Intake: from a file name and flags to a stream of validated rows.

``open_intake(file, IntakeOptions(...))`` merges the flags over ``communal-sync.toml``
(``settings``), opens the source, maps its columns to fields (``mapping``, ``synonyms``)
and hands back an ``Intake`` whose ``results()`` validates every row (``validate``:
duplicates first, then each row, collecting every error) into ``ProfileRow``s.
"""

from communal_sync.intake.mapping import ColumnMapping
from communal_sync.intake.pipeline import Intake, open_intake
from communal_sync.intake.profile_row import ProfileRow, RowError
from communal_sync.intake.settings import IntakeOptions, ReadOptions, Settings, resolve_settings
from communal_sync.intake.validate import RowResult, ValidationSummary, summarize

__all__ = [
    "ColumnMapping",
    "Intake",
    "IntakeOptions",
    "ProfileRow",
    "ReadOptions",
    "RowError",
    "RowResult",
    "Settings",
    "ValidationSummary",
    "open_intake",
    "resolve_settings",
    "summarize",
]
