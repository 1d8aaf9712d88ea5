"""``val_better_than_train``: validation far better than training, without dropout."""

from __future__ import annotations

import polars as pl

from ..features import KEYS, Features, finding, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("val_better_than_train", severity="warning",
      thresholds=("val_better", "val_better_share", "min_epochs"),
      advice="validation beats training without dropout: check for a leak (validation "
             "images in the training set) or swapped columns")
def val_better_than_train(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: the validation loss is ``val_better`` below the
    training loss in ``val_better_share`` of the epochs or more (at least
    ``min_epochs``), and the run has no dropout (by its name's ``DR``
    token), which alone could explain it.

    Why it matters: a network scores better on data it has not seen only by
    luck, a leak (validation images in the training set) or a mix-up of the
    columns; the comparison the run was trained for is then void.

    Example: a history whose loss and val_loss columns were swapped:
    "validation loss is 40% below training in 85 of 120 epochs (median
    ratio 0.06433) and the run has no dropout".
    """
    keys = KEYS
    both = f.pair.filter(pl.col("training").is_not_null() & pl.col("validation").is_not_null())
    better = pl.col("validation") < (1 - t.val_better) * pl.col("training")
    vb = (both.group_by(keys, maintain_order=True).agg(
        n=pl.len(), k=better.sum(), start=pl.col("epoch").filter(better).min(),
        ratio=(pl.col("validation") / pl.col("training")).median())
        .join(f.info.lazy().select(*keys, "dropout"), on=keys, nulls_equal=True)
        .join(f.primary.lazy(), on=keys, nulls_equal=True))
    cond = ((pl.col("n") >= t.min_epochs) & (pl.col("k") >= t.val_better_share * pl.col("n"))
            & (pl.col("dropout").fill_null(0) == 0))
    return [finding(
        vb.filter(cond), pl.col("start"), pl.col("loss"), pl.lit("validation"),
        pl.format("validation {} is {}% below training in {} of {} epochs "
                  "(median ratio {}) and the run has no dropout", pl.col("loss"),
                  int(t.val_better * 100), pl.col("k"), pl.col("n"), sig(pl.col("ratio"))))]
