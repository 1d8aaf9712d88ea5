"""rpy2 bridge (extra ``[r]``): R started from Python, and tables across.

:func:`to_r` / :func:`from_r` turn a histkit (polars or pandas) table into an
R ``data.frame`` and back, with missing values as R's ``NA`` and
categoricals as factors. No pandas conversion layer is involved (it does
not follow numpy 2 on every platform): columns are built one R vector at a
time. :func:`r_package` loads the R package histkit (``r/``). Used by the
RDS reader (:mod:`histkit.readers.rds`) and the R engine of ``histkit
plot`` (:mod:`histkit.render.r_plot`).

rpy2 is imported inside the functions, so importing this module is free.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import polars as pl

from .errors import HistkitError

__all__ = ["RBridgeError", "robjects", "r_error", "to_r", "from_r", "r_package"]


class RBridgeError(HistkitError):
    """R, rpy2 or the R package histkit is missing, or R failed."""


def robjects():
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


def r_error(what: str, exc: Exception) -> RBridgeError:
    msg = " ".join(str(exc).split())
    return RBridgeError(f"R failed while {what}: {msg}")


def r_package():
    """The R package histkit, loaded through rpy2; :class:`RBridgeError` with
    the install command when it is not installed."""
    ro = robjects()
    if not ro.r('isTRUE(requireNamespace("histkit", quietly = TRUE))')[0]:
        raise RBridgeError("the R package histkit is not installed: run "
                           "'R CMD INSTALL r' in the histkit checkout (or 'make test')")
    return ro.r('asNamespace("histkit")')


# ---------------------------------------------------------------------------
# tables


def to_r(frame: pl.DataFrame):
    """An R ``data.frame`` (rpy2 object) of a polars table.

    Integers become R integers (doubles beyond 32 bits), floats doubles (null
    and NaN become ``NA``), booleans logicals, categoricals and enums factors
    with their categories as levels, everything else character."""
    ro = robjects()
    v = ro.vectors
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
        raise r_error("building a data.frame", exc) from None


def from_r(df) -> pl.DataFrame:
    """A polars frame of an R ``data.frame`` (rpy2 object): factors become
    text, ``NA`` and ``NaN`` become nulls, integers Int64, doubles Float64."""
    ro = robjects()
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
