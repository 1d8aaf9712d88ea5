"""R keras histories saved with ``saveRDS()`` (through rpy2: extra ``[r]``).

A ``keras_training_history`` (what R keras' ``fit()`` returns) or a
data.frame; recognised by the ``.rds`` suffix or R's serialisation header
(gzip-compressed or not).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import HistoryError
from ..rbridge import from_r, robjects

__all__ = ["detect", "read"]

_GZIP, _RDS = b"\x1f\x8b", (b"RDX", b"RDA", b"X\n", b"A\n")


def detect(probe) -> bool:
    """A file named ``*.rds``, or one that starts as R's saveRDS writes."""
    if probe.is_dir or probe.store:
        return False
    return (probe.path.suffix.lower() == ".rds" or probe.head.startswith(_GZIP)
            or probe.head.startswith(_RDS))


def read(path: str, data: bytes | None = None) -> pl.DataFrame:
    """A history saved from R with ``saveRDS()``, as a histkit table.

    A ``keras_training_history`` (what R keras' ``fit()`` returns) gives the
    wide table: ``epoch`` numbered from 1 as R keras numbers it, then one
    column per metric in the history's order; a series cut short by early
    stopping is padded with nulls. A data.frame (wide, or the long table of
    ``as.data.frame(history)``) is returned as it is. ``data`` is not used:
    R reads the file itself.
    """
    ro = robjects()
    p = Path(path)
    if not p.is_file():
        raise HistoryError("no such file" if not p.exists() else "not a file", path=str(p))
    try:
        obj = ro.r["readRDS"](str(p))
    except Exception as exc:  # noqa: BLE001
        raise HistoryError(f"not an R data file (saveRDS): {' '.join(str(exc).split())}",
                           path=str(p)) from None
    classes = list(ro.r["class"](obj))
    if "keras_training_history" in classes:
        return _keras_history(ro, obj, str(p))
    if ro.r["is.data.frame"](obj)[0]:
        return from_r(obj)
    raise HistoryError(f"holds an R object of class {'/'.join(classes)}; expected a keras "
                       "training history (fit()'s value) or a data.frame", path=str(p))


def _keras_history(ro, obj, path: str) -> pl.DataFrame:
    metrics = obj.rx2("metrics")
    names = list(metrics.names) if metrics.names is not ro.NULL else []
    if not names:
        raise HistoryError("the keras history holds no metrics", path=path)
    cols = {}
    for name, values in zip(names, metrics):
        missing = list(ro.r["is.na"](values))
        try:
            numbers = [None if na else float(x) for x, na in zip(values, missing)]
        except (TypeError, ValueError):
            raise HistoryError(f"metric {name!r} is not numeric", path=path,
                               column=str(name)) from None
        cols[str(name)] = numbers
    n = max(len(v) for v in cols.values())
    frame = pl.DataFrame({"epoch": pl.Series("epoch", range(1, n + 1), dtype=pl.Int64),
                          **{k: pl.Series(k, v + [None] * (n - len(v)), dtype=pl.Float64)
                             for k, v in cols.items()}})
    return frame.with_columns(pl.exclude("epoch").fill_nan(None))
