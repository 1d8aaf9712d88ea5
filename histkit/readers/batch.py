"""Read histories and reshape them into the long table.

A history is what any source in :mod:`histkit.readers` reads: a wide table of
``epoch`` and one column per series (``val_<m>`` is the validation series of
``<m>``). :func:`read_history` reads one; :func:`read_histories` reads
thousands at once, parsing Keras-style CSV files that share a header with one
polars call and handing every other file (and any the fast path does not
accept) to its source's exact reader, so both give the same tables and the
same errors.

The long table has exactly the columns of R keras' ``as.data.frame(history)``:
``epoch`` (int), ``value`` (float), ``metric`` (str, ``val_`` stripped) and
``data`` (``training`` | ``validation``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator

import polars as pl  # numpy is imported where it is used: a cached `histkit runs` never is

from . import registry
from . import check_source
from ..errors import HistkitError, HistoryError
from .csvtext import POLARS_NULLS, sniff

__all__ = ["read_history", "read_histories", "read_chunks", "to_history", "find_histories",
           "Batch"]

_VAL = "val_"
LONG_SCHEMA = {"epoch": pl.Int64, "value": pl.Float64, "metric": pl.String, "data": pl.String}


# ---------------------------------------------------------------------------
# one history


def read_history(path: str | os.PathLike, *, source: str | None = None) -> pl.DataFrame:
    """Read one history into a wide table: ``epoch`` then one column per series
    (``val_<m>`` is the validation series of ``<m>``).

    ``path`` is a file or run directory of any source histkit reads (Keras
    CSVLogger or JSON, Lightning, TensorBoard, Hugging Face, fastai, MLflow,
    R keras RDS), recognised by its content; ``source`` forces one (see
    :data:`histkit.readers.SOURCES`). Keeps the file's epoch numbers. Raises
    :class:`HistoryError` naming the file (and line and column where known);
    what a reader repaired or reduced is a :class:`HistkitWarning`.
    """
    return registry.read(str(path), source)


# ---------------------------------------------------------------------------
# wide -> long


def _as_polars(frame) -> pl.DataFrame:
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


def _metric_order(columns: Iterable[str]) -> list[tuple[str, str, str]]:
    """(column, metric, data) in long-table order: metric by first appearance,
    training before validation."""
    cols = [c for c in columns if c != "epoch"]
    present = set(cols)
    order: list[str] = []
    for c in cols:
        m = c[len(_VAL):] if c.startswith(_VAL) else c
        if m not in order:
            order.append(m)
    out = []
    for m in order:
        if m in present:
            out.append((m, m, "training"))
        if _VAL + m in present:
            out.append((_VAL + m, m, "validation"))
    return out


def to_history(wide, *, keep: Iterable[str] = ()) -> pl.DataFrame:
    """Reshape a wide history (polars or pandas) into the long table.

    Columns ``epoch, value, metric, data`` (plus the ``keep`` columns first,
    e.g. ``path`` for many runs at once); rows ordered by metric (first
    appearance), data (training first), epoch. A table that is already long
    is returned as it is.
    """
    frame = _as_polars(wide)
    keep = list(keep)
    if {"metric", "value", "data"} <= set(frame.columns):
        return frame
    if "epoch" not in frame.columns:
        frame = frame.with_row_index("epoch", offset=1)
    order = _metric_order(c for c in frame.columns if c not in keep)
    bad = [c for c, *_ in order if not frame.schema[c].is_numeric()]
    if bad:
        raise HistoryError(f"column {bad[0]!r} is not numeric ({frame.schema[bad[0]]}); "
                           "every column but epoch must be a metric")
    long = _stack(frame, keep, order)
    # stacking goes column by column; a stable sort restores run-major order
    return long.sort(keep, maintain_order=True) if keep else long


def _stack(frame: pl.DataFrame, keep: list[str], order, text=pl.String) -> pl.DataFrame:
    """One block of rows per metric column, in ``order`` (metric-major)."""
    if not order:
        return pl.DataFrame(schema={**{k: frame.schema[k] for k in keep}, **LONG_SCHEMA}
                            ).with_columns(pl.col("metric", "data").cast(text))
    epoch = pl.col("epoch").cast(pl.Int64)
    return pl.concat([
        frame.select(*keep, epoch, pl.col(c).cast(pl.Float64).fill_nan(None).alias("value"),
                     metric=pl.lit(m, text), data=pl.lit(d, text))
        for c, m, d in order], how="vertical")


def _file_major(frame: pl.DataFrame, order) -> pl.DataFrame:
    """Long table of a frame whose rows are grouped by ``__file``: the stacked
    blocks are gathered back into file-major order with one index, which is
    much cheaper than sorting millions of rows."""
    import numpy as np

    _, starts, lengths = _runs_of(frame["__file"])
    n = frame.height
    block_src = (np.tile(np.arange(len(order)) * n, len(lengths))  # blocks: (file, column)
                 + np.repeat(starts, len(order)))
    return _gather_blocks(_stack(frame, ["__file"], order, pl.Categorical), block_src,
                          np.repeat(lengths, len(order)))


# ---------------------------------------------------------------------------
# many files


@dataclasses.dataclass
class Batch:
    """What :func:`read_histories` gives: the long table of every readable
    file (with a ``path`` column) and one error per file it could not read."""

    histories: pl.DataFrame
    problems: list[HistkitError]
    paths: list[str]
    names: dict[str, str] = dataclasses.field(default_factory=dict)
    files: frozenset[str] = frozenset()  # the paths read as plain files
    #: the SHA-256 of each plain file's bytes, where asked for (``digests=True``)
    digests: dict[str, bytes] = dataclasses.field(default_factory=dict)

    def name(self, path: str) -> str:
        """The run name of a history: its file stem, or what its framework
        calls the run (:func:`histkit.readers.registry.run_name`)."""
        if path not in self.names:
            self.names[path] = registry.run_name(path, is_dir=False if path in self.files
                                                else None)
        return self.names[path]

    def run_column(self, paths: pl.Series, *, strict: bool = False) -> pl.Series:
        """The run name (:func:`histkit.names.run_from_path`) of each row of a
        column of this batch's paths, as an Enum: a column of millions of
        rows holds an index per row, not a copy of the name."""
        from ..names import run_from_path

        if not isinstance(paths.dtype, pl.Enum):
            paths = paths.cast(pl.String)
            paths = paths.cast(pl.Enum(paths.unique(maintain_order=True).drop_nulls()))
        # a name per file, not per row: the path Enum's codes pick from them
        codes = paths.to_physical()
        files = paths.dtype.categories
        names = {i: run_from_path(files[i], strict=strict, name=self.name(files[i])).name
                 for i in codes.unique(maintain_order=True)}
        per_code = pl.Series([names.get(i) for i in range(len(files))],
                             dtype=pl.Enum(list(dict.fromkeys(names.values()))))
        return per_code.gather(codes)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_histories(paths: Iterable[str | os.PathLike], *,
                   problems: list | None = None) -> list[str]:
    """Expand files and directories into the histories under them (every
    source: see :func:`histkit.readers.registry.find`).

    A path that does not exist, or a directory that holds no history, raises
    :class:`HistoryError`; or, when a ``problems`` list is given, is appended
    to it so the other paths are still expanded (batch work goes on).
    """
    return registry.find(paths, problems=problems)


def read_histories(paths: Iterable[str | os.PathLike], *, threads: int | None = None,
                   source: str | None = None, digests: bool = False) -> Batch:
    """Read many history files into one long table with a ``path`` column.

    Files that share a header are parsed together by one multi-threaded
    polars call; any file the fast path cannot vouch for (quotes, ragged or
    blank lines, odd cells, repeated epochs) is re-read by
    :func:`read_history`, whose error then lands in ``problems``. Rows are in
    input order, then long-table order. ``path`` is an Enum and ``metric`` and
    ``data`` are Categorical: millions of rows stay small and group fast.
    ``source`` forces one reader for every path. ``digests`` also hashes the
    bytes of each plain file as it is read (:attr:`Batch.digests`), for a
    report that redraws only what changed without reading the files again.
    """
    check_source(source)
    paths = [str(p) for p in paths]
    with ThreadPoolExecutor(threads or min(8, (os.cpu_count() or 1) * 2)) as pool:
        blobs = list(pool.map(_read_hashed if digests else _try_read, paths))
    hashes = {}
    if digests:
        hashes = {p: blob[1] for p, blob in zip(paths, blobs) if blob[1] is not None}
        blobs = [blob[0] for blob in blobs]
    groups: dict[tuple[bytes, str], list[tuple[int, bytes]]] = {}
    slow: list[int] = []
    problems: dict[int, HistkitError] = {}
    headers: dict[bytes, tuple[str, int] | None] = {}
    files = frozenset(p for p, blob in zip(paths, blobs) if isinstance(blob, bytes))
    for i, blob in enumerate(blobs):
        if isinstance(blob, HistkitError):
            problems[i] = blob
            continue
        split = (None if blob is None or source not in (None, "keras")
                 else _fast_split(blob, headers))
        if split is None:
            slow.append(i)
        else:
            groups.setdefault(split[0], []).append((i, split[1]))
            blobs[i] = None  # the body is all the fast path needs; free the rest early

    longs: list[pl.DataFrame] = []
    for (header, sep), members in groups.items():
        wide = _parse_group(header, sep, members)
        if wide is None:
            slow += [i for i, _ in members]
        else:
            longs.append(_file_major(wide, _metric_order(wide.columns[1:])))  # [0]: __file
    del groups
    # files read one by one are stacked together per column set, as the
    # fast path does: one reshape for a thousand event files, not a thousand
    by_columns: dict[tuple[str, ...], list[pl.DataFrame]] = {}
    for i in sorted(slow):
        try:
            wide = registry.read(paths[i], source, data=blobs[i])
        except HistkitError as exc:
            problems[i] = exc
            continue
        blobs[i] = None
        if {"metric", "value", "data"} <= set(wide.columns):  # an R long table (RDS)
            longs.append(to_history(wide).select(
                pl.lit(i, pl.Int32).alias("__file"), "epoch", "value",
                pl.col("metric", "data").cast(pl.Categorical)))
            continue
        bad = [c for c in wide.columns[1:] if not wide.schema[c].is_numeric()]
        if bad or wide.columns[:1] != ["epoch"] or "__file" in wide.columns:
            problems[i] = HistoryError(f"column {(bad or wide.columns)[0]!r} is not a metric",
                                       path=paths[i])
            continue
        by_columns.setdefault(tuple(wide.columns), []).append(
            wide.select(pl.lit(i, pl.Int32).alias("__file"), pl.col("epoch").cast(pl.Int64),
                        pl.exclude("epoch").cast(pl.Float64)))
    for columns, wides in by_columns.items():
        longs.append(_file_major(pl.concat(wides, how="vertical"), _metric_order(columns[1:])))
    if longs:
        long = _order_by_file(pl.concat(longs, how="vertical"))
    else:
        long = pl.DataFrame(schema={"__file": pl.Int32, **LONG_SCHEMA}).with_columns(
            pl.col("metric", "data").cast(pl.Categorical))
    lookup = pl.Series("path", paths, dtype=pl.Enum(list(dict.fromkeys(paths))))
    long = long.select(lookup.gather(long["__file"]).alias("path"),
                       "epoch", "value", "metric", "data")
    return Batch(long, [problems[i] for i in sorted(problems)], paths, files=files,
                 digests=hashes)


#: files per chunk of :func:`read_chunks`: about 100 MB of long table for
#: Keras-like histories of 100 epochs and 10 series
CHUNK = 2000


def read_chunks(paths: Iterable[str | os.PathLike], *, chunk: int = CHUNK,
                threads: int | None = None, source: str | None = None,
                digests: bool = False,
                progress: Callable[[int, int], None] | None = None) -> Iterator[Batch]:
    """:func:`read_histories` over ``paths``, ``chunk`` files at a time.

    Work that is done per run (stops, summaries, diagnosis) goes through a
    tree of any size in the memory of one chunk this way: 100,000 histories
    read at once would be a long table of several GB. No paths give one
    empty batch, so a caller always has the shapes of its tables. The next
    chunk is read while the caller works on this one (a second chunk in
    memory; the two CPUs kept busy). ``progress(done, total)`` is called
    with 0 first, then each time the caller is done with a chunk."""
    paths = [str(p) for p in paths]
    starts = range(0, max(len(paths), 1), chunk)

    def read(start: int) -> Batch:
        return read_histories(paths[start:start + chunk], threads=threads, source=source,
                              digests=digests)

    def batches() -> Iterator[Batch]:
        if len(starts) == 1:
            yield read(0)
            return
        with ThreadPoolExecutor(1) as ahead:
            coming = ahead.submit(read, starts[0])
            for start in starts[1:]:
                batch, coming = coming.result(), ahead.submit(read, start)
                yield batch
            yield coming.result()

    done = 0
    if progress:
        progress(done, len(paths))
    for batch in batches():
        yield batch
        done += len(batch.paths)
        if progress:
            progress(done, len(paths))


def owned(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of ``frame`` that owns its memory. A small result of a chunk
    (a filter, a group-by) may keep views into the chunk's columns, strings
    above all, and with them the whole chunk: what is kept across chunks
    goes through here. An Arrow IPC round trip, so every column is new."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    buffer.seek(0)
    return pl.read_ipc(buffer)


def _gather_blocks(frame: pl.DataFrame, starts, lengths):
    """The rows ``[start, start + length)`` of each block, blocks one after another.

    Reordering whole blocks with one index is far cheaper than sorting
    millions of rows whose order within a block is already right."""
    import numpy as np

    out = np.cumsum(lengths) - lengths
    return frame[np.arange(lengths.sum()) + np.repeat(starts - out, lengths)]


def _runs_of(column: pl.Series):
    """(values, starts, lengths) of the runs of equal values in ``column``."""
    import numpy as np

    rle = column.rle().struct
    lengths = rle.field("len").to_numpy().astype(np.int64)
    return rle.field("value").to_numpy(), np.cumsum(lengths) - lengths, lengths


def _order_by_file(long: pl.DataFrame) -> pl.DataFrame:
    """Put the blocks of each file in input order (pieces come per header group)."""
    import numpy as np

    ids, starts, lengths = _runs_of(long["__file"])
    if (np.diff(ids) > 0).all():
        return long
    order = np.argsort(ids, kind="stable")
    return _gather_blocks(long, starts[order], lengths[order])


def _try_read(path: str):
    """The bytes of a file (None for a directory or store locator, which its
    source reads itself), or the error that says why not.

    One open, fstat and read with no file object around them: a sweep reads
    100,000 small files, and pathlib's ``read_bytes`` took twice as long."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # NONBLOCK: a FIFO must not hang
    except (FileNotFoundError, NotADirectoryError):
        return None  # a store locator (mlflow.db::<run>): its source explains
    except OSError as exc:
        return HistoryError(f"cannot read: {exc.strerror or exc}", path=path)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        parts = [os.read(fd, info.st_size + 1)]
        while parts[-1]:  # to the end, however the reads were cut
            parts.append(os.read(fd, 1 << 20))
        return b"".join(parts)
    except OSError as exc:
        return HistoryError(f"cannot read: {exc.strerror or exc}", path=path)
    finally:
        os.close(fd)


