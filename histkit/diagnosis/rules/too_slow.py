"""``too_slow``: still improving at the last epoch."""

from __future__ import annotations

import polars as pl

from ..features import Features, finding, pct, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("too_slow", severity="info", thresholds=("slow_tail", "min_epochs"),
      advice="still improving at the last epoch: train longer or raise the learning rate")
def too_slow(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: the best validation loss (training loss, for a run
    without validation) falls in the last 20% of the epochs (at least 3),
    and those epochs still brought ``slow_tail`` of its improvement from
    past the warm-up (at least ``min_epochs`` epochs in all).

    Why it matters: the run was cut off while it learned: more epochs, or a
    larger learning rate, would likely have given a better model.

    Example: seed 002's SGD setup: "validation loss still fell by 17.5% of
    its improvement in the last 7 epochs (best at the end: 1.097)".
    """
    m, d = pl.col("metric"), pl.col("data")
    gain = (pl.col("tail_start") - pl.col("tail_min")) / pl.col("scale")
    cond = ((pl.col("n") >= t.min_epochs) & (pl.col("scale") > 0)
            & (pl.col("min_epoch") >= pl.col("tail_epoch")) & (gain >= t.slow_tail))
    return [finding(
        f.trend.filter(cond), pl.col("last_epoch"), m, d,
        pl.format("{} {} still fell by {} of its improvement in the last {} epochs "
                  "(best at the end: {})", d, m, pct(gain),
                  pl.col("last_epoch") - pl.col("tail_epoch") + 1, sig(pl.col("min"))))]
