"""Packages whose public names are imported from their modules when first
asked for (PEP 562), so that importing the package stays instant."""

from __future__ import annotations

import importlib
import sys

__all__ = ["exports"]


def exports(package: str, homes: dict[str, str]):
    """A module ``__getattr__`` for ``package``: each name of ``homes`` (name
    -> module of the package, relative) is imported from its module on first
    use and kept on the package."""

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
