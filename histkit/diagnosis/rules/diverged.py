"""``diverged``: the loss blew up or became NaN."""

from __future__ import annotations

import polars as pl

from ..features import Features, finding, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("diverged", severity="error",
      thresholds=("explode_ratio", "jump_ratio", "absurd_ratio", "absurd_level"),
      advice="lower the learning rate (try 10x lower), clip gradients, and check the input "
             "for NaN or unnormalised values")
def diverged(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: a run whose loss left the range it can come back from.
    A value is infinite; the training loss is NaN or missing from some epoch
    to the end; a loss jumps above ``explode_ratio`` times its running
    minimum (and above its first value), changes ``jump_ratio`` times from
    one epoch to the next (the larger value above 1), or reaches
    ``absurd_ratio`` times its median and ``absurd_level``.

    Why it matters: nothing after a divergence is training; the weights are
    garbage, and every later epoch only costs time.

    Example: Adam at learning rate 3 on a cross-entropy: "loss reached
    3.995e+05, 9.413e+05x its median 0.4244".
    """
    m, d, s = pl.col("metric"), pl.col("data"), f.series
    return [
        finding(f.infinite, pl.col("inf_from"), m, d,
                pl.format("{} is infinite from epoch {}", m, pl.col("inf_from"))),
        finding(s.filter(pl.col("missing_from").is_not_null() & (d == "training")),
                pl.col("missing_from"), m, d,
                pl.format("{} is NaN or missing from epoch {} to the end{}",
                          m, pl.col("missing_from"),
                          pl.when(pl.col("last").is_not_null())
                          .then(pl.format(" (last value {})", sig(pl.col("last"))))
                          .otherwise(pl.lit("")))),
        finding(s.filter(pl.col("explode_epoch").is_not_null()), pl.col("explode_epoch"), m, d,
                pl.format("{} jumped to {}x its running minimum (above its start {})",
                          m, sig(pl.col("explode")), sig(pl.col("first")))),
        finding(s.filter((pl.col("max") >= t.absurd_ratio * pl.col("median").abs())
                         & (pl.col("max") >= t.absurd_level)), pl.col("max_epoch"), m, d,
                pl.format("{} reached {}, {}x its median {}", m, sig(pl.col("max")),
                          sig(pl.col("max") / pl.col("median").abs()), sig(pl.col("median")))),
        finding(s.filter(pl.col("jump_epoch").is_not_null()), pl.col("jump_epoch"), m, d,
                pl.format("{} changed {}x from one epoch to the next (max {}, median {})",
                          m, sig(pl.col("jump")), sig(pl.col("max")), sig(pl.col("median")))),
    ]
