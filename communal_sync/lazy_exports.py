"""A package's names, imported from their modules on first use (PEP 562).

A package ``__init__`` that imports its modules eagerly makes any one of them cost them
all: importing ``communal_sync.applying.counts`` for a validation report used to import
``applying.run``, the state file, httpx and the sandbox's client too. The packages whose
modules are heavy (``api``, ``applying``, ``identity``, ``planning``, ``sandbox``,
``state``) keep their names under ``TYPE_CHECKING`` for the type checker and resolve them
here at run time, so ``from communal_sync.state import open_state`` still works and
imports only ``state.store`` and what it needs.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence


class LazyExports:
    """Which module of ``package`` holds each exported name."""

    def __init__(self, package: str, modules: Mapping[str, Sequence[str]]) -> None:
        self._package = package
        self._module_of = {name: module for module, names in modules.items() for name in names}

    @property
    def names(self) -> list[str]:
        """Every exported name, sorted (the package's ``__all__``)."""
        return sorted(self._module_of)

    def load(self, name: str) -> object:
        """Import the module that holds ``name``, cache the name on the package, return it."""
        module = self._module_of.get(name)
        if module is None:
            raise AttributeError(f"module {self._package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self._package}.{module}"), name)
        setattr(sys.modules[self._package], name, value)
        return value
