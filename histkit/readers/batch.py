"""Many histories at once: a tree of any size read into one long table.

:func:`read_histories` reads thousands of files in threads; Keras-style CSV
files that share a header are parsed together by one polars call
(:func:`histkit.readers.keras.read_many`), every other file (and any the
shared parse cannot vouch for) by its own reader
(:func:`histkit.readers.registry.read_history`), so both give the same
tables and the same errors. :func:`read_chunks` walks a sweep
:data:`CHUNK` files at a time, in the memory of one chunk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import polars as pl  # numpy is imported where it is used: a cached `histkit runs` never is

from ..errors import HistkitError, HistoryError
from . import check_source, keras
from .contract import max_bytes, not_regular, too_big
from .locate import run_name
from .long import LONG_SCHEMA, metric_order, stack, to_history
from ..names import split_training, with_training
from .registry import csv_source, one_training, read_history, read_trainings
from .series import TRAINING, marked_names

__all__ = ["read_histories", "read_chunks", "Batch", "CHUNK", "owned"]


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
        calls the run (:func:`histkit.readers.locate.run_name`)."""
        if path not in self.names:
            self.names[path] = run_name(path, is_dir=False if path in self.files else None)
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


def read_histories(paths: Iterable[str | os.PathLike], *, threads: int | None = None,
                   source: str | None = None, digests: bool = False) -> Batch:
    """Read many history files into one long table with a ``path`` column.

    Files that share a header are parsed together by one multi-threaded
    polars call; any file that shared parse cannot vouch for (quotes, ragged
    or blank lines, odd cells, repeated epochs) is read by
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
    files = frozenset(p for p, blob in zip(paths, blobs) if isinstance(blob, bytes))
    problems = {i: blob for i, blob in enumerate(blobs) if isinstance(blob, HistkitError)}
    longs, alone = _read_together(blobs, source)
    extra: list[tuple[int, int]] = []  # (file, k) of each further training of a log
    longs += _read_alone(paths, blobs, alone, source, problems, extra)
    rank = None
    if extra:  # a log's further trainings are runs of their own, listed after it
        base = len(paths)
        paths = paths + [with_training(paths[i], k) for i, k in extra]
        order = sorted(range(len(paths)),
                       key=lambda j: (j, 0) if j < base else (extra[j - base][0], j))
        rank = [0] * len(paths)
        for r, j in enumerate(order):
            rank[j] = r
        if digests:
            for j, (i, _) in enumerate(extra):
                if paths[i] in hashes:
                    hashes[paths[base + j]] = hashes[paths[i]]
        paths = [paths[j] for j in order]
    if longs:
        long = _order_by_file(pl.concat(longs, how="vertical"), rank)
    else:
        long = pl.DataFrame(schema={"__file": pl.Int32, **LONG_SCHEMA}).with_columns(
            pl.col("metric", "data").cast(pl.Categorical))
    lookup = pl.Series("path", paths, dtype=pl.Enum(list(dict.fromkeys(paths))))
    ids = long["__file"] if rank is None else pl.Series(rank).gather(long["__file"])
    long = long.select(lookup.gather(ids).alias("path"),
                       "epoch", "value", "metric", "data")
    return Batch(long, [problems[i] for i in sorted(problems)], paths, files=files,
                 digests=hashes)


def _read_together(blobs: list, source: str | None) -> tuple[list[pl.DataFrame], list[int]]:
    """The long tables of the plain Keras CSV files among ``blobs`` (one
    polars parse per header), and the indices of the files to read alone.
    The bodies taken are freed from ``blobs`` as they are grouped."""
    groups: dict[bytes, list[tuple[int, bytes]]] = {}
    headers: dict[bytes, tuple[str, list[str]] | None] = {}
    alone: list[int] = []
    for i, blob in enumerate(blobs):
        if isinstance(blob, HistkitError):
            continue
        split = None if blob is None or source not in (None, "keras") else keras.plain_csv(blob)
        if split is not None:
            header, body = split
            if header not in headers:  # a sweep's files share a few: each decoded once
                layout = keras.csv_layout(header)
                headers[header] = (layout if layout and csv_source(layout[1]) == "keras"
                                   else None)
            layout = headers[header]
            if layout and body.count(layout[0].encode()) == \
                    (len(layout[1]) - 1) * (body.count(b"\n") + 1):  # no ragged row
                groups.setdefault(header, []).append((i, body))
                blobs[i] = None  # the body is all that is needed; free the rest early
                continue
        alone.append(i)
    longs = []
    for header, members in groups.items():
        sep, names = headers[header]
        wide = keras.read_many(names, sep, members)
        if wide is None:
            alone += [i for i, _ in members]
        else:
            wide = wide.rename(marked_names(wide.columns))  # as keras.read_csv names them
            longs.append(_file_major(wide, metric_order(wide.columns[1:])))  # [0]: __file
    return longs, sorted(alone)


def _read_alone(paths: list[str], blobs: list, alone: list[int], source: str | None,
                problems: dict, extra: list[tuple[int, int]]) -> list[pl.DataFrame]:
    """The long tables of the files read one by one (their errors go to
    ``problems``), stacked together per column set as the shared parse
    does: one reshape for a thousand event files, not a thousand. A log
    that holds several trainings gives one history per training: the first
    keeps the file's id, each further one gets the next free id and is
    listed in ``extra`` as ``(file, k)``."""
    longs = []
    by_columns: dict[tuple[str, ...], list[pl.DataFrame]] = {}
    for i in alone:
        try:
            if split_training(paths[i])[1] > 1:  # one training of a log, named
                wide = read_history(paths[i], source=source)
            else:
                wide = read_trainings(paths[i], source=source, data=blobs[i])
        except HistkitError as exc:
            problems[i] = exc
            continue
        blobs[i] = None
        if TRAINING in wide.columns:
            n = wide[TRAINING].max()
            for k in range(2, n + 1):
                j = len(paths) + len(extra)
                extra.append((i, k))
                _add_wide(one_training(wide, k), j, by_columns, problems, paths[i])
            wide = one_training(wide, 1)
        if {"metric", "value", "data"} <= set(wide.columns):  # an R long table (RDS)
            longs.append(to_history(wide).select(
                pl.lit(i, pl.Int32).alias("__file"), "epoch", "value",
                pl.col("metric", "data").cast(pl.Categorical)))
            continue
        _add_wide(wide, i, by_columns, problems, paths[i])
    for columns, wides in by_columns.items():
        longs.append(_file_major(pl.concat(wides, how="vertical"), metric_order(columns[1:])))
    return longs


def _add_wide(wide: pl.DataFrame, i: int, by_columns: dict, problems: dict,
              path: str) -> None:
    """File ``i``'s wide table, grouped with those of its columns (or its error)."""
    schema = wide.schema  # built once: a wide file has 10^5 columns
    bad = [c for c in wide.columns[1:] if not schema[c].is_numeric()]
    if bad or wide.columns[:1] != ["epoch"] or "__file" in wide.columns:
        problems[i] = HistoryError(f"column {(bad or wide.columns)[0]!r} is not a metric",
                                   path=path)
        return
    by_columns.setdefault(tuple(wide.columns), []).append(
        wide.select(pl.lit(i, pl.Int32).alias("__file"), pl.col("epoch").cast(pl.Int64),
                    pl.exclude("epoch").cast(pl.Float64)))