def _read_hashed(path: str):
    """:func:`_try_read` and the SHA-256 of the bytes read (None if none were);
    hashlib lets go of the GIL, so the pool's threads hash side by side."""
    blob = _try_read(path)
    return blob, hashlib.sha256(blob).digest() if isinstance(blob, bytes) else None


def _fast_split(blob: bytes, headers: dict):
    """((header, separator), body) when the fast parser can take the file as it
    is. ``headers`` keeps what each header line allows (a sweep's files share
    a few), so each is decoded and sniffed once."""
    if blob.startswith(b"\xef\xbb\xbf"):
        blob = blob[3:]
    if b"\r" in blob:
        blob = blob.replace(b"\r\n", b"\n")
    blob = blob.rstrip(b"\n")
    cut = blob.find(b"\n")
    if cut <= 0 or b'"' in blob or b"\0" in blob or b"\n\n" in blob or b"\r" in blob:
        return None
    header, body = blob[:cut], blob[cut + 1:]
    if header not in headers:
        headers[header] = _keras_header(header)
    if headers[header] is None:
        return None
    sep, ncols = headers[header]
    sb = sep.encode()
    if body.count(sb) != (ncols - 1) * (body.count(b"\n") + 1):
        return None
    return (header, sep), body


def _keras_header(header: bytes) -> tuple[str, int] | None:
    """(separator, number of columns) of a Keras-style header line, else None."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return None
    sep = sniff(text)
    if registry.csv_source([c.strip() for c in text.split(sep)]) != "keras":
        return None
    return sep, text.count(sep) + 1


def _parse_group(header: bytes, sep: str, members: list[tuple[int, bytes]]):
    """One polars parse for every file sharing ``header``; None if any cell is odd."""
    names = [c.strip() for c in header.decode("utf-8").split(sep)]
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
    except pl.exceptions.PolarsError:  # an odd cell somewhere: the exact reader explains
        return None
    frame = frame.with_columns(pl.col(n).fill_nan(None) for n in names)
    if "epoch" in names:
        ep = pl.col("epoch")
        good = frame.select(
            (ep.is_not_null() & (ep == ep.floor())).all()
            & (ep.diff().over("__file").fill_null(1) > 0).all()
        ).item()
        if not good:
            return None
        frame = frame.with_columns(ep.cast(pl.Int64))
    else:
        frame = frame.with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("__file").alias("epoch"))
    return frame.select("__file", "epoch", pl.exclude("__file", "epoch"))
