"""``oscillating``: the validation loss keeps bouncing up."""

from __future__ import annotations

import polars as pl

from ..features import KEYS, Features, finding, pct, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("oscillating", severity="warning",
      thresholds=("oscillation_rebound", "oscillation_peaks", "oscillation_big"),
      advice="the learning rate is probably too high: lower it or add a schedule (e.g. "
             "ReduceLROnPlateau)")
def oscillating(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: the validation loss bounces up ``oscillation_peaks``
    times or more (from the third epoch on), each time by at least
    ``oscillation_rebound`` of the training loss's improvement over its
    running minimum, and once by ``oscillation_big`` of it (of its own early
    drop, when the training loss did not improve or was logged at under half
    the epochs). Small bounces of a long run are the noise of small batches,
    not a learning rate too high.

    Why it matters: a learning rate too high for the problem overshoots the
    minimum again and again; the best epoch is then a matter of luck.

    Example: Adam at learning rate 3: "validation loss bounced up 3 times by
    at least 10.0% of the training loss's improvement (3.055), the largest
    by 154.8".
    """
    keys = KEYS
    v = pl.col("validation")
    dv = v.diff().over(keys)
    swings = (f.pair.filter(v.is_not_null())
              .with_columns(idx=pl.int_range(pl.len()).over(keys),
                            up=v - v.cum_min().shift(1).over(keys), d=dv,
                            nd=dv.shift(-1).over(keys),
                            vscale=(v.get(pl.min_horizontal(2, pl.len() - 1)) - v.min())
                            .over(keys))
              .join(f.train_loss.select(*keys, scale=pl.col("first") - pl.col("min"),
                                        tn=pl.col("n")),
                    on=keys, how="left", nulls_equal=True, maintain_order="left")
              .with_columns(scale=pl.when((pl.col("scale") > 0)
                                          & (2 * pl.col("tn") >= pl.len().over(keys)))
                            .then(pl.col("scale")).otherwise(pl.col("vscale")))
              .with_columns(peak=(pl.col("idx") >= 2) & (pl.col("d") > 0)
                            & (pl.col("nd").is_null() | (pl.col("nd") < 0))
                            & (pl.col("up") >= t.oscillation_rebound * pl.col("scale")))
              .group_by(keys, maintain_order=True)
              .agg(peaks=pl.col("peak").sum(), start=pl.col("epoch").filter("peak").min(),
                   biggest=pl.col("up").filter("peak").max(),
                   scale=pl.col("scale").first())
              .join(f.primary.lazy(), on=keys, nulls_equal=True))
    return [finding(
        swings.filter((pl.col("scale") > 0) & (pl.col("peaks") >= t.oscillation_peaks)
                      & (pl.col("biggest") >= t.oscillation_big * pl.col("scale"))),
        pl.col("start"), pl.col("loss"), pl.lit("validation"),
        pl.format("validation {} bounced up {} times by at least {} of the training "
                  "loss's improvement ({}), the largest by {}", pl.col("loss"),
                  pl.col("peaks"), pct(pl.lit(t.oscillation_rebound)),
                  sig(pl.col("scale")), sig(pl.col("biggest"))))]
