"""``stuck``: the training loss never moved."""

from __future__ import annotations

import polars as pl

from ..features import KEYS, Features, drop, finding, ln_k, near_chance, pct, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("stuck", severity="error",
      thresholds=("stuck_drop", "stuck_drop_ce", "near_ln_k", "min_epochs"),
      advice="the network learns nothing: raise the learning rate, check that labels match "
             "the loss (one-hot for categorical, integer labels for sparse) and that the "
             "output activation matches from_logits")
def stuck(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: a training loss (the validation loss of a run that
    logs no training loss) whose best is within ``stuck_drop``
    of its first value, or within ``stuck_drop_ce`` for a cross-entropy that
    starts within ``near_ln_k`` of ln K, the loss of guessing at chance among
    K classes (at least ``min_epochs`` epochs). A cross-entropy that starts
    well below chance is a fine-tune near its best from the start, not a
    stuck run; a fine-tune whose chance is unknown is told apart only by
    ``stuck_drop`` being small (a pretrained T5 fell 4.3%, a stuck net
    under 1%).

    Why it matters: the network learns nothing; the usual causes are a
    learning rate orders of magnitude too small, labels that do not match
    the loss, or an output activation the loss does not expect (seed 002).

    Example: a 3-class cross-entropy with SGD at 1e-6: "loss went from 1.095
    to at best 1.092 (0.3% lower) in 20 epochs; chance for 3 classes is
    ln 3 = 1.099".
    """
    m, d = pl.col("metric"), pl.col("data")
    # a cross-entropy that starts well below chance learnt before this run: a
    # fine-tune of a pretrained net, near its best from the start
    # (known to be one: by the run's name, or the loss's)
    known_ce = ((pl.col("loss_kind") == "ce")
                | pl.col("metric").str.contains(r"(?i)cross_?entropy")).fill_null(False)
    pretrained = (pl.col("k").is_not_null() & known_ce
                  & (pl.col("first") < (1 - t.near_ln_k) * ln_k())).fill_null(False)
    cond = (pl.col("n") >= t.min_epochs) & (
        ((drop() < t.stuck_drop) & ~pretrained) | (near_chance(t) & (drop() < t.stuck_drop_ce)))
    # the training loss, else (a run that logs none) the validation loss
    losses = pl.concat([f.train_loss, f.val_loss.join(f.train_loss, on=KEYS, how="anti",
                                                      nulls_equal=True)], how="vertical")
    return [finding(
        losses.filter(cond), pl.col("first_epoch"), m, d,
        pl.format("{} went from {} to at best {} ({} lower) in {} epochs{}", m,
                  sig(pl.col("first")), sig(pl.col("min")), pct(drop()), pl.col("n"),
                  pl.when(near_chance(t)).then(pl.format("; chance for {} classes is ln {} = {}",
                                                         pl.col("k"), pl.col("k"), sig(ln_k())))
                  .otherwise(pl.lit(""))))]
