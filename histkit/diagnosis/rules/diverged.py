"""``diverged``: the training loss blew up, ran off below, or became NaN."""

from __future__ import annotations

import polars as pl

import math

from ..features import KEYS, Features, finding, ln_k, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("diverged", severity="error",
      thresholds=("explode_ratio", "jump_ratio", "absurd_ratio", "absurd_level",
                  "recover_ratio", "chance_blowup"),
      advice="lower the learning rate (try 10x lower), clip gradients, and check the input "
             "for NaN or unnormalised values")
def diverged(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: a run whose training left the range it can come back
    from, on evidence a practitioner would accept. A series turns infinite
    (the training loss, or a series that was finite before: one infinite
    from its first value is a broken metric, not a divergence); the
    training loss is NaN or missing from some epoch to the end while no other
    loss of the run goes on; the training loss explodes and does not come
    back: it jumps above ``explode_ratio`` times its running minimum (and
    above its first value), rises ``jump_ratio`` times from one epoch to the
    next, or reaches ``absurd_ratio`` times its median and ``absurd_level``
    after its first epoch, and its last value is still over
    ``recover_ratio`` times what it was before; a loss whose chance level is
    known (a cross-entropy: ln K, a binary one: ln 2) reaches
    ``chance_blowup`` times it (in the first epoch too: it blew up within
    it) and ends over ``recover_ratio`` times it; or a loss that can go
    negative (a log-likelihood) runs off below, to ``absurd_ratio`` times its
    first value in size. A loss that starts huge and falls (a regression in
    raw units) is not an explosion.

    Why it matters: nothing after a divergence is training; the weights are
    garbage, and every later epoch only costs time.

    Example: Adam at learning rate 3 on a cross-entropy: "loss reached
    3.995e+05, 9.413e+05x its median 0.4244".
    """
    m, d = pl.col("metric"), pl.col("data")
    s = f.series.filter(d == "training")
    last, first = pl.col("last"), pl.col("first")
    # the last epoch any other loss of the run logged a finite value
    others = f.series.select(*KEYS, "metric", "data", other_last=pl.col("last_epoch"))
    other = (pl.col("metric_right") != m) | (pl.col("data_right") != d)
    missing = (s.filter(pl.col("missing_from").is_not_null())
               .join(others, on=KEYS, how="left", nulls_equal=True)
               .group_by(*KEYS, "metric", "data", maintain_order=True)
               .agg(pl.col("missing_from", "last").first(),
                    goes_on=(other & (pl.col("other_last") >= pl.col("missing_from")))
                    .fill_null(False).any())
               .filter(~pl.col("goes_on")))
    chance = (pl.when(pl.col("loss_kind") == "bce").then(pl.lit(math.log(2)))
              .when(pl.col("ce") & (pl.col("k") >= 2)).then(ln_k()))
    blown = s.filter((m == pl.col("loss")) & (pl.col("max") >= t.chance_blowup * chance)
                     & (last >= t.recover_ratio * chance))
    return [
        finding(blown, pl.col("max_epoch"), m, d,
                pl.format("{} reached {} at epoch {}, {}x the loss of chance ({}), and ended "
                          "at {}", m, sig(pl.col("max")), pl.col("max_epoch"),
                          sig(pl.col("max") / chance), sig(chance), sig(last))),
        finding(f.infinite.filter(pl.col("finite_before") | ((d == "training")
                                                              & (m == pl.col("loss")))),
                pl.col("inf_from"), m, d,
                pl.format("{}{} is infinite from epoch {}",
                          pl.when(d == "training").then(pl.lit("")).otherwise(d + pl.lit(" ")),
                          m, pl.col("inf_from"))),
        finding(missing, pl.col("missing_from"), m, d,
                pl.format("{} is NaN or missing from epoch {} to the end{}",
                          m, pl.col("missing_from"),
                          pl.when(last.is_not_null())
                          .then(pl.format(" (last value {})", sig(last)))
                          .otherwise(pl.lit("")))),
        finding(s.filter(pl.col("explode_epoch").is_not_null()
                         & (last >= t.recover_ratio * pl.col("explode_base"))),
                pl.col("explode_epoch"), m, d,
                pl.format("{} jumped to {}x its running minimum {} (above its start {}) and "
                          "ended at {}", m, sig(pl.col("explode")), sig(pl.col("explode_base")),
                          sig(first), sig(last))),
        finding(s.filter((pl.col("max") >= t.absurd_ratio * pl.col("median").abs())
                         & (pl.col("max") >= t.absurd_level)
                         & (pl.col("max_epoch") > pl.col("first_epoch"))
                         & (last >= t.recover_ratio * pl.col("median").abs())),
                pl.col("max_epoch"), m, d,
                pl.format("{} reached {}, {}x its median {}, and ended at {}", m,
                          sig(pl.col("max")), sig(pl.col("max") / pl.col("median").abs()),
                          sig(pl.col("median")), sig(last))),
        finding(s.filter(pl.col("jump_epoch").is_not_null()
                         & (last >= t.recover_ratio * pl.col("jump_base"))),
                pl.col("jump_epoch"), m, d,
                pl.format("{} rose {}x from one epoch to the next (from {}) and ended at {}",
                          m, sig(pl.col("jump")), sig(pl.col("jump_base")), sig(last))),
        finding(s.filter((pl.col("min") < 0)
                         & (pl.col("min").abs() >= t.absurd_ratio * first.abs())
                         & (pl.col("min").abs() >= t.absurd_level)),
                pl.col("min_epoch"), m, d,
                pl.format("{} ran off below zero: {} at epoch {}, from {} at the start "
                          "(a likelihood whose variance collapses?)", m, sig(pl.col("min")),
                          pl.col("min_epoch"), sig(first))),
    ]
