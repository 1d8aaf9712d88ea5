"""histkit's own exceptions and warnings.

The library raises these; only the CLI turns them into one-line messages and
exit codes. Every message names the file (and line/column where known), the bad
value and what is allowed.
"""

from __future__ import annotations


class HistkitError(Exception):
    """Base class: a problem with the user's input, explained in one line."""

    def __init__(self, message: str, *, path: str | None = None,
                 line: int | None = None, column: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where += f":{self.line}"
        if self.column is not None:
            where += f" (column {self.column!r})"
        return f"{where}: {self.message}" if where else self.message


class RunNameError(HistkitError):
    """A run name that does not follow the grammar (with --strict)."""


class HistoryError(HistkitError):
    """A history file that cannot be read as a table of metrics."""


class OutputError(HistkitError):
    """An output that could not be written (a full disk, a read-only folder):
    the run's own failure, not the user's input (the CLI exits 1)."""


class LabelsError(HistkitError):
    """A labels file that is not a plain name -> label lookup."""


class OptionError(HistkitError):
    """A bad option value (tolerance, output suffix, filter...)."""


def listed(items, most: int = 5) -> str:
    """``a, b, c and 4 more``: the first ``most`` of ``items`` for a message."""
    items = list(items)
    shown = ", ".join(map(str, items[:most]))
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


class HistkitWarning(UserWarning):
    """Something histkit repaired or guessed; the CLI prints it as one line."""
