"""``overfitting``: the validation loss rose while the training loss fell."""

from __future__ import annotations

import polars as pl

from ..features import KEYS, Features, finding, pct, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("overfitting", severity="warning",
      thresholds=("overfit_rise", "overfit_epochs", "overfit_scale"),
      advice="keep the weights of the best validation epoch (early stopping), add data "
             "augmentation, dropout or weight decay")
def overfitting(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: after its best epoch the validation loss stays
    ``overfit_rise`` above its best (and ``overfit_scale`` of the training
    loss's improvement) over the last ``overfit_epochs`` epochs, while the
    training loss fell further and the gap between them widened. The
    finding's epoch is the first after the best.

    Why it matters: the weights of the last epoch are worse than those of
    the best one; more epochs make it worse.

    Example: 4 noisy training slices, 120 epochs: "validation loss rose from
    its best 0.5487 (epoch 20) to 1.016 (+85.1%) while training loss fell
    from 0.4855 to 0.003583".
    """
    keys = KEYS
    best = (f.pair.filter(pl.col("validation").is_not_null())
            .group_by(keys, maintain_order=True).agg(
                best_epoch=pl.col("epoch").get(pl.col("validation").arg_min()),
                best=pl.col("validation").min(),
                train_at_best=pl.col("training").get(pl.col("validation").arg_min()),
                last=pl.col("validation").last(), train_last=pl.col("training").last(),
                n_after=(pl.col("epoch") > pl.col("epoch").get(
                    pl.col("validation").arg_min())).sum(),
                tail_low=pl.col("validation").tail(t.overfit_epochs).min())
            .join(f.scale, on=keys, how="left", nulls_equal=True))
    rise = (pl.col("last") - pl.col("best")) / pl.col("best").abs()
    cond = ((pl.col("n_after") >= t.overfit_epochs)
            & (pl.col("tail_low") >= pl.col("best") + t.overfit_rise * pl.col("best").abs())
            & (pl.col("tail_low") - pl.col("best")
               >= t.overfit_scale * pl.col("scale").fill_null(0))
            & (pl.col("train_last") < pl.col("train_at_best"))
            & ((pl.col("last") - pl.col("train_last"))
               > (pl.col("best") - pl.col("train_at_best"))))
    nxt = f.pair.select(*keys, pl.col("epoch").alias("e2"))
    hit = (best.filter(cond).join(nxt, on=keys, nulls_equal=True)
           .filter(pl.col("e2") > pl.col("best_epoch"))
           .group_by(keys, maintain_order=True).agg(pl.all().exclude("e2").first(),
                                                     start=pl.col("e2").min())
           .join(f.primary.lazy(), on=keys, nulls_equal=True))
    return [finding(
        hit, pl.col("start"), pl.col("loss"), pl.lit("validation"),
        pl.format("validation {} rose from its best {} (epoch {}) to {} (+{}) while "
                  "training {} fell from {} to {}", pl.col("loss"), sig(pl.col("best")),
                  pl.col("best_epoch"), sig(pl.col("last")), pct(rise), pl.col("loss"),
                  sig(pl.col("train_at_best")), sig(pl.col("train_last"))))]
