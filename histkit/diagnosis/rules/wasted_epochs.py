"""``wasted_epochs``: the run stopped improving long before its end."""

from __future__ import annotations

import polars as pl

from ..features import KEYS, Features, finding
from ..registry import rule
from ..thresholds import Thresholds


@rule("wasted_epochs", severity="info",
      thresholds=("wasted_within", "wasted_fraction", "wasted_epochs"),
      advice="the run stopped improving long before its end: fewer epochs (or early "
             "stopping) give the same result")
def wasted_epochs(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: the validation loss (training loss, for a run
    without validation) came within ``wasted_within`` of its improvement to
    its best in the first ``wasted_fraction`` of the run, at least
    ``wasted_epochs`` epochs before the end.

    Why it matters: the later epochs cost time and added nothing; the same
    model was available much earlier.

    Example: 34 epochs of an easy task: "validation loss was within 2% of
    its best by epoch 8; the 26 epochs after it added nothing".
    """
    keys = KEYS
    m, d = pl.col("metric"), pl.col("data")
    pts = (f.loss_rows.join(f.trend.select(*keys, "metric", "data", "min", "scale", "n",
                                           "last_epoch"),
                            on=[*keys, "metric", "data"], nulls_equal=True)
           .filter(pl.col("value").is_not_null()))
    stop = (pts.filter(pl.col("value") <= pl.col("min") + t.wasted_within * pl.col("scale"))
            .group_by([*keys, "metric", "data"], maintain_order=True)
            .agg(stop=pl.col("epoch").min(), n=pl.col("n").first(),
                 last_epoch=pl.col("last_epoch").first(), scale=pl.col("scale").first()))
    after = pts.join(stop.select(*keys, "metric", "data", "stop"),
                     on=[*keys, "metric", "data"], nulls_equal=True).group_by(
        [*keys, "metric", "data"]).agg(after=(pl.col("epoch") > pl.col("stop")).sum())
    stop = stop.join(after, on=[*keys, "metric", "data"], nulls_equal=True)
    cond = ((pl.col("scale") > 0) & (pl.col("after") >= t.wasted_epochs)
            & (pl.col("after") >= (1 - t.wasted_fraction) * pl.col("n")))
    return [finding(
        stop.filter(cond), pl.col("stop"), m, d,
        pl.format("{} {} was within 2% of its best by epoch {}; the {} epochs after it "
                  "added nothing", d, m, pl.col("stop"), pl.col("after")))]
