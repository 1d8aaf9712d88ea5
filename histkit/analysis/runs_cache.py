"""The runs table of a tree, kept on disk so a rerun reads only what changed.

``histkit runs`` over 100,000 histories reads every file once; the next run
stats them and rereads only the files whose size or modification time
changed (and the new ones). One Parquet file per question (the roots as
given, the working directory, tolerance, source, strictness and histkit's
version) lives in ``$HISTKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/histkit``,
else ``~/.cache/histkit``. Only plain files are kept: a TensorBoard or MLflow
run directory changes inside without its own mtime showing it, so it is read
every time, as is a file that could not be read (its error is given again). A
file read with a repair keeps its warning in the cache, given again on every run.
A cache that cannot be read is rebuilt; one that cannot be written is a
warning, and the table is right either way.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import warnings
from pathlib import Path

import polars as pl

from .. import __version__
from ..errors import HistkitWarning
from ..files import atomic_target
from ..names import split_training

__all__ = ["cache_dir", "RunsCache"]

_STAT = {"size": pl.Int64, "mtime_ns": pl.Int64}


def cache_dir() -> Path:
    """Where histkit keeps its caches."""
    if os.environ.get("HISTKIT_CACHE_DIR"):
        return Path(os.environ["HISTKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "histkit")


class RunsCache:
    """Rows of the runs table by path, valid while a file's size and mtime hold."""

    def __init__(self, key: dict):
        digest = hashlib.sha256(json.dumps({**key, "cwd": os.getcwd(), "version": __version__},
                                           sort_keys=True, default=str).encode()).hexdigest()
        self.path = cache_dir() / "runs" / f"{digest[:32]}.parquet"

    @staticmethod
    def stats(paths: list[str]) -> pl.DataFrame:
        """``path, size, mtime_ns`` of the plain files among ``paths``."""
        kept, sizes, mtimes = [], [], []
        for p in paths:
            try:
                st = os.stat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                kept.append(p)
                sizes.append(st.st_size)
                mtimes.append(st.st_mtime_ns)
        return pl.DataFrame({"path": kept, "size": sizes, "mtime_ns": mtimes},
                            schema={"path": pl.String, **_STAT})

    def load(self, stats: pl.DataFrame) -> pl.DataFrame | None:
        """The cached rows of the files in ``stats`` that did not change, or None."""
        try:
            cached = pl.read_parquet(self.path)
        except (OSError, pl.exceptions.PolarsError):
            return None
        if not set(_STAT) | {"path", "warnings"} <= set(cached.columns):
            return None
        return (cached.with_columns(_base=_base()).join(
            stats.rename({"path": "_base"}), on=["_base", *_STAT], how="semi").drop("_base"))

    def save(self, table: pl.DataFrame, stats: pl.DataFrame, told: pl.DataFrame) -> None:
        """Keep the rows of ``table`` (one per path) for the files in ``stats``,
        with the warnings ``told`` (``path``, ``warnings``) each was read with."""
        rows = (table.with_columns(_base=_base())
                .join(stats.rename({"path": "_base"}), on="_base", how="inner").drop("_base")
                .join(told, on="path", how="left", maintain_order="left")
                .with_columns(pl.col("warnings").fill_null([])))
        try:
            with atomic_target(self.path) as tmp:
                rows.write_parquet(tmp)
        except OSError as exc:
            warnings.warn(f"{self.path}: cannot keep the runs cache ({exc.strerror or exc}); "
                          "the next run reads every history again", HistkitWarning,
                          stacklevel=2)


def _base(path: str = "path") -> pl.Expr:
    """The log a row's history comes from (``x.csv`` for its training ``x.csv#2``)."""
    return pl.col(path).map_elements(lambda p: split_training(p)[0], return_dtype=pl.String)
