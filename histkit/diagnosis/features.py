"""What the history rules read, computed once for every run of a diagnosis.

:func:`series_features` summarises each loss-like series in one polars pass
(first, last, best, running minimum, jumps, the tail...); :class:`Features`
holds those with what each run is (its loss series, its number of classes,
what its name says) and the per-epoch tables a few rules need (the loss,
training and validation side by side; the per-class scores). Rules are
expressions over these tables.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Iterable

import polars as pl

from ..metrics import is_loss_like
from .thresholds import THRESHOLDS, Thresholds

__all__ = ["Features", "build_features", "series_features", "infer_classes",
           "double_softmax_floor", "is_background", "with_series_id", "series_ids",
           "drop_repeated_epochs", "finding", "sig", "pct", "drop", "ln_k", "near_chance", "KEYS",
           "CLASS_SCORE", "AGGREGATES"]

KEYS = ["_rid"]  # every table is keyed by one integer per run


def double_softmax_floor(classes: int) -> float:
    """The lowest loss a from-logits cross-entropy can reach when its input is
    already a softmax: inputs in [0, 1] give at best ``e / (e + K - 1)`` for
    the true class, so the loss stays above ``ln(1 + (K - 1) / e)``."""
    return math.log1p((classes - 1) / math.e)


CLASS_SCORE = r"^(.+)_(dice|iou|jaccard)$"
AGGREGATES = {"s", "m", "mean", "soft", "avg", "macro", "micro", "balanced"}


def infer_classes(metrics: Iterable[str]) -> int | None:
    """The number of classes from per-class score names (``background_dice``,
    ``vsat_dice``, ``scat_dice`` -> 3); None when the names do not say."""
    found: dict[str, set[str]] = {}
    for m in metrics:
        hit = re.match(CLASS_SCORE, m)
        if hit and hit.group(1).lower() not in AGGREGATES:
            found.setdefault(hit.group(2), set()).add(hit.group(1))
    best = max(found.values(), key=len, default=set())
    return len(best) if len(best) >= 2 else None


def is_background(name: str) -> bool:
    low = name.lower()
    return low.startswith(("background", "bg_", "back_")) or low in ("bg",)


def with_series_id(long: pl.DataFrame, series: list[str]) -> pl.DataFrame:
    """``long`` (sorted by ``series``) with ``_sid``, one sorted integer per
    series from 0: windows and group-bys on it take half the time of those on
    the (run, metric, data) strings."""
    return long.with_columns(_sid=pl.struct(series).rle_id().set_sorted())


def series_ids(long: pl.DataFrame, series: list[str]) -> pl.LazyFrame:
    """One row per series of ``long`` (sorted by ``series``): ``_sid`` (as
    :func:`with_series_id` numbers it) and the ``series`` columns."""
    ids = long.lazy().select(pl.struct(series).rle().struct.field("value")).unnest("value")
    return ids.with_row_index("_sid")


def drop_repeated_epochs(long: pl.DataFrame) -> pl.DataFrame:
    """``long`` (sorted, with ``_sid``) keeping the last row of an epoch a
    series repeats, as the readers do with a resumed log; a warning says so."""
    import warnings

    from ..errors import HistkitWarning

    sid, e = pl.col("_sid"), pl.col("epoch")
    repeated = (sid == sid.shift(-1)) & (e == e.shift(-1))
    n = long.select(repeated.sum()).item()
    if not n:
        return long
    warnings.warn(f"{n} repeated epoch row(s) in a series (a resumed log, or runs without "
                  f"a run or path column?); the last of each is diagnosed", HistkitWarning,
                  stacklevel=3)
    return long.filter(~repeated.fill_null(False))


def series_features(long: pl.DataFrame, by: list[str],
                    thresholds: Thresholds = THRESHOLDS) -> pl.DataFrame:
    """One row per (run, metric, data) series: the numbers the rules read.

    ``long`` must be sorted by ``by``, metric, data, epoch. Conditions are
    computed as columns first and aggregated with plain min/max, polars'
    fast group-by path (a filter inside an aggregation is far slower)."""
    series = [*by, "metric", "data"]
    v, e = pl.col("value"), pl.col("epoch")
    s = "_sid"
    long = with_series_id(long, series)

    def where(cond, then=e):
        return pl.when(cond).then(then)

    ids = series_ids(long, series)
    first_of_series = pl.col(s).is_first_distinct()  # sorted: where a series starts
    # missing values (NaN in a CSV) from some epoch to the end of the series:
    # the last null run's first epoch, when the series ends in it; and the
    # first infinite value (diagnose looks for that in every series itself)
    null_run = v.is_null() & (v.shift(1).is_not_null() | first_of_series)
    tail_missing = (long.lazy().with_columns(_m=where(null_run), _i=where(v.is_infinite()))
                    .group_by(s, maintain_order=True)
                    .agg(_m=pl.col("_m").max(), _ends_null=v.last().is_null(),
                         inf_from=pl.col("_i").min())
                    .select(s, missing_from=pl.when("_ends_null").then("_m"), inf_from="inf_from"))
    tail_missing = ids.join(tail_missing, on=s, how="left", maintain_order="left")
    idx = pl.int_range(pl.len()).over(s)
    n = pl.len().over(s)
    # collected here: polars' lazy plan evaluates these windows more slowly
    frame = long.filter(v.is_not_null() & v.is_finite()).with_columns(
        _idx=idx, _n=n, _cm=v.cum_min().over(s), _first=v.first().over(s),
        _min=v.min().over(s), _max=v.max().over(s))
    # the running minimum before each row: shifted without a window (sorted)
    frame = frame.with_columns(
        _cm=pl.when(~first_of_series).then(pl.col("_cm").shift(1)).abs()).lazy()
    late = pl.col("_idx") == pl.min_horizontal(pl.lit(2), pl.col("_n") // 5)  # past warm-up
    tail_from = pl.col("_n") - pl.max_horizontal(pl.lit(3), pl.col("_n") // 5)
    tail = pl.col("_idx") >= tail_from
    # an explosion is a rise: above the start and far above the running
    # minimum, of a series that stays positive (a ratio means nothing across 0)
    rising = (v > pl.col("_first")) & (pl.col("_min") > 0)
    prev = pl.when(pl.col(s) == pl.col(s).shift(1)).then(v.shift(1))  # sorted: no window
    jump = pl.when((prev > 0) & (v > prev) & (v > 1)).then(v / prev)  # upward only
    exploded = rising & (v > pl.col("_cm") * thresholds.explode_ratio)
    frame = frame.with_columns(
        _jump=jump, _jump_e=where(jump >= thresholds.jump_ratio),
        _jump_base=pl.when(jump >= thresholds.jump_ratio).then(prev))
    frame = frame.with_columns(
        _explode=where(rising, v / pl.col("_cm")),
        _explode_e=where(exploded), _explode_base=pl.when(exploded).then(pl.col("_cm")),
        _min_e=where(v == pl.col("_min")), _max_e=where(v == pl.col("_max")),
        _late=where(late, v), _tail_start=where(pl.col("_idx") == tail_from, v),
        _tail_v=where(tail, v), _tail_e=where(tail))
    agg = frame.group_by(s, maintain_order=True).agg(
        n=pl.len(), first_epoch=e.first(), last_epoch=e.last(), first=v.first(),
        last=v.last(), min=v.min(), max=v.max(), median=v.median(),
        min_epoch=pl.col("_min_e").min(), max_epoch=pl.col("_max_e").min(),
        # diverged: the largest jump above the running minimum, past the start value
        explode=pl.col("_explode").max(), explode_epoch=pl.col("_explode_e").min(),
        # the running minimum before the first explosion (it only falls) and the
        # value before the first jump: what "came back" is measured against
        explode_base=pl.col("_explode_base").max(),
        jump=pl.col("_jump").max(), jump_epoch=pl.col("_jump_e").min(),
        jump_base=pl.col("_jump_base").drop_nulls().first(),
        late_start=pl.col("_late").max(), tail_start=pl.col("_tail_start").max(),
        tail_min=pl.col("_tail_v").min(), tail_max=pl.col("_tail_v").max(),
        tail_epoch=pl.col("_tail_e").min())
    # every series, even one without a single finite value
    return tail_missing.join(agg, on=s, how="left", maintain_order="left").drop(s).collect()


def _run_hints(runs: list[str]) -> pl.DataFrame:
    """What a run's name says (histkit's grammar): its loss and dropout."""
    import warnings

    from ..names import parse_run_name

    rows = []
    for r in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            name = parse_run_name(str(r)) if r is not None else None
        valid = name is not None and name.valid
        rows.append((name.loss if valid else None, name.dropout if valid else None))
    return pl.DataFrame(rows, schema={"loss_kind": pl.String, "dropout": pl.Float64},
                        orient="row")


def sig(expr: pl.Expr) -> pl.Expr:
    """A number as short text (4 significant digits); only found rows pay."""
    return expr.map_elements(lambda x: f"{x:.4g}", return_dtype=pl.String)


def pct(expr: pl.Expr) -> pl.Expr:
    """A fraction as a percentage with one decimal."""
    return (expr * 100).round(1).cast(pl.String) + "%"


def finding(frame: pl.LazyFrame | pl.DataFrame, epoch, metric, data,
            evidence: pl.Expr) -> pl.LazyFrame:
    """Findings of a rule: per run (``_rid``) of ``frame``, the epoch, metric,
    data and evidence (expressions, or values for every row)."""
    return frame.lazy().select(
        *KEYS, pl.lit(epoch).cast(pl.Int64).alias("epoch")
        if not isinstance(epoch, pl.Expr) else epoch.cast(pl.Int64).alias("epoch"),
        (metric if isinstance(metric, pl.Expr) else pl.lit(metric)).cast(pl.String)
        .alias("metric"),
        (data if isinstance(data, pl.Expr) else pl.lit(data)).cast(pl.String).alias("data"),
        evidence.alias("evidence"))




@dataclasses.dataclass
class Features:
    """What the history rules read, for every run at once (each table keyed
    by ``_rid``, one integer per run).

    ``long``: every metric row, sorted by run, metric, data, epoch, with its
    series id ``_sid``; ``ids``: one row per series (``_sid``, ``_rid``,
    metric, data); ``lossy``: the loss-like metric names; ``class_scores``:
    the per-class score names (metric, ``cls``, ``kind``, ``bg``);
    ``primary``: each run's loss (``loss``, else another loss-like series);
    ``info``: per run its loss, K (``k``), whether its loss may be a
    cross-entropy (``ce``) and its dropout; ``series``: the
    :func:`series_features` of every loss-like series joined with ``info``;
    ``infinite``: the series that turn infinite (``inf_from``; ``finite_before``:
    whether they had a finite value before);
    ``loss_rows``: the rows of the runs' losses; ``pair``: per run and epoch
    the training and validation loss side by side."""

    long: pl.DataFrame
    ids: pl.DataFrame
    lossy: pl.Series
    class_scores: pl.DataFrame
    primary: pl.DataFrame
    info: pl.DataFrame
    series: pl.LazyFrame
    infinite: pl.LazyFrame
    loss_rows: pl.LazyFrame
    pair: pl.LazyFrame

    @property
    def train_loss(self) -> pl.LazyFrame:
        """The features of each run's training loss."""
        return self.series.filter((pl.col("metric") == pl.col("loss"))
                                  & (pl.col("data") == "training"))

    @property
    def val_loss(self) -> pl.LazyFrame:
        """The features of each run's validation loss."""
        return self.series.filter((pl.col("metric") == pl.col("loss"))
                                  & (pl.col("data") == "validation"))

    @property
    def scale(self) -> pl.LazyFrame:
        """The scale of a run's improvement: how far its training loss came down."""
        return self.train_loss.select(*KEYS, scale=pl.col("first") - pl.col("min"))

    @property
    def trend(self) -> pl.LazyFrame:
        """The validation loss's features, else the training loss's (a run
        without validation), with ``scale``: from past the warm-up to the best."""
        return (pl.concat([self.val_loss, self.train_loss.join(self.val_loss, on=KEYS,
                                                                how="anti", nulls_equal=True)],
                          how="vertical")
                .with_columns(scale=pl.col("late_start") - pl.col("min")))


