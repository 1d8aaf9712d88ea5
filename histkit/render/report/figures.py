"""The report's figure tasks: a run's figure (and its telemetry figure), and
a comparison figure of every run's validation curves by one field.

A task holds all it draws from, so a worker process draws it without
reading anything; :meth:`draw` writes every file of its manifest ``entry``
and returns the error text instead of raising (one figure that fails is one
problem of the report, not a lost report).
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import ClassVar

import polars as pl

from ...analysis.curves import GroupCurves
from ...analysis.stops import early_stoppings
from ...errors import HistkitError
from .settings import Settings

__all__ = ["RunFigure", "ComparisonFigure", "GROUP_FIGURE"]

GROUP_FIGURE = "mean+band>=3"  # how comparison figures are drawn: a change redraws them


@dataclasses.dataclass
class RunFigure:
    """The figure of ``histkit plot`` for one run, in every format, and its
    telemetry figure when ``entry["telemetry"]`` names one."""

    part: ClassVar[str] = "runs"  # its section of the manifest
    key: str  # the history's path
    entry: dict  # its manifest entry: digest, name, files, telemetry
    name: str
    hist: pl.DataFrame
    settings: Settings

    def draw(self, out: str) -> tuple[str | None, list[str] | None]:
        """Write the figures; ``(error text or None, None)``."""
        from plotnine import labs

        from ..plot import plot_history, plot_telemetry, save_plot

        s = self.settings
        telemetry = self.entry.get("telemetry", [])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                segs = early_stoppings(self.hist, s.tolerance, telemetry=s.telemetry)
                fig = plot_history(self.hist, dict(s.labels), segs, s.base_size,
                                   all_metrics=s.all_metrics,
                                   telemetry=s.telemetry) + labs(caption=self.name)
                for f in self.entry["files"]:
                    if f not in telemetry:
                        save_plot(fig, Path(out) / f, dpi=s.dpi)
                for f in telemetry:
                    save_plot(plot_telemetry(self.hist, s.base_size, telemetry=s.telemetry)
                              + labs(caption=f"telemetry of {self.name}"), Path(out) / f,
                              dpi=s.dpi)
        except Exception as exc:  # noqa: BLE001 - reported as a problem of this figure
            return f"{type(exc).__name__}: {exc}", None
        return None, None

    def problem(self, error: str) -> HistkitError:
        return HistkitError(f"cannot draw the figure: {error}", path=self.key)


@dataclasses.dataclass
class ComparisonFigure:
    """Validation curves of every run, coloured by one field's values."""

    part: ClassVar[str] = "comparisons"
    key: str  # the field compared
    entry: dict  # its manifest entry: digest, files
    curves: GroupCurves
    settings: Settings

    def draw(self, out: str) -> tuple[str | None, list[str] | None]:
        """Write the figure in every format; ``(error text or None, None)``."""
        from ..plot import plot_group_curves, save_plot

        s = self.settings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fig = plot_group_curves(self.curves, dict(s.labels), s.base_size,
                                        all_metrics=s.all_metrics)
                for f in self.entry["files"]:
                    save_plot(fig, Path(out) / f, dpi=s.dpi)
        except Exception as exc:  # noqa: BLE001 - reported as a problem of this figure
            return f"{type(exc).__name__}: {exc}", None
        return None, None

    def problem(self, error: str) -> HistkitError:
        return HistkitError(f"comparison by {self.key}: cannot draw: {error}")

