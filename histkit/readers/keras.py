"""Keras histories: ``CSVLogger`` files (and histkit's trainer, which writes
the same shape) and ``history.history`` dumped as JSON.

CSVLogger writes a header, a 0-based ``epoch`` column and one column per
metric, sorted by name; histkit keeps the file's epoch numbers. A JSON dump
is an object of equally long lists, one per metric (``val_<m>`` for
validation); epochs are numbered from 1, or taken from an ``epoch`` list when
the dump holds one (``{"history": {...}, "epoch": [0, 1, ...]}``, the
``History`` object's two fields).
"""

from __future__ import annotations

import json
import math
import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError
from .csvtext import parse_csv

__all__ = ["read_csv", "read_json", "finish"]


def read_csv(path: str, data: bytes) -> pl.DataFrame:
    """A Keras CSVLogger file as the wide table (``epoch`` first)."""
    frame, linenos = parse_csv(data, path)
    return finish(frame, path, lineno_of=linenos.__getitem__)


def finish(frame: pl.DataFrame, path: str, lineno_of) -> pl.DataFrame:
    """Check and normalise the epoch column; drop repeated epochs (keep last)."""
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


def read_json(path: str, data: bytes) -> pl.DataFrame:
    """``json.dump(history.history)`` (or of ``{"history": ..., "epoch": ...}``)."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HistoryError(f"not valid JSON: {exc}", path=path) from None
    epochs = None
    if isinstance(obj, dict) and isinstance(obj.get("history"), dict):
        epochs = obj.get("epoch")
        obj = obj["history"]
    if not isinstance(obj, dict) or not obj:
        raise HistoryError("JSON that is not a Keras history: expected an object of lists "
                           "such as {\"loss\": [...], \"val_loss\": [...]}", path=path)
    columns: dict[str, list] = {}
    for key, values in obj.items():
        if not isinstance(values, list) or not all(_number(v) for v in values):
            raise HistoryError(f"key {key!r} is not a list of numbers; a Keras history maps "
                               "each metric to one number per epoch", path=path, column=key)
        columns[str(key)] = [None if v is None or (isinstance(v, float) and math.isnan(v))
                             else float(v) for v in values]
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        said = ", ".join(f"{k} {n}" for k, n in lengths.items())
        raise HistoryError(f"lists of different lengths ({said}): one value per epoch each",
                           path=path)
    n = next(iter(lengths.values()))
    if n == 0:
        raise HistoryError("the history has no epochs (every list is empty)", path=path)
    columns.pop("epoch", None)
    if epochs is not None:
        if (not isinstance(epochs, list) or len(epochs) != n
                or not all(isinstance(e, int) and not isinstance(e, bool) for e in epochs)):
            raise HistoryError(f"'epoch' should be a list of {n} whole numbers", path=path,
                               column="epoch")
        index = pl.Series("epoch", epochs, dtype=pl.Int64)
    else:
        index = pl.int_range(1, n + 1, dtype=pl.Int64, eager=True).alias("epoch")
    frame = pl.DataFrame([index, *(pl.Series(k, v, dtype=pl.Float64)
                                   for k, v in columns.items())])
    return finish(frame, path, lineno_of=lambda i: None)


def _number(v) -> bool:
    if isinstance(v, int) and not isinstance(v, bool):
        return abs(v) < 2**1023
    return v is None or isinstance(v, float)
