"""Keras histories: ``CSVLogger`` files (and histkit's trainer, which writes
the same shape) and ``history.history`` dumped as JSON; the reader of any
file no other reader claims.

CSVLogger writes a header, a 0-based ``epoch`` column and one column per
metric, sorted by name; histkit keeps the file's epoch numbers. A JSON dump
is an object of equally long lists, one per metric (``val_<m>`` for
validation); epochs are numbered from 1, or taken from an ``epoch`` list when
the dump holds one (``{"history": {...}, "epoch": [0, 1, ...]}``, the
``History`` object's two fields).
"""

from __future__ import annotations

import math
import re

import polars as pl

from ..errors import HistoryError
from .contract import Found, load_json
from .csvtext import POLARS_NULLS, parse_csv, sniff
from .series import marked_names
from .wide import finish

__all__ = ["detect", "read", "find", "read_csv", "read_json", "plain_csv", "read_many",
           "READS_FILES"]

READS_FILES = True
_TEXT_HISTORIES = re.compile(r"(^|[_.-])history([_.-]|$)", re.I)


def detect(probe) -> bool:
    """Any file: the last reader asked (:data:`histkit.readers.registry.READERS`)."""
    return not probe.is_dir and not probe.store


def find(folder) -> list[Found]:
    """Every CSV file of a folder (Keras', histkit's, and Lightning's and
    fastai's, which :func:`detect` tells apart when they are read) and
    ``*history*.json`` dumps."""
    prefix = folder.prefix
    return [Found(prefix + name, name) for name in folder.files
            if (low := name.lower()).endswith(".csv")
            or (low.endswith(".json") and _TEXT_HISTORIES.search(name[:-5]))]


def read(path: str, data: bytes) -> pl.DataFrame:
    """A Keras history file, CSV or JSON by its content."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return read_json(path, data)
    return read_csv(path, data)


def read_csv(path: str, data: bytes) -> pl.DataFrame:
    """A Keras CSVLogger file as the wide table (``epoch`` first); columns
    that mark their split another way (``train/x``, ``val/x``: Ultralytics'
    ``results.csv``, hand-written loggers) get histkit's names
    (:func:`~.series.marked_names`)."""
    frame, linenos = parse_csv(data, path)
    frame = finish(frame, path, lineno_of=linenos.__getitem__)
    return frame.rename(marked_names(frame.columns))


def read_json(path: str, data: bytes) -> pl.DataFrame:
    """``json.dump(history.history)`` (or of ``{"history": ..., "epoch": ...}``)."""
    obj = load_json(data, path)
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
    frame = finish(frame, path, lineno_of=lambda i: None)
    return frame.rename(marked_names(frame.columns))


def _number(v) -> bool:
    if isinstance(v, int) and not isinstance(v, bool):
        return abs(v) < 2**1023
    return v is None or isinstance(v, float)


# ---------------------------------------------------------------------------
# many files at once (histkit.read_histories): a sweep's CSV files share a
# header, and one polars parse of all of them beats read_csv on each by far
# (bench/read_together.py; the figures are in bench/README.md)


def plain_csv(blob: bytes) -> tuple[bytes, bytes] | None:
    """(header line, body) of a CSV file plain enough to be parsed with
    others of its header: no quotes, NUL bytes, blank lines or lone carriage
    returns (the exact reader explains those); else None."""
    if blob.startswith(b"\xef\xbb\xbf"):
        blob = blob[3:]
    if b"\r" in blob:
        blob = blob.replace(b"\r\n", b"\n")
    blob = blob.rstrip(b"\n")
    cut = blob.find(b"\n")
    if cut <= 0 or b'"' in blob or b"\0" in blob or b"\n\n" in blob or b"\r" in blob:
        return None
    return blob[:cut], blob[cut + 1:]


def csv_layout(header: bytes) -> tuple[str, list[str]] | None:
    """(separator, column names) of a header line, or None when it is not UTF-8."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return None
    sep = sniff(text)
    return sep, [c.strip() for c in text.split(sep)]


def read_many(names: list[str], sep: str, members: list[tuple[int, bytes]]
              ) -> pl.DataFrame | None:
    """The bodies of several files that share the header ``names`` (each row
    as many fields as the header: checked by the caller), as one wide table
    with a ``__file`` column (each member's id) first; None when any cell or
    epoch is odd (each file is then read on its own, and the exact reader
    explains)."""
    if (len(set(names)) != len(names) or not all(names) or "__file" in names
            or names == ["epoch"]):
        return None
    sb = sep.encode()
    chunks = []
    for i, body in members:
        prefix = str(i).encode() + sb
        chunks.append(prefix + body.replace(b"\n", b"\n" + prefix))
    try:
        frame = pl.read_csv(b"\n".join(chunks), has_header=False, separator=sep,
                            schema={"__file": pl.Int32, **{n: pl.Float64 for n in names}},
                            null_values=POLARS_NULLS, quote_char=None)
    except pl.exceptions.PolarsError:  # an odd cell somewhere
        return None
    frame = frame.with_columns(pl.col(n).fill_nan(None) for n in names)
    if "epoch" in names:
        ep = pl.col("epoch")
        good = frame.select(
            (ep.is_not_null() & (ep == ep.floor()) & (ep.abs() <= 2**53)).all()
            & (ep.diff().over("__file").fill_null(1) > 0).all()
        ).item()
        if not good:
            return None
        frame = frame.with_columns(ep.cast(pl.Int64))
    else:
        frame = frame.with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("__file").alias("epoch"))
    return frame.select("__file", "epoch", pl.exclude("__file", "epoch"))
