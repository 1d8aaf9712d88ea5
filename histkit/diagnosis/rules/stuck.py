"""``stuck``: the training loss never moved."""

from __future__ import annotations

import polars as pl

from ..features import Features, drop, finding, ln_k, near_chance, pct, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("stuck", severity="error",
      thresholds=("stuck_drop", "stuck_drop_ce", "near_ln_k", "min_epochs"),
      advice="the network learns nothing: raise the learning rate, check that labels match "
             "the loss (one-hot for categorical, integer labels for sparse) and that the "
             "output activation matches from_logits")
def stuck(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: a training loss whose best is within ``stuck_drop``
    of its first value, or within ``stuck_drop_ce`` for a cross-entropy that
    starts within ``near_ln_k`` of ln K, the loss of guessing at chance among
    K classes (at least ``min_epochs`` epochs).

    Why it matters: the network learns nothing; the usual causes are a
    learning rate orders of magnitude too small, labels that do not match
    the loss, or an output activation the loss does not expect (seed 002).

    Example: a 3-class cross-entropy with SGD at 1e-6: "loss went from 1.095
    to at best 1.092 (0.3% lower) in 20 epochs; chance for 3 classes is
    ln 3 = 1.099".
    """
    m, d = pl.col("metric"), pl.col("data")
    cond = (pl.col("n") >= t.min_epochs) & (
        (drop() < t.stuck_drop) | (near_chance(t) & (drop() < t.stuck_drop_ce)))
    return [finding(
        f.train_loss.filter(cond), pl.col("first_epoch"), m, d,
        pl.format("{} went from {} to at best {} ({} lower) in {} epochs{}", m,
                  sig(pl.col("first")), sig(pl.col("min")), pct(drop()), pl.col("n"),
                  pl.when(near_chance(t)).then(pl.format("; chance for {} classes is ln {} = {}",
                                                         pl.col("k"), pl.col("k"), sig(ln_k())))
                  .otherwise(pl.lit(""))))]
