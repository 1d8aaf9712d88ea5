"""rpy2 bridge (extra ``[r]``): histkit tables to and from R, the R rendering.

- :func:`to_r` / :func:`from_r`: a histkit (polars or pandas) table as an R
  ``data.frame`` and back, with missing values as R's ``NA`` and categoricals
  as factors. No pandas conversion layer is involved (it does not follow numpy
  2 on every platform): columns are built one R vector at a time.
- :func:`render_r`: the figure of ``histkit plot --engine r``, drawn by the R
  package's own ggplot2 code (``r/``), so Python users get the R rendering.
  Facet order and labels are decided here by :func:`histkit.render.plot.facet_levels`,
  and the R side draws from plain tables: the embedded R never starts Python.
- :func:`read_rds_history`: an R keras history saved with ``saveRDS()``
  (``keras_training_history``) or a data.frame, as a histkit table.

rpy2 is imported inside the functions, so importing this module is free.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import polars as pl

from .errors import HistkitError, HistoryError

__all__ = ["RBridgeError", "to_r", "from_r", "plot_r", "render_r", "read_rds_history",
           "r_package"]


class RBridgeError(HistkitError):
    """R, rpy2 or the R package histkit is missing, or R failed."""


def _ro():
    """rpy2.robjects, started once; :class:`RBridgeError` when rpy2 is missing."""
    try:
        import rpy2.robjects as ro
    except ImportError as exc:
        raise RBridgeError(f"the R engine needs rpy2 ({exc}): pip install 'histkit[r]' "
                           "(rpy2>=3.5,<3.6 for R 4.2)") from None
    except Exception as exc:  # noqa: BLE001 - rpy2 raises plain errors when R is broken
        raise RBridgeError(f"rpy2 cannot start R: {exc}; is R installed "
                           "(apt-get install r-base-core)?") from None
    return ro


def _r_error(what: str, exc: Exception) -> RBridgeError:
    msg = " ".join(str(exc).split())
    return RBridgeError(f"R failed while {what}: {msg}")


def r_package():
    """The R package histkit, loaded through rpy2; :class:`RBridgeError` with
    the install command when it is not installed."""
    ro = _ro()
    if not ro.r('isTRUE(requireNamespace("histkit", quietly = TRUE))')[0]:
        raise RBridgeError("the R package histkit is not installed: run "
                           "'R CMD INSTALL r' in the histkit checkout (or 'make test')")
    return ro.r('asNamespace("histkit")')


# ---------------------------------------------------------------------------
# tables


def _as_frame(frame) -> pl.DataFrame:
    from .readers.batch import _as_polars

    return _as_polars(frame)


def to_r(frame):
    """An R ``data.frame`` (rpy2 object) of a polars or pandas table.

    Integers become R integers (doubles beyond 32 bits), floats doubles (null
    and NaN become ``NA``), booleans logicals, categoricals and enums factors
    with their categories as levels, everything else character."""
    ro = _ro()
    v = ro.vectors
    frame = _as_frame(frame)
    columns = []
    for name in frame.columns:
        s = frame[name]
        if s.dtype in (pl.Categorical, pl.Enum):
            # an Enum has its own category list; a Categorical, the values it holds
            levels = (list(s.dtype.categories) if s.dtype == pl.Enum else [])
            used = [x for x in s.cast(pl.String).unique(maintain_order=True).drop_nulls()
                    if x not in levels]
            values = v.StrVector([ro.NA_Character if x is None else x for x in s.cast(pl.String)])
            vec = v.FactorVector(values, levels=v.StrVector(levels + used))
        elif s.dtype == pl.Boolean:
            vec = v.BoolVector([ro.NA_Logical if x is None else x for x in s])
        elif s.dtype.is_integer() and (s.drop_nulls().abs().max() or 0) <= 2**31 - 1:
            vec = v.IntVector([ro.NA_Integer if x is None else x for x in s])
        elif s.dtype.is_numeric():
            vec = v.FloatVector([ro.NA_Real if x is None or math.isnan(x) else x
                                 for x in s.cast(pl.Float64)])
        else:
            vec = v.StrVector([ro.NA_Character if x is None else str(x)
                               for x in s.cast(pl.String)])
        columns.append((name, vec))
    args = columns + [("check.names", False), ("stringsAsFactors", False)]
    try:
        return ro.vectors.DataFrame(ro.baseenv["data.frame"].rcall(args, ro.globalenv))
    except Exception as exc:  # noqa: BLE001
        raise _r_error("building a data.frame", exc) from None


def from_r(df) -> pl.DataFrame:
    """A polars frame of an R ``data.frame`` (rpy2 object): factors become
    text, ``NA`` and ``NaN`` become nulls, integers Int64, doubles Float64."""
    ro = _ro()
    r = ro.r
    if not r["is.data.frame"](df)[0]:
        raise RBridgeError(f"expected an R data.frame, got {'/'.join(r['class'](df))}")
    series = []
    for name, col in zip(df.names, df):
        missing = list(r["is.na"](col))
        if r["is.factor"](col)[0]:
            col, dtype = r["as.character"](col), pl.String
        elif r["is.logical"](col)[0]:
            dtype = pl.Boolean
        elif r["is.integer"](col)[0]:
            dtype = pl.Int64
        elif r["is.numeric"](col)[0]:
            dtype = pl.Float64
        else:
            col, dtype = r["as.character"](col), pl.String
        values = [None if na else x for x, na in zip(col, missing)]
        if dtype is pl.Boolean:
            values = [None if x is None else bool(x) for x in values]
        series.append(pl.Series(str(name), values, dtype=dtype))
    return pl.DataFrame(series)


# ---------------------------------------------------------------------------
# R keras histories


def read_rds_history(path: str | os.PathLike) -> pl.DataFrame:
    """A history saved from R with ``saveRDS()``, as a histkit table.

    A ``keras_training_history`` (what R keras' ``fit()`` returns) gives the
    wide table: ``epoch`` numbered from 1 as R keras numbers it, then one
    column per metric in the history's order; a series cut short by early
    stopping is padded with nulls. A data.frame (wide, or the long table of
    ``as.data.frame(history)``) is returned as it is.
    """
    ro = _ro()
    p = Path(path)
    if not p.is_file():
        raise HistoryError("no such file" if not p.exists() else "not a file", path=str(p))
    try:
        obj = ro.r["readRDS"](str(p))
    except Exception as exc:  # noqa: BLE001
        raise HistoryError(f"not an R data file (saveRDS): {' '.join(str(exc).split())}",
                           path=str(p)) from None
    classes = list(ro.r["class"](obj))
    if "keras_training_history" in classes:
        return _keras_history(ro, obj, str(p))
    if ro.r["is.data.frame"](obj)[0]:
        return from_r(obj)
    raise HistoryError(f"holds an R object of class {'/'.join(classes)}; expected a keras "
                       "training history (fit()'s value) or a data.frame", path=str(p))


def _keras_history(ro, obj, path: str) -> pl.DataFrame:
    metrics = obj.rx2("metrics")
    names = list(metrics.names) if metrics.names is not ro.NULL else []
    if not names:
        raise HistoryError("the keras history holds no metrics", path=path)
    cols = {}
    for name, values in zip(names, metrics):
        missing = list(ro.r["is.na"](values))
        try:
            numbers = [None if na else float(x) for x, na in zip(values, missing)]
        except (TypeError, ValueError):
            raise HistoryError(f"metric {name!r} is not numeric", path=path,
                               column=str(name)) from None
        cols[str(name)] = numbers
    n = max(len(v) for v in cols.values())
    frame = pl.DataFrame({"epoch": pl.Series("epoch", range(1, n + 1), dtype=pl.Int64),
                          **{k: pl.Series(k, v + [None] * (n - len(v)), dtype=pl.Float64)
                             for k, v in cols.items()}})
    return frame.with_columns(pl.exclude("epoch").fill_nan(None))


# ---------------------------------------------------------------------------
# rendering


def _r_tables(hist, lookup, segments, metrics, all_metrics=False, telemetry=()):
    """The R data.frames and facet levels the R package's plot code takes."""
    from .render.plot import _base

    long, order, labels = _base(hist, lookup, metrics, all_metrics=all_metrics,
                                telemetry=telemetry)
    long = long.filter(pl.col("metric").is_in(order))
    ro = _ro()
    seg = ro.NULL
    if segments is not None:
        s = _as_frame(segments)
        if not {"metric", "data", "epoch"} <= set(s.columns):
            from .errors import OptionError

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
        raise _r_error("building the figure", exc) from None


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
    from .files import atomic_target
    from .render.plot import check_output

    out = check_output(path)
    pkg = r_package()
    ro = _ro()
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
            raise _r_error(f"drawing {out}", exc) from None
    return out
