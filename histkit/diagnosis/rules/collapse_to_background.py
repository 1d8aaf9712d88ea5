"""``collapse_to_background``: the network predicts background only."""

from __future__ import annotations

import polars as pl

from ..features import KEYS, Features, finding, sig
from ..registry import rule
from ..thresholds import Thresholds


@rule("collapse_to_background", severity="error",
      thresholds=("collapse_background", "collapse_foreground"),
      advice="the network predicts background only: use a Dice or class-weighted loss, or "
             "sample more foreground")
def collapse_to_background(f: Features, t: Thresholds) -> list[pl.LazyFrame]:
    """What it detects: at the last epoch the background's score
    (``background_dice``, ``bg_iou``, ...) is at least
    ``collapse_background`` and every foreground score of that kind at most
    ``collapse_foreground``; the finding names the epoch from which that has
    held. Validation scores when the run has them, else training.

    Why it matters: with a class imbalance (fat is a few percent of the
    pixels) a loss can fall to a low value by predicting background
    everywhere, so the loss alone looks fine.

    Example: a BCE UNet on sparse masks: "background_dice is 0.9714 while
    every foreground dice is at most 0.039 (last epoch)".
    """
    keys = KEYS
    scores = (f.long.lazy().filter(_candidates(f, t))
              .join(f.class_scores.lazy(), on="metric")
              .with_columns(_bgv=pl.when("bg").then("value"),
                            _fgv=pl.when(~pl.col("bg")).then("value"),
                            _bgm=pl.when("bg").then("metric")))
    per_epoch = (scores.group_by([*keys, "kind", "data", "epoch"])
                 .agg(bg=pl.col("_bgv").max(), fg=pl.col("_fgv").max(),
                      bg_metric=pl.col("_bgm").min())
                 .filter(pl.col("bg").is_not_null() & pl.col("fg").is_not_null())
                 .sort([*keys, "kind", "data", "epoch"])
                 .with_columns(c=(pl.col("bg") >= t.collapse_background)
                               & (pl.col("fg") <= t.collapse_foreground)))
    group = [*keys, "kind", "data"]
    since = (per_epoch.group_by(group, maintain_order=True).agg(
        last=pl.col("c").last(), bg=pl.col("bg").last(), fg=pl.col("fg").last(),
        bg_metric=pl.col("bg_metric").last(),
        since=pl.col("epoch").filter(~pl.col("c")).max(),
        first=pl.col("epoch").first(), n=pl.len())
        .filter(pl.col("last"))
        # validation when the run has it, else training
        .sort([*keys, "kind", "data"], descending=[False] * len(keys) + [False, True])
        .group_by([*keys, "kind"], maintain_order=True).first())
    nxt = per_epoch.select(*group, "epoch")
    since = since.with_columns(since=pl.coalesce(pl.col("since"), pl.col("first") - 1))
    since = since.join(nxt, on=group, how="left", nulls_equal=True).filter(
        pl.col("epoch") > pl.col("since")).group_by(
        [*group, "bg", "fg", "bg_metric"], maintain_order=True).agg(
        start=pl.col("epoch").min())
    return [finding(
        since, pl.col("start"), pl.col("bg_metric"), pl.col("data"),
        pl.format("{} is {} while every foreground {} is at most {} (last epoch)",
                  pl.col("bg_metric"), sig(pl.col("bg")), pl.col("kind"), sig(pl.col("fg"))))]


def _candidates(f: Features, t: Thresholds) -> pl.Expr:
    """Rows of the runs that may have collapsed to background; the others are
    ruled out from each series' last value, without the per-epoch table.

    A (run, kind, data) group is ruled out when it lacks a background or a
    foreground score, or when all its series end (last non-null value) at the
    same epoch E and the largest foreground value there is above the
    foreground bound: the per-epoch maximum at E, taken over these values, is
    at least as large, so E, the group's last epoch, is not collapsed."""
    v = pl.col("value")
    last = (f.long.lazy().filter(v.is_not_null())
            .group_by("_sid").agg(le=pl.col("epoch").last(), lv=v.last())
            .join(f.ids.lazy(), on="_sid")
            .join(f.class_scores.lazy().select("metric", "kind", "bg"), on="metric")
            .group_by(["_rid", "kind", "data"])
            .agg(has_bg=pl.col("bg").any(), has_fg=(~pl.col("bg")).any(),
                 ends=pl.col("le").n_unique(), fg=pl.col("lv").filter(~pl.col("bg")).max())
            .filter(pl.col("has_bg") & pl.col("has_fg")
                    & ~((pl.col("ends") == 1) & (pl.col("fg") > t.collapse_foreground)))
            .select("_rid").unique().collect())
    return v.is_not_null() & pl.col("_rid").is_in(last["_rid"].implode())
