"""What a series name says: a metric or telemetry, loss-like or not.

Not every logged column is a metric: the learning rate, epoch times, memory,
step counters, throughputs and runtimes describe *how* a run trained, not how
well. Telemetry stays in the long table (R keras' ``as.data.frame`` keeps
every column) but gets no early stop, no best value, no facet in the default
figure and no ``best_`` column in summaries; reports draw it in its own
panel. This module holds the one list; users add their own names with
``--telemetry NAME,...`` (``telemetry=`` in the API).
"""

from __future__ import annotations

import re
from typing import Iterable

import polars as pl

__all__ = ["TELEMETRY", "is_telemetry", "telemetry_names", "parse_telemetry",
           "metric_filter", "without_test", "LOSS_TOKENS", "is_loss_like"]

#: a metric is minimised when one ``_``-separated token of its name is one of these
LOSS_TOKENS = frozenset({"loss", "error", "mse", "mae", "rmse", "crossentropy"})


def is_loss_like(metric: str) -> bool:
    """True when some ``_``-separated token of the name is a loss word
    (``val_loss``, ``binary_crossentropy``; not ``background_dice``): such a
    metric is better lower, any other higher."""
    return any(t in LOSS_TOKENS for t in metric.lower().split("_"))

#: exact names (after ``val_`` is stripped), compared without case
TELEMETRY = frozenset({
    "lr", "learning_rate", "epoch_time_s", "epoch_time", "time", "peak_mem_mb", "step",
    "global_step", "grad_norm", "runtime", "total_flos",
})
_PATTERN = re.compile(
    r"^(?:lr|learning_rate)[-_/].+$"          # Lightning's LearningRateMonitor: lr-Adam
    r"|.+_(?:runtime|per_second|throughput|time_s|mem_mb)$"
    r"|^(?:throughput|it_per_sec|samples_per_sec).*$", re.I)


def is_telemetry(metric: str, extra: Iterable[str] = ()) -> bool:
    """True for a telemetry series name (``val_`` already stripped)."""
    low = metric.lower()
    return (low in TELEMETRY or bool(_PATTERN.match(metric))
            or low in {e.lower() for e in extra})


def telemetry_names(metrics: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """The telemetry names among ``metrics``, in their order."""
    extra = tuple(extra)
    return [m for m in dict.fromkeys(metrics) if is_telemetry(m, extra)]


def parse_telemetry(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"a,b"`` or ``["a", "b"]`` -> ``("a", "b")`` (empty names dropped)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(s.strip() for s in items if s and s.strip())


def without_test(long: pl.DataFrame) -> pl.DataFrame:
    """The rows of a long table but its test and final values (``data = test``)."""
    if "data" in long.columns and long.height:
        tested = pl.col("data") == "test"
        if long.select(tested.any()).item():
            return long.filter(~tested)
    return long


def metric_filter(long: pl.DataFrame, extra: Iterable[str] = (), *,
                  telemetry: bool = False) -> pl.DataFrame:
    """The rows of a long table whose series are metrics followed per epoch
    (or, with ``telemetry=True``, the telemetry rows). Test and final values
    (``data = test``) are neither: never a curve, a stop or a diagnosis input."""
    long = without_test(long)
    # the distinct names first: a Categorical column of millions of rows is
    # never spelled out as text
    names = telemetry_names(long["metric"].unique().cast(pl.String).to_list(), extra)
    if not names:
        return long.clear() if telemetry else long
    keep = pl.col("metric").is_in(names)
    return long.filter(keep if telemetry else ~keep)
