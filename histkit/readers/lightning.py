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
a warning. A run resumed into a new version directory is a second run, and
so is a ``fit`` logged again from the start into the same file (its epoch
and step go back to the first): it is read as ``<run>#2``. Test metrics
(``test_*``, ``avg_test_*``) are test values (``data = test``), kept with
the training they follow.
"""

from __future__ import annotations

import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError
from .csvtext import SEGMENT, parse_columns
from .series import TRAINING, per_epoch, split_series

__all__ = ["detect", "read", "is_header", "READS_FILES"]

READS_FILES = True


def is_header(names: list[str]) -> bool:
    """Lightning's CSVLogger always writes both ``epoch`` and ``step``."""
    return "epoch" in names and "step" in names


def detect(probe) -> bool:
    """A CSV file whose header has ``epoch`` and ``step``."""
    return not probe.is_dir and probe.header is not None and is_header(probe.header)


def read(path: str, data: bytes) -> pl.DataFrame:
    """A Lightning ``metrics.csv`` as the wide table (0-based epochs as logged)."""
    columns, linenos = parse_columns(data, path, keep_nan=True)
    columns.pop(SEGMENT, None)
    for col in ("epoch", "step"):
        if col not in columns:
            raise HistoryError(f"no {col!r} column: not a Lightning metrics.csv", path=path)
    metrics = [c for c in columns if c not in ("epoch", "step")]
    if not metrics:
        raise HistoryError("a metrics.csv with no metric column (only epoch and step)",
                           path=path)
    epochs = _filled(columns["epoch"])
    for i, e in enumerate(epochs):
        if e is not None and (e != e // 1 or abs(e) > 2**53):
            raise HistoryError(f"epoch {e!r} is not a whole number", path=path,
                               line=linenos[i], column="epoch")
    steps = columns["step"]
    tested = [c for c in metrics if split_series(c)[1] == "test"]
    parts = _trainings(epochs, steps, [
        all(columns[m][i] is None for m in metrics if m not in tested)
        for i in range(len(epochs))])
    tables = []
    for t in sorted(set(parts)):
        rows = _latest_attempt(epochs, steps, path, [i for i, p in enumerate(parts) if p == t])
        series, out_e, values = [], [], []
        for i in rows:
            for m in metrics:
                v = columns[m][i]
                if v is not None:
                    series.append(m)
                    out_e.append(int(epochs[i]))
                    values.append(v)
        if not series:
            if len(set(parts)) == 1:
                raise HistoryError("a metrics.csv whose metric columns are all empty",
                                   path=path)
            continue
        wide = per_epoch(series, out_e, values, path)
        tables.append(wide if t == 1 and parts[-1] == 1
                      else wide.with_columns(pl.lit(t, pl.Int64).alias(TRAINING)))
    if not tables:
        raise HistoryError("a metrics.csv whose metric columns are all empty", path=path)
    if len(tables) > 1:
        at = linenos[parts.index(2)]
        warnings.warn(f"{path}: holds {len(tables)} trainings (epoch and step start again at "
                      f"line {at}); read as {len(tables)} runs, the first under the log's own "
                      "name, the others as '#2'...", HistkitWarning, stacklevel=3)
    return pl.concat(tables, how="diagonal_relaxed")


def _trainings(epochs: list, steps: list, test_only: list[bool]) -> list[int]:
    """The training of each row: where the step and the epoch both go back to
    the first of the current training (or before), the file was logged again
    from the start (``fit`` run again into the same version directory). Rows
    that log only test values (``trainer.test()`` afterwards) stay with the
    training before them."""
    out, part = [], 1
    first = last = None
    for e, s, test in zip(epochs, steps, test_only):
        if s is not None and e is not None:
            if first is None:
                first = (e, s)
            elif (not test and last is not None and s < last[1] and s <= first[1]
                  and e <= first[0]):
                part += 1
                first = (e, s)
            if not test:
                last = (e, s)
        out.append(part)
    return out


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


def _latest_attempt(epochs: list, steps: list, path: str, rows: list[int]) -> list[int]:
    """The ``rows`` (of one training) to keep. A resumed run appended to the
    same file starts again at the checkpoint's step (or epoch): each epoch
    keeps the rows of its last attempt, with a warning."""
    attempt, attempts = 0, {}
    last_step = last_epoch = None
    for i in rows:
        e, s = epochs[i], steps[i]
        if (s is not None and last_step is not None and s < last_step) or \
                (e is not None and last_epoch is not None and e < last_epoch):
            attempt += 1
        last_step = s if s is not None else last_step
        last_epoch = e if e is not None else last_epoch
        attempts[i] = attempt
    rows = [i for i in rows if epochs[i] is not None]
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
