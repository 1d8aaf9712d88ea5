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
from .csvtext import parse_columns
from .series import per_epoch

__all__ = ["detect", "read", "is_header", "READS_FILES"]

READS_FILES = True

_IGNORED_PREFIXES = ("test_", "test/")


def is_header(names: list[str]) -> bool:
    """Lightning's CSVLogger always writes both ``epoch`` and ``step``."""
    return "epoch" in names and "step" in names


def detect(probe) -> bool:
    """A CSV file whose header has ``epoch`` and ``step``."""
    return not probe.is_dir and probe.header is not None and is_header(probe.header)


def read(path: str, data: bytes) -> pl.DataFrame:
    """A Lightning ``metrics.csv`` as the wide table (0-based epochs as logged)."""
    columns, linenos = parse_columns(data, path)
    for col in ("epoch", "step"):
        if col not in columns:
            raise HistoryError(f"no {col!r} column: not a Lightning metrics.csv", path=path)
    test = [c for c in columns if c.lower().startswith(_IGNORED_PREFIXES)]
    if test:
        warnings.warn(f"{path}: test metrics are not a training series; ignored: "
                      f"{', '.join(test)}", HistkitWarning, stacklevel=3)
    metrics = [c for c in columns if c not in ("epoch", "step") and c not in test]
    if not metrics:
        raise HistoryError("a metrics.csv with no metric column (only epoch and step)",
                           path=path)
    epochs = _filled(columns["epoch"])
    for i, e in enumerate(epochs):
        if e is not None and (e != e // 1 or abs(e) > 2**53):
            raise HistoryError(f"epoch {e!r} is not a whole number", path=path,
                               line=linenos[i], column="epoch")
    rows = _latest_attempt(epochs, columns["step"], path)
    series, out_e, values = [], [], []
    for i in rows:
        e = epochs[i]
        for m in metrics:
            v = columns[m][i]
            if v is not None:
                series.append(m)
                out_e.append(int(e))
                values.append(v)
    if not series:
        raise HistoryError("a metrics.csv whose metric columns are all empty", path=path)
    return per_epoch(series, out_e, values, path)


def _filled(epochs: list) -> list:
    """LearningRateMonitor rows come before their step's row, with no epoch:
    each takes the next row's epoch (the last rows the previous one)."""
    out = list(epochs)
    nxt = None
    for i in range(len(out) - 1, -1, -1):
        if out[i] is None:
            out[i] = nxt
        else:
            nxt = out[i]
    prev = None
    for i, e in enumerate(out):
        if e is None:
            out[i] = prev
        else:
            prev = e
    return out


def _latest_attempt(epochs: list, steps: list, path: str) -> list[int]:
    """The rows to keep. A resumed run appended to the same file starts again
    at the checkpoint's step (or epoch): each epoch keeps the rows of its last
    attempt, with a warning."""
    attempt, attempts = 0, []
    last_step = last_epoch = None
    for e, s in zip(epochs, steps):
        if (s is not None and last_step is not None and s < last_step) or \
                (e is not None and last_epoch is not None and e < last_epoch):
            attempt += 1
        last_step = s if s is not None else last_step
        last_epoch = e if e is not None else last_epoch
        attempts.append(attempt)
    rows = [i for i, e in enumerate(epochs) if e is not None]
    if attempt == 0:
        return rows
    final = {}
    for i in rows:
        final[epochs[i]] = attempts[i]
    kept = [i for i in rows if attempts[i] == final[epochs[i]]]
    dropped = len(rows) - len(kept)
    if dropped:
        warnings.warn(f"{path}: the run was resumed into the same file {attempt} time(s); "
                      f"{dropped} row(s) of epochs logged again were replaced by the later "
                      "ones", HistkitWarning, stacklevel=4)
    return kept
