"""``class_collapse``: one class was lost while the loss and the other classes improved."""

from __future__ import annotations

import polars as pl

from ..features import AGGREGATES, KEYS, Features, finding, is_background, sig
from ..registry import rule
from ..thresholds import Thresholds

#: per-class accuracies (``vsat_acc``, ``scat_accuracy``): read here besides the
#: Dice and IoU scores of :attr:`Features.class_scores`
ACCURACY = r"^(.+)_(acc|accuracy)$"
#: what comes before ``_accuracy`` in a name that is not a class's (Keras'
#: ``binary_accuracy``, ``sparse_categorical_accuracy``..., a split's prefix)
NOT_A_CLASS = AGGREGATES | {"binary", "categorical", "sparse_categorical",
                            "top_k_categorical", "sparse_top_k_categorical", "pixel",
                            "pixelwise", "overall", "global", "weighted", "train", "training",
                            "val", "valid", "validation", "test"}


@rule("class_collapse", severity="error",
      thresholds=("class_collapse_best", "class_collapse_low", "class_collapse_hold",
                  "collapse_foreground", "min_epochs"),
      advice="the network gave up one class to improve the others: use a class-balanced "
             "loss (mdice), class weights, or a lower learning rate")
def class_collapse(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: a foreground class's score (per-class Dice, IoU or
    accuracy: ``vsat_dice``, ``scat_iou``, ``vsat_acc``...) reached
    ``class_collapse_best`` or more, then fell to at most
    ``class_collapse_low`` at the last epoch of that score (at least
    ``min_epochs`` epochs), while at that epoch another foreground class of
    the score was above ``collapse_foreground`` and no more than
    ``class_collapse_hold`` below its value at the lost class's best epoch,
    and the run's loss of the same data (where logged) no more than
    ``class_collapse_hold`` above its value at that best epoch. Validation
    scores when the run has them, else training. The finding's epoch is the
    first from which the class has stayed at or below ``class_collapse_low``.

    Not ``collapse_to_background``, which fires when every foreground class
    is lost: here another one is above ``collapse_foreground`` at the same
    epoch, so the two never report the same scores. A loss that rose as the
    class fell is left to ``diverged`` and ``overfitting``.

    Why it matters: the loss still improves: a Dice loss pooled over the
    classes can go on falling by fitting the large classes better while the
    small one is given up, so only the per-class score shows that the model
    no longer finds it; the weights of the class's best epoch were better
    for it.

    Example: the demo's LinkNet with a plain Dice loss: "validation
    vsat_dice fell from 0.3562 at epoch 14 to 0.0123 at epoch 23 while
    validation loss kept improving (0.04363 -> 0.02464) and scat_dice rose
    (0.9547 -> 0.9854)".
    """
    keys = KEYS
    classes = _class_scores(f)
    if classes.is_empty():
        return []
    v, e = pl.col("value"), pl.col("epoch")
    rows = (f.long.lazy().filter(pl.col("metric").is_in(classes["metric"].implode())
                                 & v.is_not_null() & v.is_finite()
                                 & pl.col("_rid").is_in(_candidates(f, classes, t).implode()))
            .join(classes.lazy(), on="metric", how="inner", maintain_order="left"))
    # one row per series: its best, its end and since when it has been low;
    # rows are sorted by series and epoch, so the epoch after the last one
    # above the bound is the next row's (a shift, no window)
    group = [*keys, "kind", "data"]
    series = (rows.with_columns(_after=pl.when(v > t.class_collapse_low).then(e.shift(-1)))
              .group_by("_sid", maintain_order=True)
              .agg(*[pl.col(c).first() for c in (*keys, "metric", "data", "kind", "bg")],
                   n=pl.len(), best=v.max(), best_epoch=e.get(v.arg_max()), last=v.last(),
                   last_epoch=e.last(), since=pl.col("_after").max())
              .filter(pl.col("data").is_in(["training", "validation"]))
              # the last epoch of any class of the score, background included
              .with_columns(end=pl.col("last_epoch").max().over(group))
              .filter(~pl.col("bg"))
              # validation when the run has that score on it, else training
              .with_columns(_val=(pl.col("data") == "validation").any().over([*keys, "kind"]))
              .filter((pl.col("data") == "validation") | ~pl.col("_val"))
              .drop("_val").collect())
    lost = series.filter((pl.col("n") >= t.min_epochs) & (pl.col("best") >= t.class_collapse_best)
                         & (pl.col("last") <= t.class_collapse_low)
                         & (pl.col("last_epoch") == pl.col("end")))
    if lost.is_empty():
        return []
    # the other foreground classes of the score, at the lost class's best and
    # last epochs: one that held, above the foreground bound at the end
    at = rows.select("_sid", "epoch", "value")
    held = (lost.lazy().select(*group, "metric", "best_epoch", "last_epoch")
            .join(series.lazy().select(*group, "_sid", o_metric="metric"), on=group,
                  how="inner")
            .filter(pl.col("o_metric") != pl.col("metric"))
            .join(at.rename({"value": "o_at_best"}), left_on=["_sid", "best_epoch"],
                  right_on=["_sid", "epoch"], how="inner")
            .join(at.rename({"value": "o_end"}), left_on=["_sid", "last_epoch"],
                  right_on=["_sid", "epoch"], how="inner")
            .filter((pl.col("o_end") > t.collapse_foreground)
                    & (pl.col("o_end") >= pl.col("o_at_best")
                       - t.class_collapse_hold * pl.col("o_at_best").abs()))
            .sort([*group, "metric", "o_end"], descending=[False] * (len(group) + 1) + [True])
            .group_by([*group, "metric"], maintain_order=True)
            .agg(pl.col("o_metric", "o_at_best", "o_end").first()))
    # the run's loss of the same data, at the lost class's best and last epochs
    loss_of = pl.when(pl.col("data") == "validation").then("validation").otherwise("training")
    loss = (lost.lazy().select(*keys, "data", "metric", "best_epoch", "last_epoch")
            .join(f.pair, on=keys, how="inner")
            .filter(((e == pl.col("best_epoch")) | (e == pl.col("last_epoch")))
                    & loss_of.is_not_null())
            .group_by([*keys, "data", "metric"])
            .agg(l_at_best=loss_of.filter(e == pl.col("best_epoch")).first(),
                 l_end=loss_of.filter(e == pl.col("last_epoch")).first()))
    at_best, end = pl.col("l_at_best"), pl.col("l_end")
    both = at_best.is_not_null() & end.is_not_null()
    found = (lost.lazy().join(held, on=[*group, "metric"], how="inner")
             .join(loss, on=[*keys, "data", "metric"], how="left")
             .join(f.primary.lazy(), on=keys, how="left")
             .filter(~both | (end <= at_best + t.class_collapse_hold * at_best.abs())))
    loss_words = (pl.when(both)
                  .then(pl.format(" while {} {} {} ({} -> {}) and", pl.col("data"),
                                  pl.col("loss"),
                                  pl.when(end < at_best).then(pl.lit("kept improving"))
                                  .otherwise(pl.lit("held")), sig(at_best), sig(end)))
                  .otherwise(pl.lit(" while")))
    return [finding(
        found, pl.col("since"), pl.col("metric"), pl.col("data"),
        pl.format("{} {} fell from {} at epoch {} to {} at epoch {}{} {} {} ({} -> {})",
                  pl.col("data"), pl.col("metric"), sig(pl.col("best")), pl.col("best_epoch"),
                  sig(pl.col("last")), pl.col("last_epoch"), loss_words, pl.col("o_metric"),
                  pl.when(pl.col("o_end") > pl.col("o_at_best")).then(pl.lit("rose"))
                  .otherwise(pl.lit("held")), sig(pl.col("o_at_best")), sig(pl.col("o_end"))))]


def _class_scores(f: Features) -> pl.DataFrame:
    """The per-class score names of the runs (metric, ``cls``, ``kind``,
    ``bg``): :attr:`Features.class_scores` (Dice, IoU) and the per-class
    accuracies (:data:`ACCURACY`), one row per distinct name."""
    names = f.ids.select(pl.col("metric").unique())
    acc = (names.with_columns(cls=pl.col("metric").str.extract(ACCURACY, 1),
                              kind=pl.col("metric").str.extract(ACCURACY, 2))
           .filter(pl.col("cls").is_not_null()
                   & ~pl.col("cls").str.to_lowercase().is_in(list(NOT_A_CLASS)))
           .with_columns(bg=pl.col("cls").map_elements(is_background, return_dtype=pl.Boolean)))
    known = f.class_scores.select("metric", "cls", "kind", "bg")
    return pl.concat([known, acc.select(known.columns)], how="vertical_relaxed").unique(
        "metric", maintain_order=True)


def _candidates(f: Features, classes: pl.DataFrame, t: Thresholds) -> pl.Series:
    """The runs that may have lost a class: a foreground score series that
    reached ``class_collapse_best`` and ends at most ``class_collapse_low``.
    Two aggregations over every score series rule out almost every run; the
    rule then reads the rows of the few left."""
    foreground = classes.filter(~pl.col("bg"))["metric"]
    v = pl.col("value")
    ends = (f.long.lazy().filter(pl.col("metric").is_in(foreground.implode())
                                 & v.is_not_null() & v.is_finite())
            .group_by("_sid").agg(best=v.max(), last=v.last())
            .filter((pl.col("best") >= t.class_collapse_best)
                    & (pl.col("last") <= t.class_collapse_low))
            .join(f.ids.lazy().select("_sid", *KEYS), on="_sid", how="inner"))
    return ends.select(pl.col(KEYS[0]).unique()).collect().to_series()