def _file_major(frame: pl.DataFrame, order) -> pl.DataFrame:
    """Long table of a frame whose rows are grouped by ``__file``: the stacked
    blocks are gathered back into file-major order with one index, which is
    much cheaper than sorting millions of rows."""
    import numpy as np

    _, starts, lengths = _runs_of(frame["__file"])
    n = frame.height
    block_src = (np.tile(np.arange(len(order)) * n, len(lengths))  # blocks: (file, column)
                 + np.repeat(starts, len(order)))
    return _gather_blocks(stack(frame, ["__file"], order, pl.Categorical), block_src,
                          np.repeat(lengths, len(order)))


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


def _order_by_file(long: pl.DataFrame, rank: list[int] | None = None) -> pl.DataFrame:
    """Put the blocks of each file in input order (pieces come per header
    group), or in the order ``rank[file id]`` gives."""
    import numpy as np

    ids, starts, lengths = _runs_of(long["__file"])
    if rank is not None:
        ids = np.asarray(rank)[ids]
    if (np.diff(ids) > 0).all():
        return long
    order = np.argsort(ids, kind="stable")
    return _gather_blocks(long, starts[order], lengths[order])


def _try_read(path: str):
    """The bytes of a file (None for a directory or store locator, which its
    source reads itself), or the error that says why not.

    One open, fstat and read with no file object around them: a sweep reads
    100,000 small files, and pathlib's ``read_bytes`` costs more per file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # NONBLOCK: a FIFO must not hang
    except (FileNotFoundError, NotADirectoryError):
        return None  # a store locator (mlflow.db::<run>): its source explains
    except OSError as exc:
        return HistoryError(f"cannot read: {exc.strerror or exc}", path=path)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None  # a run directory: its source reads it
        kind = not_regular(info.st_mode)
        if kind is not None:
            return HistoryError(f"is {kind}, not a regular file; histkit reads history files",
                                path=path)
        cap = max_bytes()
        if info.st_size > cap:
            return too_big(info.st_size, path)
        parts = [os.read(fd, info.st_size + 1)]
        got = len(parts[0])
        while parts[-1] and got <= cap:  # to the end, however the reads were cut
            parts.append(os.read(fd, 1 << 20))
            got += len(parts[-1])
        if got > cap:  # it grew while read
            return too_big(got, path)
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
