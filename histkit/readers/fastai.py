"""fastai ``CSVLogger`` files (``history.csv``).

fastai writes ``epoch`` (0-based), ``train_loss``, ``valid_loss``, one column
per metric and ``time`` as ``mm:ss`` (or ``h:mm:ss``). ``train_loss`` is the
training loss, ``valid_loss`` and every bare metric are computed on the
validation set, and ``time`` is telemetry, kept as ``time`` in seconds.

``CSVLogger(append=True)`` writes the header again at each ``fit``
(``fine_tune`` is two fits: the frozen epochs, then the unfrozen ones), each
fit's epochs from 0 again, and its columns may differ from the last fit's.
The fits of one file are read as one run, as the model they train is one:
each fit's epochs numbered on from the last fit's, with a warning that
says so.
"""

from __future__ import annotations

import polars as pl

from ..errors import HistoryError
from .csvtext import parse_csv
from .wide import finish

__all__ = ["detect", "read", "is_header", "READS_FILES"]

READS_FILES = True


def is_header(names: list[str]) -> bool:
    """fastai's CSVLogger writes ``train_loss`` and ``valid_loss``."""
    return "train_loss" in names and "valid_loss" in names


def detect(probe) -> bool:
    """A CSV file whose header has ``train_loss`` and ``valid_loss``."""
    return not probe.is_dir and probe.header is not None and is_header(probe.header)


def read(path: str, data: bytes) -> pl.DataFrame:
    """A fastai ``history.csv`` as the wide table."""
    frame, linenos = parse_csv(data, path, text=frozenset({"time"}), partial_rows=True)
    if "time" in frame.columns:
        frame = frame.with_columns(_seconds(frame["time"], path, linenos))
    frame = finish(frame, path, lineno_of=linenos.__getitem__, fits=True)
    names = {}
    for c in frame.columns:
        if c in ("epoch", "time"):
            continue
        if c == "train_loss":
            names[c] = "loss"
        elif c.startswith("valid_"):
            names[c] = "val_" + c[len("valid_"):]
        elif c.startswith("train_"):
            names[c] = c[len("train_"):]
        else:
            names[c] = "val_" + c
    clash = [n for n in names.values() if n in frame.columns and n not in names]
    if clash:
        raise HistoryError(f"column {clash[0]!r} clashes with a fastai metric name", path=path)
    return frame.rename(names)


def _seconds(col: pl.Series, path: str, linenos: list[int]) -> pl.Series:
    out = []
    for i, text in enumerate(col.to_list()):
        if text is None or text == "" or text.lower() in ("nan", "na"):
            out.append(None)
            continue
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            parts = []
        if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts):
            raise HistoryError(f"time {text!r} is not mm:ss", path=path, line=linenos[i],
                               column="time")
        seconds = 0.0
        for p in parts:
            seconds = seconds * 60 + p
        out.append(seconds)
    return pl.Series("time", out, dtype=pl.Float64)
