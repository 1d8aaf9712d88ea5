"""From the series a framework logs to histkit's wide table.

Frameworks name their series in many ways (``val_loss``, ``valid_loss``,
``eval_loss``, ``loss/val``, ``Loss/validation``, ``train/loss``) and log them
per step or per epoch. Every source turns what it read into rows of
``(series, epoch, value)`` or ``(series, step, value)`` (parallel lists) and
hands them here,
so all sources name and reduce series the same way:

- :func:`split_series` says which metric a series is and whether it is the
  training or the validation one;
- :func:`epochs_from_steps` puts steps on epochs, through an ``epoch`` series
  when the framework logged one;
- :func:`per_epoch` keeps one value per epoch (Lightning's ``<m>_epoch``
  where it exists, else the mean of the epoch's steps, with a warning) and
  pivots to ``epoch`` plus one column per series (``val_<m>`` for validation).
"""

from __future__ import annotations

import bisect
import math
import re
import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError

__all__ = ["split_series", "column_name", "epochs_from_steps", "per_epoch"]

_VAL = r"val|valid|validation|eval|evaluation"
_TRAIN = r"train|training"
_MARKED = [
    (re.compile(rf"^(?:{_VAL})[_/\-.](?P<m>.+)$", re.I), "validation"),
    (re.compile(rf"^(?:{_TRAIN})[_/\-.](?P<m>.+)$", re.I), "training"),
    (re.compile(rf"^(?P<m>.+)[/](?:{_VAL})$", re.I), "validation"),
    (re.compile(rf"^(?P<m>.+)[/](?:{_TRAIN})$", re.I), "training"),
]
INDEX = frozenset({"epoch"})


def split_series(name: str) -> tuple[str, str]:
    """``(metric, data)`` of a logged series name.

    ``val_``/``valid_``/``validation_``/``eval_`` (or ``/``) before the name, or
    ``/val``/``/validation`` after it, mark validation; ``train_``/``train/``
    before or ``/train`` after mark training; anything else is training.
    """
    for pattern, data in _MARKED:
        m = pattern.match(name)
        if m:
            return m.group("m"), data
    return name, "training"


def column_name(metric: str, data: str) -> str:
    """The wide-table column of a series: ``<m>`` or ``val_<m>``."""
    return f"val_{metric}" if data == "validation" else metric


def epochs_from_steps(series: list[str], steps: list[int], values: list[float], path: str,
                      *, what: str = "series") -> tuple[list[str], list[int], list[float]]:
    """``(series, step, value)`` rows -> ``(series, epoch, value)`` rows.

    A step logged twice in a series keeps its latest value. With an
    ``epoch`` series (Lightning and the autologgers log one), each value
    takes the epoch logged at its step (or the last one before it). Without
    one the steps are the epochs; when the series are logged at very
    different rates (per step and per epoch) a warning says the steps were
    taken as epochs all the same.

    Plain Python over lists: logs are small, and a few list passes beat a
    dozen table operations on them.
    """
    latest: dict[tuple[str, int], float] = {}
    for s, step, v in zip(series, steps, values):
        latest[(s, step)] = v
    epoch_at: dict[int, float] = {}
    rows = []
    for (s, step), v in latest.items():
        if s.lower() == "epoch":
            epoch_at[step] = v
        else:
            rows.append((s, step, v))
    if not rows:
        raise HistoryError(f"no {what} besides the epoch", path=path)
    if epoch_at:
        marks = sorted(epoch_at)
        first = epoch_at[marks[0]]
        out_e = []
        for _, step, _ in rows:
            i = bisect.bisect_right(marks, step) - 1
            out_e.append(_whole(epoch_at[marks[i]] if i >= 0 else first))
        return [r[0] for r in rows], out_e, [r[2] for r in rows]
    counts: dict[str, int] = {}
    for s, _, _ in rows:
        counts[s] = counts.get(s, 0) + 1
    if len(counts) > 1 and max(counts.values()) > 2 * min(counts.values()):
        dense = max(counts, key=counts.get)
        sparse = min(counts, key=counts.get)
        warnings.warn(f"{path}: no epoch is recorded, so steps are taken as epochs, but "
                      f"{dense!r} has {counts[dense]} steps and {sparse!r} {counts[sparse]}: "
                      "if that is per-step logging, log the epoch too (as an 'epoch' series)",
                      HistkitWarning, stacklevel=3)
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _whole(x: float) -> int:
    return int(round(x)) if math.isfinite(x) else 0


def per_epoch(series: list[str], epochs: list[int], values: list[float | None],
              path: str) -> pl.DataFrame:
    """``(series, epoch, value)`` rows (in logging order) -> the wide table.

    ``<m>_epoch`` is the epoch value of ``<m>`` and its ``<m>_step`` twin is
    dropped (Lightning's ``on_step=True, on_epoch=True``); a series with
    several values in an epoch is reduced to their mean, with a warning that
    names it. Columns keep the order of first appearance.
    """
    names = [s for s in dict.fromkeys(series) if s not in INDEX]
    if not names:
        raise HistoryError("no metric series in it", path=path)
    known = set(names)
    rename: dict[str, str] = {}
    for s in names:
        if s.endswith("_step") and s[:-5] + "_epoch" in known:
            continue
        base = s[:-6] if s.endswith("_epoch") else s[:-5] if s.endswith("_step") else s
        rename[s] = column_name(*split_series(base))
    _unify_case(rename)
    taken: dict[str, str] = {}
    for s, col in list(rename.items()):
        if col in taken:
            warnings.warn(f"{path}: {s!r} and {taken[col]!r} are both {col!r}; "
                          f"kept {taken[col]!r}", HistkitWarning, stacklevel=3)
            del rename[s]
        else:
            taken[col] = s
    sums: dict[tuple[str, int], list] = {}
    for s, e, v in zip(series, epochs, values):
        col = rename.get(s)
        if col is None or e is None:
            continue
        acc = sums.setdefault((col, e), [0.0, 0])
        if v is not None and v == v:
            acc[0] += v
            acc[1] += 1
    many: dict[str, int] = {}
    for (col, _), (_, n) in sums.items():
        if n > 1:
            many[col] = max(many.get(col, 0), n)
    if many:
        said = ", ".join(f"{c!r} (up to {n} values)" for c, n in list(many.items())[:4])
        more = f" and {len(many) - 4} more" if len(many) > 4 else ""
        warnings.warn(f"{path}: per-step values reduced to one per epoch by their mean: "
                      f"{said}{more}", HistkitWarning, stacklevel=3)
    order = list(dict.fromkeys(rename.values()))
    index = sorted({e for _, e in sums})
    if not index:
        raise HistoryError("no metric values in it", path=path)
    table: dict[str, list] = {"epoch": index}
    for col in order:
        table[col] = [_mean(sums.get((col, e))) for e in index]
    return pl.DataFrame(table, schema={"epoch": pl.Int64, **{c: pl.Float64 for c in order}})


def _mean(acc) -> float | None:
    if not acc or not acc[1]:
        return None
    return acc[0] / acc[1]
def _unify_case(rename: dict[str, str]) -> None:
    """``train/loss`` and ``Loss/validation`` are one metric: where columns
    differ only in case, all take the lower-case spelling."""
    metric_case: dict[str, set[str]] = {}
    for col in rename.values():
        m = col[4:] if col.startswith("val_") else col
        metric_case.setdefault(m.lower(), set()).add(m)
    for s, col in rename.items():
        m = col[4:] if col.startswith("val_") else col
        if len(metric_case[m.lower()]) > 1:
            rename[s] = ("val_" if col.startswith("val_") else "") + m.lower()
