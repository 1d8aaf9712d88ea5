"""``double_softmax``: a softmax output fed to a loss that applies softmax again."""

from __future__ import annotations

import math

import polars as pl

from ..features import Features, drop, finding, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("double_softmax", severity="error",
      thresholds=("floor_slack", "floor_flat", "stuck_drop_ce", "min_epochs"),
      advice="the output already went through softmax and the loss applies it again: drop "
             "the softmax layer, or use the loss with from_logits=False")
def double_softmax(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: a cross-entropy (by the run's name, or of unknown
    kind) that moved (by ``stuck_drop_ce`` or more), then is flat (the last
    20% of its epochs within ``floor_flat``) and never goes more than
    ``floor_slack`` below ln(1 + (K-1)/e): 0.5514 for K = 3, 0.7437 for
    K = 4 (at least ``min_epochs`` epochs). Inputs in [0, 1] give a
    from-logits cross-entropy at best e / (e + K - 1) for the true class, so
    its loss cannot go lower.

    Why it matters: the network cannot become confident; it learns slowly
    and its scores stay poor, while nothing fails loudly (seed 002).

    Example: Keras, a softmax layer into
    SparseCategoricalCrossentropy(from_logits=True), 4 classes (``histkit
    diagnose --classes 4``): "loss is flat at 0.8578 from epoch 9 and never
    goes below ln(1 + (K-1)/e) = 0.7437".
    """
    floor = (1 + (pl.col("k").cast(pl.Float64) - 1) / math.e).log()
    flat = (pl.col("tail_max") - pl.col("tail_min")) <= t.floor_flat * pl.col("tail_min")
    cond = (pl.col("k").is_not_null() & pl.col("ce") & (pl.col("n") >= t.min_epochs)
            & (drop() >= t.stuck_drop_ce) & (pl.col("min") >= floor * (1 - t.floor_slack))
            & (pl.col("min") <= floor + 1) & flat)
    return [finding(
        f.train_loss.filter(cond), pl.col("min_epoch"), pl.col("metric"), pl.col("data"),
        pl.format("{} is flat at {} from epoch {} and never goes below "
                  "ln(1 + (K-1)/e) = {}, the floor of a softmax fed to a from-logits "
                  "cross-entropy with K = {}", pl.col("metric"), sig(pl.col("min")),
                  pl.col("min_epoch"), sig(floor), pl.col("k")))]
