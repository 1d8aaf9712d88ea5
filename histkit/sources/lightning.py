"""PyTorch Lightning ``CSVLogger`` files (``lightning_logs/version_N/metrics.csv``).

Lightning writes one row per logging call: ``epoch`` and ``step`` are always
filled, a metric only in the rows where it was logged. A metric logged with
``on_step=True, on_epoch=True`` has two columns, ``<m>_step`` and
``<m>_epoch``; the ``_epoch`` one is the epoch's value (Lightning's own
reduction) and the ``_step`` one is dropped. A metric logged per step only is
reduced to the mean of the epoch's steps, with a warning. ``train_``/``val_``
prefixes (or ``train/``, ``val/``) say which series it is. A metric logged
with ``on_step=True`` only on the last batch of an epoch is one value, not a
per-step series, and is kept as it is.

A run resumed into the same version directory appends to the file, so its
epochs and steps start again from the checkpoint's: the later rows win, with
a warning. A run resumed into a new version directory is a second run.
"""

from __future__ import annotations

import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError
from .csvtext import parse_csv
from .series import per_epoch

__all__ = ["read", "is_lightning_header"]

_IGNORED_PREFIXES = ("test_", "test/")


def is_lightning_header(names: list[str]) -> bool:
    """Lightning's CSVLogger always writes both ``epoch`` and ``step``."""
    return "epoch" in names and "step" in names


def read(path: str, data: bytes) -> pl.DataFrame:
    """A Lightning ``metrics.csv`` as the wide table (0-based epochs as logged)."""
    frame, linenos = parse_csv(data, path)
    for col in ("epoch", "step"):
        if col not in frame.columns:
            raise HistoryError(f"no {col!r} column: not a Lightning metrics.csv", path=path)
    # LearningRateMonitor rows come before their step's row, with no epoch
    frame = frame.with_columns(pl.col("epoch").fill_null(strategy="backward")
                               .fill_null(strategy="forward"))
    bad = frame.filter(pl.col("epoch") != pl.col("epoch").floor())
    if bad.height:
        raise HistoryError(f"epoch {bad['epoch'][0]!r} is not a whole number", path=path,
                           column="epoch")
    test = [c for c in frame.columns if c.lower().startswith(_IGNORED_PREFIXES)]
    if test:
        warnings.warn(f"{path}: test metrics are not a training series; ignored: "
                      f"{', '.join(test)}", HistkitWarning, stacklevel=3)
    metrics = [c for c in frame.columns if c not in ("epoch", "step") and c not in test]
    if not metrics:
        raise HistoryError("a metrics.csv with no metric column (only epoch and step)",
                           path=path)
    frame = _latest_attempt(frame.with_row_index("row"), path)
    long = (frame.unpivot(index=["row", "epoch"], on=metrics, variable_name="series")
            .drop_nulls("value").sort("row", maintain_order=True)
            .select("series", pl.col("epoch").cast(pl.Int64), "value"))
    if long.is_empty():
        raise HistoryError("a metrics.csv whose metric columns are all empty", path=path)
    return per_epoch(long, path)


def _latest_attempt(frame: pl.DataFrame, path: str) -> pl.DataFrame:
    """Rows of a resumed run appended to the same file start again at the
    checkpoint's step: each epoch keeps the rows of its last attempt."""
    step = pl.col("step").fill_null(strategy="forward").fill_null(0)
    restart = (step < step.shift(1)).fill_null(False) | (
        pl.col("epoch") < pl.col("epoch").shift(1)).fill_null(False)
    frame = frame.with_columns(attempt=restart.cum_sum())
    if frame["attempt"].max() == 0:
        return frame
    last = frame.group_by("epoch").agg(pl.col("attempt").max().alias("keep"))
    kept = frame.join(last, on="epoch").filter(pl.col("attempt") == pl.col("keep"))
    dropped = frame.height - kept.height
    if dropped:
        warnings.warn(f"{path}: the run was resumed into the same file "
                      f"{frame['attempt'].max()} time(s); {dropped} row(s) of epochs logged "
                      "again were replaced by the later ones", HistkitWarning, stacklevel=4)
    return kept.sort("row")
