"""MLflow tracking stores: a file store (``mlruns/``), one run directory of
it, and a SQLite store (``mlflow.db``, MLflow 3's default).

A file-store run is ``mlruns/<experiment>/<run>/`` with ``meta.yaml`` and one
file per metric under ``metrics/`` (keys with ``/`` are nested folders),
each line ``timestamp value step``. The SQLite store holds the same rows in
its ``metrics`` table. Steps become epochs through an ``epoch`` metric where
one was logged (the autologgers log it), else the step is the epoch.
Neither store needs mlflow itself: the files are plain text and SQLite is in
Python's standard library.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import polars as pl

from ..errors import HistoryError
from .contract import SEP, Found, read_bytes
from .series import by_training

__all__ = ["detect", "read", "whole", "find", "is_run_dir", "db_runs", "run_name",
           "SQLITE_MAGIC", "SEP"]

SQLITE_MAGIC = b"SQLite format 3\0"
_FIELD = re.compile(r"^(\w+):[ \t]*(.*?)\s*$", re.M)


def is_run_dir(p: Path) -> bool:
    """A file-store run: ``meta.yaml`` and a ``metrics/`` directory."""
    return (p / "meta.yaml").is_file() and (p / "metrics").is_dir()


def detect(probe) -> bool:
    """One run of a SQLite store, a run directory, or a SQLite store file."""
    if probe.store:
        return True
    if probe.is_dir:
        return is_run_dir(probe.path)
    return probe.head.startswith(SQLITE_MAGIC)


#: a run directory is one history: a walk does not look inside it
whole = is_run_dir


def find(folder) -> list:
    """Each live run of the SQLite stores (``*.db``) in a folder (run
    directories are found whole: :data:`whole`)."""
    out = []
    for name in folder.files:
        if name.lower().endswith(".db") and _is_sqlite(folder.path / name):
            out += [Found(run, name) for run in db_runs(str(folder.path / name))]
    return out


def _is_sqlite(f: Path) -> bool:
    try:
        with open(f, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _meta(p: Path) -> dict[str, str]:
    """Top-level ``key: value`` pairs of a run's ``meta.yaml`` (all we need of
    it: ``run_name``, ``run_id``, ``lifecycle_stage``)."""
    try:
        text = (p / "meta.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return {k: v.strip("'\"") for k, v in _FIELD.findall(text)}


def run_name(locator: str) -> str:
    """The run's name as MLflow shows it (``run_name``), else its id."""
    if SEP in locator:
        db, run_id = locator.rsplit(SEP, 1)
        with _connect(db) as con:
            row = con.execute("SELECT name FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        return (row[0] if row and row[0] else run_id)
    p = Path(locator)
    meta = _meta(p)
    return meta.get("run_name") or p.name


def _connect(db: str):
    """A read-only connection, closed when the ``with`` block ends."""
    try:
        return contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True))
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open the SQLite store: {exc}", path=db) from None


def db_runs(db: str) -> list[str]:
    """``<db>::<run id>`` of each live run of a SQLite store, oldest first."""
    try:
        with _connect(db) as con:
            rows = con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage != 'deleted' "
                               "ORDER BY start_time, run_uuid").fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"not an MLflow SQLite store ({exc})", path=db) from None
    if not rows:
        raise HistoryError("the MLflow store holds no run", path=db)
    return [f"{db}{SEP}{r[0]}" for r in rows]


def read(locator: str, data: bytes | None = None) -> pl.DataFrame:
    """One MLflow run (a run directory, ``<db>::<run id>``, or a store that
    holds one run) as the wide table."""
    p = Path(locator)
    if SEP not in locator and p.is_file():
        runs = db_runs(locator)
        if len(runs) > 1:
            raise HistoryError(f"the store holds {len(runs)} runs; point at a directory "
                               f"holding it to read them all, or at one run as "
                               f"{runs[0]}", path=locator)
        locator = runs[0]
    if SEP in locator:
        long = _db_metrics(*locator.rsplit(SEP, 1), locator)
    else:
        p = Path(locator)
        if not is_run_dir(p):
            raise HistoryError("not an MLflow run directory (no meta.yaml and metrics/)",
                               path=locator)
        long = _file_metrics(p, locator)
    if not long[0]:
        raise HistoryError("the MLflow run logged no metric", path=locator)
    return by_training(*long, locator, what="metric")


def _file_metrics(run: Path, locator: str):
    series, steps, values, stamps = [], [], [], []
    root = run / "metrics"
    for f in sorted(p for p in root.rglob("*") if not p.is_dir()):
        key = f.relative_to(root).as_posix()
        try:
            text = read_bytes(f).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HistoryError(f"cannot read metric {key!r}: {exc}", path=locator) from None
        for lineno, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                stamp, value = int(parts[0]), float(parts[1])
                step = int(parts[2]) if len(parts) > 2 else 0
            except (ValueError, IndexError):
                raise HistoryError(f"metric {key!r} line {lineno}: expected 'timestamp value "
                                   f"step', got {line[:60]!r}", path=locator) from None
            if abs(step) > 2**53 or abs(stamp) > 2**62:
                raise HistoryError(f"metric {key!r} line {lineno}: step {step} or timestamp "
                                   f"{stamp} is out of range", path=locator)
            series.append(key)
            steps.append(step)
            values.append(value)
            stamps.append(stamp)
    return _ordered(series, steps, values, stamps)


def _db_metrics(db: str, run_id: str, locator: str):
    try:
        with _connect(db) as con:
            if not con.execute("SELECT 1 FROM runs WHERE run_uuid = ?", (run_id,)).fetchone():
                raise HistoryError(f"no run {run_id!r} in the store", path=db)
            rows = con.execute("SELECT key, step, value, is_nan, timestamp FROM metrics "
                               "WHERE run_uuid = ?", (run_id,)).fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"not an MLflow SQLite store ({exc})", path=db) from None
    series = [r[0] for r in rows]
    steps = [int(r[1] or 0) for r in rows]
    values = [float("nan") if r[3] else float(r[2]) for r in rows]
    return _ordered(series, steps, values, [int(r[4] or 0) for r in rows])


def _ordered(series, steps, values, stamps):
    """``(series, steps, values)`` in logging order (by timestamp, then step)."""
    order = sorted(range(len(series)), key=lambda i: (stamps[i], steps[i]))
    return ([series[i] for i in order], [steps[i] for i in order],
            [values[i] for i in order])
