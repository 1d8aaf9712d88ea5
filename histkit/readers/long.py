"""The long table: R keras' ``as.data.frame(history)``, histkit's common currency.

A reader gives a wide table (``epoch``, then one column per series,
``val_<m>`` the validation series of ``<m>``); :func:`to_history` reshapes
it into exactly the columns of R keras' long table: ``epoch`` (int),
``value`` (float), ``metric`` (str, ``val_`` stripped) and ``data``
(``training`` | ``validation``, and ``test`` for test and final values,
``test_<m>``), rows ordered by metric (first appearance), data (training
first), epoch.
"""

from __future__ import annotations

from typing import Iterable

import polars as pl

from ..errors import HistkitError, HistoryError

__all__ = ["to_history", "as_polars", "metric_order", "stack", "LONG_SCHEMA"]

_VAL = "val_"
_TEST = "test_"
#: the columns past which :func:`stack` unpivots instead of a select per column
WIDE = 200
LONG_SCHEMA = {"epoch": pl.Int64, "value": pl.Float64, "metric": pl.String, "data": pl.String}


def as_polars(frame) -> pl.DataFrame:
    """A polars frame of what a user hands the API: polars (eager or lazy),
    pandas, or a dict of columns."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pd = None
    if pd is not None and isinstance(frame, pd.DataFrame):
        return pl.from_pandas(frame)
    if isinstance(frame, dict):
        return pl.DataFrame(frame)
    raise HistkitError(f"expected a polars or pandas DataFrame, got {type(frame).__name__}")


def metric_order(columns: Iterable[str]) -> list[tuple[str, str, str]]:
    """(column, metric, data) in long-table order: metric by first appearance,
    training, then validation (``val_<m>``), then test (``test_<m>``). Linear
    in the number of columns (a wide file has 10^5 of them)."""
    cols = [c for c in columns if c != "epoch"]
    present = set(cols)
    order: dict[str, None] = {}
    for c in cols:
        m = c[len(_VAL):] if c.startswith(_VAL) else c[len(_TEST):] if c.startswith(_TEST) else c
        order.setdefault(m)
    out = []
    for m in order:
        if m in present:
            out.append((m, m, "training"))
        if _VAL + m in present:
            out.append((_VAL + m, m, "validation"))
        if _TEST + m in present:
            out.append((_TEST + m, m, "test"))
    return out


def to_history(wide, *, keep: Iterable[str] = ()) -> pl.DataFrame:
    """Reshape a wide history (polars or pandas) into the long table.

    Columns ``epoch, value, metric, data`` (plus the ``keep`` columns first,
    e.g. ``path`` for many runs at once); rows ordered by metric (first
    appearance), data (training first), epoch. A table that is already long
    is returned as it is.
    """
    frame = as_polars(wide)
    keep = list(keep)
    if {"metric", "value", "data"} <= set(frame.columns):
        return frame
    if "epoch" not in frame.columns:
        frame = frame.with_row_index("epoch", offset=1)
    order = metric_order(c for c in frame.columns if c not in keep)
    schema = frame.schema  # a property that builds the whole schema: once, not per column
    bad = [c for c, *_ in order if not schema[c].is_numeric()]
    if bad:
        raise HistoryError(f"column {bad[0]!r} is not numeric ({schema[bad[0]]}); "
                           "every column but epoch must be a metric")
    long = stack(frame, keep, order)
    # stacking goes column by column; a stable sort restores run-major order
    return long.sort(keep, maintain_order=True) if keep else long


def stack(frame: pl.DataFrame, keep: list[str], order, text=pl.String) -> pl.DataFrame:
    """One block of rows per metric column, in ``order`` (:func:`metric_order`;
    metric-major), with the ``keep`` columns; ``metric`` and ``data`` of
    dtype ``text``. A select per column for a sweep's tables (tall and
    narrow: about 20% faster than an unpivot over 10,000 histories), one
    unpivot past :data:`WIDE` columns (a select per column made 10^4 columns
    take a minute)."""
    if not order:
        return pl.DataFrame(schema={**{k: frame.schema[k] for k in keep}, **LONG_SCHEMA}
                            ).with_columns(pl.col("metric", "data").cast(text))
    if len(order) <= WIDE:
        epoch = pl.col("epoch").cast(pl.Int64)
        return pl.concat([
            frame.select(*keep, epoch, pl.col(c).cast(pl.Float64).fill_nan(None).alias("value"),
                         metric=pl.lit(m, text), data=pl.lit(d, text))
            for c, m, d in order], how="vertical")
    cols = [c for c, _, _ in order]
    metric = {c: m for c, m, _ in order}
    data = {c: d for c, _, d in order}
    wide = frame.select(*keep, pl.col("epoch").cast(pl.Int64).alias("\0epoch"),
                        *[pl.col(c).cast(pl.Float64) for c in cols])
    long = wide.unpivot(on=cols, index=[*keep, "\0epoch"], variable_name="\0col",
                        value_name="\0value")
    col = pl.col("\0col")
    return long.select(*keep, pl.col("\0epoch").alias("epoch"),
                       pl.col("\0value").fill_nan(None).alias("value"),
                       col.replace_strict(metric, return_dtype=pl.String).cast(text)
                       .alias("metric"),
                       col.replace_strict(data, return_dtype=pl.String).cast(text)
                       .alias("data"))
