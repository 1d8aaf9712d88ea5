"""``histkit plot --engine r``: the figure drawn by the R package's own
ggplot2 code (``r/``), through rpy2 (extra ``[r]``).

Facet order and labels are decided here, by :func:`histkit.render.plot.facets`,
and the R side draws from plain tables: the embedded R never starts Python.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from ..errors import OptionError
from ..files import atomic_target
from ..rbridge import r_error, r_package, robjects, to_r
from ..readers import as_polars
from .plot import check_output, facets

__all__ = ["plot_r", "render_r"]


def _r_tables(hist, lookup, segments, metrics, all_metrics=False, telemetry=()):
    """The R data.frames and facet levels the R package's plot code takes."""
    long, order, labels = facets(hist, lookup, metrics, all_metrics=all_metrics,
                                telemetry=telemetry)
    long = long.filter(pl.col("metric").is_in(order))
    ro = robjects()
    seg = ro.NULL
    if segments is not None:
        s = as_polars(segments)
        if not {"metric", "data", "epoch"} <= set(s.columns):
            raise OptionError("segments need the columns metric, data and epoch "
                              "(as early_stoppings() returns them)")
        seg = to_r(s.select("metric", "data", "epoch").filter(pl.col("metric").is_in(order)))
    return (to_r(long.select("epoch", "value", "metric", "data")), seg,
            ro.vectors.StrVector(order), ro.vectors.StrVector([labels[m] for m in order]))


def plot_r(hist, lookup=None, segments=None, base_size: float = 11, metrics=None):
    """The R package's ggplot of one run, as an rpy2 object (for R code driven
    from Python: add to it with ``ro.r['+']``, save it with ggsave)."""
    pkg = r_package()
    tables = _r_tables(hist, lookup, segments, metrics)
    try:
        return pkg[".build_plot"](*tables, base_size=float(base_size))
    except Exception as exc:  # noqa: BLE001
        raise r_error("building the figure", exc) from None


def render_r(hist, lookup=None, segments=None, base_size: float = 11, title: str | None = None,
             subtitle: str | None = None, caption: str | None = None,
             path: str | os.PathLike = "history.png", width: float | None = None,
             height: float | None = None, dpi: int = 150, metrics=None,
             all_metrics: bool = False, telemetry=()) -> Path:
    """Draw one run with the R package's ggplot2 code and save it (PNG, PDF
    or SVG by suffix), atomically.

    Arguments as :func:`histkit.render.plot.plot_run`: ``lookup`` is a dict or a
    labels file, ``segments`` a table with ``metric, data, epoch`` (e.g.
    :func:`histkit.early_stoppings`); title, subtitle and caption go on with
    ``patchwork::plot_annotation()`` as in the R workflow. The default size
    fits the facet grid, as :func:`histkit.render.plot.save_plot` picks it.
    """
    out = check_output(path)
    pkg = r_package()
    ro = robjects()
    tables = _r_tables(hist, lookup, segments, metrics, all_metrics, telemetry)

    def opt(x):
        return ro.NULL if x is None else x

    with atomic_target(out) as tmp:
        try:
            pkg[".render_frames"](
                *tables, base_size=float(base_size), title=opt(title), subtitle=opt(subtitle),
                caption=opt(caption), path=str(tmp), width=opt(width), height=opt(height),
                dpi=int(dpi))
        except Exception as exc:  # noqa: BLE001 - rpy2's RRuntimeError and friends
            raise r_error(f"drawing {out}", exc) from None
    return out
