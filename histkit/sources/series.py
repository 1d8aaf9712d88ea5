"""From the series a framework logs to histkit's wide table.

Frameworks name their series in many ways (``val_loss``, ``valid_loss``,
``eval_loss``, ``loss/val``, ``Loss/validation``, ``train/loss``) and log them
per step or per epoch. Every source turns what it read into rows of
``(series, epoch, value)`` or ``(series, step, value)`` and hands them here,
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


def epochs_from_steps(long: pl.DataFrame, path: str, *, what: str = "series") -> pl.DataFrame:
    """``(series, step, value)`` rows -> ``(series, epoch, value)``.

    With an ``epoch`` series (Lightning and the autologgers log one), each
    value takes the epoch logged at its step (or the last one before it).
    Without one the steps are the epochs; when the series are logged at very
    different rates (per step and per epoch) a warning says the steps were
    taken as epochs all the same.
    """
    is_epoch = pl.col("series").str.to_lowercase() == "epoch"
    epochs = long.filter(is_epoch)
    rest = long.filter(~is_epoch)
    if rest.is_empty():
        raise HistoryError(f"no {what} besides the epoch", path=path)
    if epochs.height:
        mapping = (epochs.group_by("step").agg(pl.col("value").last().alias("epoch"))
                   .sort("step"))
        rest = rest.with_columns(pl.col("step").cast(pl.Int64)).sort("step")
        mapping = mapping.with_columns(pl.col("step").cast(pl.Int64))
        joined = rest.join_asof(mapping, on="step", strategy="backward")
        first = mapping["epoch"][0]
        return joined.select("series", pl.col("epoch").fill_null(first).round(0)
                             .cast(pl.Int64), "value")
    counts = rest.group_by("series", maintain_order=True).agg(
        n=pl.col("step").n_unique())
    if counts.height > 1 and counts["n"].max() > 2 * counts["n"].min():
        dense = counts.row(counts["n"].arg_max(), named=True)
        sparse = counts.row(counts["n"].arg_min(), named=True)
        warnings.warn(f"{path}: no epoch is recorded, so steps are taken as epochs, but "
                      f"{dense['series']!r} has {dense['n']} steps and "
                      f"{sparse['series']!r} {sparse['n']}: if that is per-step logging, "
                      "log the epoch too (as an 'epoch' series)", HistkitWarning, stacklevel=3)
    return rest.select("series", pl.col("step").cast(pl.Int64).alias("epoch"), "value")


def per_epoch(long: pl.DataFrame, path: str) -> pl.DataFrame:
    """``(series, epoch, value)`` rows (in logging order) -> the wide table.

    ``<m>_epoch`` is the epoch value of ``<m>`` and its ``<m>_step`` twin is
    dropped (Lightning's ``on_step=True, on_epoch=True``); a series with
    several values in an epoch is reduced to their mean, with a warning that
    names it. Columns keep the order of first appearance.
    """
    long = long.filter(~pl.col("series").is_in(list(INDEX)) & pl.col("epoch").is_not_null())
    names = list(dict.fromkeys(long["series"].to_list()))
    if not names:
        raise HistoryError("no metric series in it", path=path)
    rename: dict[str, str] = {}
    for s in names:
        if s.endswith("_step") and s[:-5] + "_epoch" in names:
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
    long = (long.filter(pl.col("series").is_in(list(rename)))
            .with_columns(pl.col("series").replace_strict(rename).alias("column"),
                          pl.col("value").cast(pl.Float64).fill_nan(None)))
    reduced = (long.group_by("column", "epoch", maintain_order=True)
               .agg(pl.col("value").drop_nulls().mean(), n=pl.col("value").count()))
    many = reduced.filter(pl.col("n") > 1).group_by("column", maintain_order=True).agg(
        pl.col("n").max())
    if many.height:
        said = ", ".join(f"{r['column']!r} (up to {r['n']} values)"
                         for r in many.head(4).iter_rows(named=True))
        more = f" and {many.height - 4} more" if many.height > 4 else ""
        warnings.warn(f"{path}: per-step values reduced to one per epoch by their mean: "
                      f"{said}{more}", HistkitWarning, stacklevel=3)
    order = list(dict.fromkeys(rename.values()))
    wide = (reduced.pivot(on="column", index="epoch", values="value")
            .sort("epoch"))
    missing = [c for c in order if c not in wide.columns]
    wide = wide.with_columns(pl.lit(None, pl.Float64).alias(c) for c in missing)
    return wide.select(pl.col("epoch").cast(pl.Int64), *(pl.col(c).cast(pl.Float64)
                                                          for c in order))


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
