"""The wide table every reader returns: ``epoch`` (Int64) first, then one
Float64 column per series, ``val_<m>`` the validation series of ``<m>``."""

from __future__ import annotations

import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError

__all__ = ["finish"]


def finish(frame: pl.DataFrame, path: str, lineno_of) -> pl.DataFrame:
    """A table of columns read from a file as the wide table: its ``epoch``
    column checked (whole numbers; ``lineno_of(row)`` says where a bad one
    is) and put first, or epochs numbered from 1 where there is none; a
    repeated epoch keeps its last row, with a warning (a resumed log)."""
    if not [c for c in frame.columns if c != "epoch"]:
        raise HistoryError("no metric column: the history holds only 'epoch'", path=path)
    if "epoch" not in frame.columns:
        return frame.select(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("epoch"),
                            pl.all())
    ep = frame["epoch"]
    bad = (ep.is_null() | (ep != ep.floor()) | (ep.abs() > 2**53)).arg_true()
    if len(bad):
        i = bad[0]
        what = "epoch is missing" if ep[i] is None else f"epoch {ep[i]!r} is not a whole number"
        raise HistoryError(what, path=path, line=lineno_of(i), column="epoch")
    frame = frame.with_columns(pl.col("epoch").cast(pl.Int64)).select(
        "epoch", pl.exclude("epoch"))
    if frame["epoch"].is_duplicated().any():
        n = frame.height - frame["epoch"].n_unique()
        warnings.warn(f"{path}: {n} repeated epoch row(s) (a resumed log?); "
                      "kept the last row of each epoch", HistkitWarning, stacklevel=3)
        frame = frame.unique("epoch", keep="last", maintain_order=True).sort("epoch")
    return frame