def build_features(long: pl.DataFrame, runs: pl.DataFrame, classes: int | None,
                   thresholds: Thresholds = THRESHOLDS) -> Features:
    """The :class:`Features` of ``long`` (``_rid``, metric, data, epoch,
    value; sorted by them, repeated epochs dropped; with ``_sid``); ``runs``
    has each run's ``_rid`` and name (``__name``), ``classes`` is K where the
    caller knows it."""
    keys = KEYS
    ids = series_ids(long, [*keys, "metric", "data"]).collect()
    # one row per run: its loss series, classes, and what its name says
    metric_order = ids.select(*keys, "metric").unique(maintain_order=True)
    # what a metric name says, decided once per distinct name
    names_of = metric_order.select("metric").unique(maintain_order=True)
    lossy = names_of.filter(pl.col("metric").map_elements(is_loss_like,
                                                          return_dtype=pl.Boolean))["metric"]
    class_scores = (names_of.with_columns(cls=pl.col("metric").str.extract(CLASS_SCORE, 1),
                                          kind=pl.col("metric").str.extract(CLASS_SCORE, 2))
                    .filter(pl.col("cls").is_not_null()
                            & ~pl.col("cls").str.to_lowercase().is_in(list(AGGREGATES)))
                    .with_columns(bg=pl.col("cls").map_elements(is_background,
                                                                return_dtype=pl.Boolean)))
    losses = metric_order.filter(pl.col("metric").is_in(lossy.implode()))
    primary = (losses.with_columns(rank=(pl.col("metric") != "loss").cast(pl.Int8))
               .sort("rank", maintain_order=True).group_by(keys, maintain_order=True)
               .agg(loss=pl.col("metric").first()))
    # K from each distinct set of metric names (a sweep's runs share a few),
    # the set spelled as its sorted names joined by a separator no name holds
    sets = metric_order.group_by(keys, maintain_order=True).agg(
        _set=pl.col("metric").sort().str.join("\x1f"))
    k_of = {m: infer_classes(m.split("\x1f")) for m in sets["_set"].unique().to_list()}
    inferred = sets.select(*keys, k=pl.col("_set").replace_strict(k_of, return_dtype=pl.Int64))
    hints = runs.select(keys).hstack(_run_hints(runs["__name"].to_list()))
    info = (primary.join(inferred, on=keys, how="left", nulls_equal=True)
            .join(hints, on=keys, how="left", nulls_equal=True)
            .with_columns(k=pl.lit(classes, pl.Int64) if classes is not None
                          else pl.col("k").cast(pl.Int64),
                          ce=pl.col("loss_kind").is_null() | (pl.col("loss_kind") == "ce")))
    # the features of loss-like series (a fifth of a segmentation history's rows)
    # and where any series turns infinite: all the rules read of single series
    loss_like = long.filter(pl.col("metric").is_in(lossy.implode()))
    series = series_features(loss_like, keys, thresholds).lazy().join(
        info.lazy(), on=keys, how="inner", nulls_equal=True, maintain_order="left")
    v = pl.col("value")
    inf_sids = long.lazy().filter(v.is_infinite()).select("_sid").unique()
    infinite = (long.lazy().join(inf_sids, on="_sid", how="semi").group_by("_sid")
                .agg(inf_from=pl.col("epoch").filter(v.is_infinite()).min(),
                     _finite=pl.col("epoch").filter(v.is_finite()).min())
                .select("_sid", "inf_from",
                        finite_before=(pl.col("_finite") < pl.col("inf_from")).fill_null(False)))
    infinite = (ids.lazy().join(infinite, on="_sid", how="inner", maintain_order="left")
                .join(info.lazy(), on=keys, how="inner", nulls_equal=True,
                      maintain_order="left"))
    # per epoch: the run's loss, training and validation side by side
    loss_rows = loss_like.lazy().filter(pl.col("metric").is_in(primary["loss"].unique()
                                                               .implode()))
    loss_points = (loss_rows.join(primary.lazy(), on=keys, nulls_equal=True)
                   .filter(pl.col("metric") == pl.col("loss"))
                   .filter(pl.col("value").is_not_null() & pl.col("value").is_finite()))
    pair = (loss_points.filter(pl.col("data") == "training")
            .select(*keys, "epoch", training="value")
            .join(loss_points.filter(pl.col("data") == "validation")
                  .select(*keys, "epoch", validation="value"),
                  on=[*keys, "epoch"], how="full", coalesce=True)
            .sort([*keys, "epoch"]).collect().lazy())
    return Features(long, ids, lossy, class_scores, primary, info, series, infinite,
                    loss_rows, pair)


# expressions over a row of Features.series that several rules read

def drop() -> pl.Expr:
    """How far a series came down from its first value to its best, as a
    fraction of the first."""
    return (pl.col("first") - pl.col("min")) / pl.col("first").abs()


def ln_k() -> pl.Expr:
    """ln K, the loss of a cross-entropy that guesses at chance among K classes."""
    return pl.col("k").cast(pl.Float64).log()


def near_chance(t: Thresholds) -> pl.Expr:
    """A cross-entropy (by the run's name, or unknown) whose first value is
    within ``t.near_ln_k`` of ln K."""
    return (pl.col("k").is_not_null() & pl.col("ce")
            & ((pl.col("first") - ln_k()).abs() <= t.near_ln_k * ln_k()))
