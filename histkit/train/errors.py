"""The trainer's exception (no torch here: the CLI imports it)."""

from __future__ import annotations

from ..errors import HistkitError

__all__ = ["TrainError"]


class TrainError(HistkitError):
    """A bad training option, data folder or checkpoint."""
