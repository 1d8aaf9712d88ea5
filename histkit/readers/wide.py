"""The wide table every reader returns: ``epoch`` (Int64) first, then one
Float64 column per series, ``val_<m>`` the validation series of ``<m>``
(``test_<m>`` its test or final value); a log that holds several trainings
numbers each row's in a last ``__training`` column
(:data:`histkit.readers.series.TRAINING`)."""

from __future__ import annotations

import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError, listed
from .csvtext import SEGMENT
from .series import TRAINING

__all__ = ["finish", "restarts"]


def restarts(epochs: list[int], segments: list[int] | None = None) -> list[int]:
    """Where each row's run starts again: 1, 2, ... per row. An epoch that
    goes back to the first epoch of the current part, or before it, starts a
    new part (a second training appended to the file); one that goes back
    less is a resume within the part. A header written again
    (``segments``) starts a new part where the epochs do not go on."""
    out, part = [], 1
    first = prev = None
    for i, e in enumerate(epochs):
        if prev is not None and ((e < prev and e <= first) or (
                e <= prev and segments is not None and segments[i] != segments[i - 1])):
            part += 1
            first = e
        if first is None:
            first = e
        prev = e
        out.append(part)
    return out


def finish(frame: pl.DataFrame, path: str, lineno_of, *, fits: bool = False) -> pl.DataFrame:
    """A table of columns read from a file as the wide table: its ``epoch``
    column checked (whole numbers; ``lineno_of(row)`` says where a bad one
    is) and put first, or epochs numbered from 1 where there is none.

    Epochs that start again (:func:`restarts`) are trainings appended to
    one file: numbered in a ``__training`` column, with a warning; with
    ``fits`` (fastai, whose ``fit`` calls continue one model) they are one
    run whose epochs are numbered on. A repeated epoch within a training (a
    resumed log) keeps its last row, with a warning."""
    segments = frame[SEGMENT].to_list() if SEGMENT in frame.columns else None
    frame = frame.drop(SEGMENT, strict=False)
    if not [c for c in frame.columns if c != "epoch"]:
        raise HistoryError("no metric column: the history holds only 'epoch'", path=path)
    if "epoch" not in frame.columns:
        return frame.select(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("epoch"),
                            pl.all())
    ep = frame["epoch"]
    bad = (ep.is_null() | (ep != ep.floor()) | (ep.abs() > 2**53)).arg_true()
    if len(bad):
        i = bad[0]
        what = ("epoch is missing" if ep[i] is None
                else f"epoch {ep[i]!r} is out of range" if abs(ep[i]) > 2**53
                else f"epoch {ep[i]!r} is not a whole number")
        raise HistoryError(what, path=path, line=lineno_of(i), column="epoch")
    frame = frame.with_columns(pl.col("epoch").cast(pl.Int64)).select(
        "epoch", pl.exclude("epoch"))
    epochs = frame["epoch"].to_list()
    parts = restarts(epochs, segments)
    n = parts[-1]
    if n > 1 and fits:
        frame = frame.with_columns(pl.Series("epoch", _numbered_on(epochs, parts)))
        starts = [lineno_of(parts.index(k)) for k in range(2, n + 1)]
        warnings.warn(f"{path}: holds {n} fits appended to one log ({_lines(starts)} "
                      "start again); read as one run, the epochs of each fit numbered on "
                      "from the last", HistkitWarning, stacklevel=3)
    elif n > 1:
        frame = frame.with_columns(pl.Series(TRAINING, parts, dtype=pl.Int64))
        starts = [lineno_of(parts.index(k)) for k in range(2, n + 1)]
        warnings.warn(f"{path}: holds {n} trainings (epochs start again at "
                      f"{_lines(starts)}); read as {n} runs, the first under the log's own "
                      f"name, the others as '#2'{'...' if n > 2 else ''}", HistkitWarning,
                      stacklevel=3)
    key = ["epoch", TRAINING] if TRAINING in frame.columns else ["epoch"]
    if frame.select(pl.struct(key).is_duplicated().any()).item():
        kept = frame.unique(key, keep="last", maintain_order=True)
        warnings.warn(f"{path}: {frame.height - kept.height} repeated epoch row(s) (a resumed "
                      "log?); kept the last row of each epoch", HistkitWarning, stacklevel=3)
        frame = kept.sort(key[::-1])
    return frame


def _numbered_on(epochs: list[int], parts: list[int]) -> list[int]:
    """Each part's epochs shifted to follow the last epoch before it."""
    out, shift, last, part = [], 0, None, 1
    for e, p in zip(epochs, parts):
        if p != part:
            shift = last + 1 - e
            part = p
        out.append(e + shift)
        last = out[-1] if last is None else max(last, out[-1])
    return out


def _lines(lines: list) -> str:
    """``line 7`` or ``lines 7, 12`` (``rows`` where the file has no lines: JSON)."""
    known = [str(x) for x in lines if x is not None]
    if not known:
        return "some rows"
    return f"line {known[0]}" if len(known) == 1 else f"lines {listed(known)}"
