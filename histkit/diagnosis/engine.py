"""Diagnosis: did a run fail, and why, from its history alone.

``diagnose(hist)`` returns one row per finding: ``run, rule, severity, epoch,
metric, data, evidence, advice``, a run's rows ordered by severity (error
first), then epoch, so its first row is what to read first. A healthy run has
no rows. The loss-like series of every run are summarised in one polars
pass (:func:`series_features`); the rules are expressions over that summary,
over the runs' loss per epoch, and over their per-class scores.

The rules and their thresholds (:class:`Thresholds`, documented in the
README) were chosen on the labelled real trainings of
``bench/diagnose_devset.py`` and are scored by ``bench/diagnose_eval.py``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable

import polars as pl

from ..metrics import is_loss_like, metric_filter, parse_telemetry
from ..errors import OptionError
from ..readers import as_polars, to_history

__all__ = ["diagnose", "RULES", "SEVERITIES", "Thresholds", "THRESHOLDS", "FINDING_COLUMNS",
           "series_features", "double_softmax_floor", "infer_classes", "verdicts",
           "VERDICTS"]

SEVERITIES = ("error", "warning", "info")
FINDING_COLUMNS = ("run", "rule", "severity", "epoch", "metric", "data", "evidence", "advice")


@dataclasses.dataclass(frozen=True)
class Rule:
    severity: str
    advice: str


#: every rule, in the order findings of one severity and epoch are listed
RULES: dict[str, Rule] = {
    "diverged": Rule("error", "lower the learning rate (try 10x lower), clip gradients, and "
                              "check the input for NaN or unnormalised values"),
    "double_softmax": Rule("error", "the output already went through softmax and the loss "
                                    "applies it again: drop the softmax layer, or use the "
                                    "loss with from_logits=False"),
    "stuck": Rule("error", "the network learns nothing: raise the learning rate, check that "
                           "labels match the loss (one-hot for categorical, integer labels "
                           "for sparse) and that the output activation matches from_logits"),
    "collapse_to_background": Rule("error", "the network predicts background only: use a "
                                            "Dice or class-weighted loss, or sample more "
                                            "foreground"),
    "one_class_predictions": Rule("error", "the network predicts one class everywhere: check "
                                           "that the labels reach the loss (mask values 0..K-1), "
                                           "use a Dice or class-weighted loss, and lower the "
                                           "learning rate if it collapsed after a jump"),
    "overfitting": Rule("warning", "keep the weights of the best validation epoch (early "
                                   "stopping), add data augmentation, dropout or weight decay"),
    "oscillating": Rule("warning", "the learning rate is probably too high: lower it or add "
                                   "a schedule (e.g. ReduceLROnPlateau)"),
    "val_better_than_train": Rule("warning", "validation beats training without dropout: "
                                             "check for a leak (validation images in the "
                                             "training set) or swapped columns"),
    "exploding_gradients": Rule("warning", "clip gradients (torch.nn.utils.clip_grad_norm_), "
                                           "lower the learning rate, keep batch normalisation"),
    "vanishing_gradients": Rule("warning", "the gradients died away: look for dead ReLUs and "
                                           "saturated outputs (below), lower a learning rate "
                                           "that blew the weights up, or use LeakyReLU"),
    "dead_relu": Rule("warning", "a ReLU block outputs zero everywhere, usually after too "
                                 "large a step: lower the learning rate, use LeakyReLU, or "
                                 "train again from a fresh initialisation"),
    "saturated": Rule("warning", "the outputs are pinned at 0 or 1 while wrong, so the "
                                 "sigmoid or softmax passes no gradient: lower the learning "
                                 "rate and check that the loss gets logits and right labels"),
    "unnormalized_input": Rule("warning", "normalise the input: clip outliers (e.g. to the "
                                          "1st-99th percentile) and z-score each image; a few "
                                          "extreme pixels or raw intensities leave the network "
                                          "a tiny or a huge range"),
    "too_slow": Rule("info", "still improving at the last epoch: train longer or raise the "
                             "learning rate"),
    "wasted_epochs": Rule("info", "the run stopped improving long before its end: fewer "
                                  "epochs (or early stopping) give the same result"),
}


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The numbers behind each rule (see the README's diagnosis table)."""

    explode_ratio: float = 10.0      # diverged: a loss above 10x its running minimum ...
    jump_ratio: float = 1000.0       # ... or 1000x apart from one epoch to the next,
    absurd_ratio: float = 1000.0     # ... or a maximum 1000x its median and
    absurd_level: float = 100.0      # ... above 100 (no segmentation loss gets there)
    stuck_drop: float = 0.05         # stuck: best loss within 5% of the first
    stuck_drop_ce: float = 0.25      # ... 25% for a cross-entropy that starts near ln K
    near_ln_k: float = 0.15          # "near ln K": within 15%
    floor_slack: float = 0.01        # double_softmax: never more than 1% below the floor,
    floor_flat: float = 0.02         # ... flat within 2% over the last 20% of epochs
    collapse_background: float = 0.8  # collapse: background score at least 0.8 ...
    collapse_foreground: float = 0.1  # ... every foreground score at most 0.1
    overfit_rise: float = 0.10       # overfitting: validation loss 10% above its minimum
    overfit_epochs: int = 3          # ... for at least 3 epochs after it,
    overfit_scale: float = 0.05      # ... and by 5% of the training loss's improvement
    oscillation_rebound: float = 0.10  # oscillating: the validation loss bounces up by
    oscillation_peaks: int = 3         # 10% of the training loss's improvement, 3 times
    slow_tail: float = 0.05          # too_slow: the last 20% of epochs give 5% of the gain
    wasted_within: float = 0.02      # wasted: within 2% of the improvement of the best
    wasted_fraction: float = 0.5     # ... in the first half of the run ...
    wasted_epochs: int = 10          # ... and at least 10 epochs before the end
    val_better: float = 0.40         # val_better_than_train: 40% lower loss ...
    val_better_share: float = 0.5    # ... in half of the epochs or more
    min_epochs: int = 3              # no trend rule on fewer epochs
    # rules on probes (histkit's trainer; see histkit.diagnosis.probe_rules)
    one_class_share: float = 0.99    # one_class_predictions: one class holds 99% of the
    one_class_true: float = 0.95     # ... predicted pixels but at most 95% of the true ones
    explode_grad: float = 100.0      # exploding_gradients: an epoch's gradient norm at 100
                                     # or more (healthy runs: at most 1.5), or 100x its first
    vanish_grad: float = 1e-3        # vanishing_gradients: at most 1/1000 of its first
    dead_zeros: float = 0.95         # dead_relu: a block zero on 95% of its values
    saturated: float = 0.95          # saturated: 95% of the output within 1e-3 of 0 or 1 ...
    saturated_gap: float = 0.03      # ... while a class share is 3 points off the truth
    input_squeezed: float = 0.05     # unnormalized_input: the 1st-99th percentile span
                                     # under 5% of the whole range (spikes), or ...
    input_large: float = 20.0        # ... a 1st or 99th percentile beyond +-20 (raw values)


THRESHOLDS = Thresholds()


def double_softmax_floor(classes: int) -> float:
    """The lowest loss a from-logits cross-entropy can reach when its input is
    already a softmax: inputs in [0, 1] give at best ``e / (e + K - 1)`` for
    the true class, so the loss stays above ``ln(1 + (K - 1) / e)``."""
    return math.log1p((classes - 1) / math.e)


_CLASS_SCORE = r"^(.+)_(dice|iou|jaccard)$"
_AGGREGATES = {"s", "m", "mean", "soft", "avg", "macro", "micro", "balanced"}


def infer_classes(metrics: Iterable[str]) -> int | None:
    """The number of classes from per-class score names (``background_dice``,
    ``vsat_dice``, ``scat_dice`` -> 3); None when the names do not say."""
    import re

    found: dict[str, set[str]] = {}
    for m in metrics:
        hit = re.match(_CLASS_SCORE, m)
        if hit and hit.group(1).lower() not in _AGGREGATES:
            found.setdefault(hit.group(2), set()).add(hit.group(1))
    best = max(found.values(), key=len, default=set())
    return len(best) if len(best) >= 2 else None


def _is_background(name: str) -> bool:
    low = name.lower()
    return low.startswith(("background", "bg_", "back_")) or low in ("bg",)


def _with_series_id(long: pl.DataFrame, series: list[str]) -> pl.DataFrame:
    """``long`` (sorted by ``series``) with ``_sid``, one sorted integer per
    series from 0: windows and group-bys on it take half the time of those on
    the (run, metric, data) strings."""
    return long.with_columns(_sid=pl.struct(series).rle_id().set_sorted())


def _series_ids(long: pl.DataFrame, series: list[str]) -> pl.LazyFrame:
    """One row per series of ``long`` (sorted by ``series``): ``_sid`` (as
    :func:`_with_series_id` numbers it) and the ``series`` columns."""
    ids = long.lazy().select(pl.struct(series).rle().struct.field("value")).unnest("value")
    return ids.with_row_index("_sid")


def _drop_repeated_epochs(long: pl.DataFrame) -> pl.DataFrame:
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
    long = _with_series_id(long, series)

    def where(cond, then=e):
        return pl.when(cond).then(then)

    ids = _series_ids(long, series)
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
    # collected here: polars' lazy plan evaluates these windows twice as slowly
    frame = long.filter(v.is_not_null() & v.is_finite()).with_columns(
        _idx=idx, _n=n, _cm=v.cum_min().over(s), _first=v.first().over(s),
        _min=v.min().over(s), _max=v.max().over(s))
    # the running minimum before each row: shifted without a window (sorted)
    frame = frame.with_columns(
        _cm=pl.when(~first_of_series).then(pl.col("_cm").shift(1)).abs()).lazy()
    late = pl.col("_idx") == pl.min_horizontal(pl.lit(2), pl.col("_n") // 5)  # past warm-up
    tail_from = pl.col("_n") - pl.max_horizontal(pl.lit(3), pl.col("_n") // 5)
    tail = pl.col("_idx") >= tail_from
    rising = v > pl.col("_first")
    prev = pl.when(pl.col(s) == pl.col(s).shift(1)).then(v.shift(1))  # sorted: no window
    hi, lo = pl.max_horizontal(v, prev), pl.min_horizontal(v, prev)
    jump = pl.when((lo > 0) & (hi > 1)).then(hi / lo)
    frame = frame.with_columns(
        _jump=jump, _jump_e=pl.when(jump >= thresholds.jump_ratio)
        .then(pl.when(v >= prev).then(e).otherwise(e - 1)))
    frame = frame.with_columns(
        _explode=where(rising, v / pl.col("_cm")),
        _explode_e=where(rising & (v > pl.col("_cm") * thresholds.explode_ratio)),
        _min_e=where(v == pl.col("_min")), _max_e=where(v == pl.col("_max")),
        _late=where(late, v), _tail_start=where(pl.col("_idx") == tail_from, v),
        _tail_v=where(tail, v), _tail_e=where(tail))
    agg = frame.group_by(s, maintain_order=True).agg(
        n=pl.len(), first_epoch=e.first(), last_epoch=e.last(), first=v.first(),
        last=v.last(), min=v.min(), max=v.max(), median=v.median(),
        min_epoch=pl.col("_min_e").min(), max_epoch=pl.col("_max_e").min(),
        # diverged: the largest jump above the running minimum, past the start value
        explode=pl.col("_explode").max(), explode_epoch=pl.col("_explode_e").min(),
        jump=pl.col("_jump").max(), jump_epoch=pl.col("_jump_e").min(),
        late_start=pl.col("_late").max(), tail_start=pl.col("_tail_start").max(),
        tail_min=pl.col("_tail_v").min(), tail_max=pl.col("_tail_v").max(),
        tail_epoch=pl.col("_tail_e").min())
    # every series, even one without a single finite value
    return tail_missing.join(agg, on=s, how="left", maintain_order="left").drop(s).collect()


# ---------------------------------------------------------------------------
# the rules


def _collapse_candidates(long: pl.DataFrame, ids: pl.DataFrame, class_scores: pl.DataFrame,
                         t: Thresholds) -> pl.Expr:
    """Rows of the runs that may have collapsed to background; the others are
    ruled out from each series' last value, without the per-epoch table.

    A (run, kind, data) group is ruled out when it lacks a background or a
    foreground score, or when all its series end (last non-null value) at the
    same epoch E and the largest foreground value there is above the
    foreground bound: the per-epoch maximum at E, taken over these values, is
    at least as large, so E, the group's last epoch, is not collapsed."""
    v = pl.col("value")
    last = (long.lazy().filter(v.is_not_null())
            .group_by("_sid").agg(le=pl.col("epoch").last(), lv=v.last())
            .join(ids.lazy(), on="_sid")
            .join(class_scores.lazy().select("metric", "kind", "bg"), on="metric")
            .group_by(["_rid", "kind", "data"])
            .agg(has_bg=pl.col("bg").any(), has_fg=(~pl.col("bg")).any(),
                 ends=pl.col("le").n_unique(), fg=pl.col("lv").filter(~pl.col("bg")).max())
            .filter(pl.col("has_bg") & pl.col("has_fg")
                    & ~((pl.col("ends") == 1) & (pl.col("fg") > t.collapse_foreground)))
            .select("_rid").unique().collect())
    return v.is_not_null() & pl.col("_rid").is_in(last["_rid"].implode())


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


def _sig(expr: pl.Expr) -> pl.Expr:
    """A number as short text (4 significant digits); only found rows pay."""
    return expr.map_elements(lambda x: f"{x:.4g}", return_dtype=pl.String)


def _pct(expr: pl.Expr) -> pl.Expr:
    return (expr * 100).round(1).cast(pl.String) + "%"


def _finding(frame: pl.LazyFrame | pl.DataFrame, rule: str, epoch, metric, data,
             evidence: pl.Expr, keys: list[str]) -> pl.LazyFrame:
    return frame.lazy().select(
        *keys, pl.lit(rule).alias("rule"), pl.lit(epoch).cast(pl.Int64).alias("epoch")
        if not isinstance(epoch, pl.Expr) else epoch.cast(pl.Int64).alias("epoch"),
        (metric if isinstance(metric, pl.Expr) else pl.lit(metric)).cast(pl.String)
        .alias("metric"),
        (data if isinstance(data, pl.Expr) else pl.lit(data)).cast(pl.String).alias("data"),
        evidence.alias("evidence"))


def diagnose(hist, classes: int | None = None, *, rules: Iterable[str] | None = None,
             by: list[str] | None = None, telemetry=(), run: str | None = None,
             probes=True, thresholds: Thresholds = THRESHOLDS) -> pl.DataFrame:
    """Findings about one run or many: ``run, rule, severity, epoch, metric,
    data, evidence, advice`` (key columns such as ``path`` lead).

    ``hist`` is a long table (or a wide one), polars or pandas; ``by`` are its
    run key columns (default: ``path``/``run`` when present). ``classes`` is
    the number of classes K (for the ln K and double-softmax checks); without
    it K comes from per-class score names (``background_dice``...). ``rules``
    keeps only these rule ids. ``run`` names a single history. Rows of a run:
    errors first, then by epoch. No rows: nothing found. A series that
    repeats an epoch is diagnosed with the last row of it (a warning says so).

    ``probes``: the probe rules (:mod:`histkit.diagnosis.probe_rules`) read
    ``<run>.probes/`` beside each ``path`` that has one (``True``, the
    default); ``False`` reads the histories only; a
    :class:`~histkit.probes.RunProbes` gives a single run's, a dict maps a
    ``path`` or ``run`` value to its probes.
    """

    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int)
                                or classes < 2):
        raise OptionError(f"classes must be a whole number of at least 2, got {classes!r}")
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise OptionError(f"unknown rule {unknown[0]!r}; the rules are {', '.join(RULES)}")
    t = thresholds
    long = metric_filter(to_history(as_polars(hist)), parse_telemetry(telemetry))
    if by is None:
        by = [c for c in ("path", "run") if c in long.columns]
    lead = [c for c in by if c not in FINDING_COLUMNS]
    empty = pl.DataFrame(schema={**{k: long.schema[k] for k in lead},
                                 **dict.fromkeys(FINDING_COLUMNS, pl.String),
                                 "epoch": pl.Int64}).select(*lead, *FINDING_COLUMNS)
    if long.is_empty():
        return empty
    # one integer per run, in input order: every group-by and join below is on it
    if by:
        # a run's rows are usually together (one file each): number them by runs
        # of equal keys, and join only when a run comes back further down
        runs = long.select(pl.struct(by).rle().struct.field("value")).unnest("value")
        if runs.is_duplicated().any():
            runs = long.select(by).unique(maintain_order=True).with_row_index("_rid")
            long = long.join(runs, on=by, how="left", nulls_equal=True, maintain_order="left")
        else:
            runs = runs.with_row_index("_rid")
            long = long.with_columns(_rid=pl.struct(by).rle_id())
    else:
        runs = pl.DataFrame({"_rid": [0]}, schema={"_rid": pl.UInt32})
        long = long.with_columns(_rid=pl.lit(0, pl.UInt32))
    if "run" in by:
        names = runs["run"].cast(pl.String).to_list()
    elif "path" in by:
        from ..readers import run_name

        names = [run_name(p) for p in runs["path"].cast(pl.String).to_list()]
    else:
        names = [run] * runs.height
    runs = runs.with_columns(__name=pl.Series(names, dtype=pl.String))
    keys = ["_rid"]
    long = (long.select(keys[0], pl.col("metric").cast(pl.String),
                        pl.col("data").cast(pl.String), "epoch", "value")
            .sort([*keys, "metric", "data", "epoch"], maintain_order=True))
    long = _drop_repeated_epochs(_with_series_id(long, [*keys, "metric", "data"]))
    ids = _series_ids(long, [*keys, "metric", "data"]).collect()

    # one row per run: its loss series, classes, and what its name says
    metric_order = ids.select(*keys, "metric").unique(maintain_order=True)
    # what a metric name says, decided once per distinct name
    names_of = metric_order.select("metric").unique(maintain_order=True)
    lossy = names_of.filter(pl.col("metric").map_elements(is_loss_like,
                                                          return_dtype=pl.Boolean))["metric"]
    class_scores = (names_of.with_columns(cls=pl.col("metric").str.extract(_CLASS_SCORE, 1),
                                          kind=pl.col("metric").str.extract(_CLASS_SCORE, 2))
                    .filter(pl.col("cls").is_not_null()
                            & ~pl.col("cls").str.to_lowercase().is_in(list(_AGGREGATES)))
                    .with_columns(bg=pl.col("cls").map_elements(_is_background,
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
    hints = runs.select(keys).hstack(_run_hints(names))
    info = (primary.join(inferred, on=keys, how="left", nulls_equal=True)
            .join(hints, on=keys, how="left", nulls_equal=True)
            .with_columns(k=pl.lit(classes, pl.Int64) if classes is not None
                          else pl.col("k").cast(pl.Int64),
                          ce=pl.col("loss_kind").is_null() | (pl.col("loss_kind") == "ce")))
    # the features of loss-like series (a fifth of a segmentation history's rows)
    # and where any series turns infinite: all the rules read of single series
    loss_like = long.filter(pl.col("metric").is_in(lossy.implode()))
    feats = series_features(loss_like, keys, t)
    lf = feats.lazy().join(info.lazy(), on=keys, how="inner", nulls_equal=True,
                           maintain_order="left")
    infinite = (long.lazy().filter(pl.col("value").is_infinite()).group_by("_sid")
                .agg(inf_from=pl.col("epoch").min()))
    infinite = (ids.lazy().join(infinite, on="_sid", how="inner", maintain_order="left")
                .join(info.lazy(), on=keys, how="inner", nulls_equal=True,
                      maintain_order="left"))
    loss_f = lf.filter(pl.col("metric") == pl.col("loss"))
    train_loss = loss_f.filter(pl.col("data") == "training")
    val_loss = loss_f.filter(pl.col("data") == "validation")
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
    out: list[pl.LazyFrame] = []
    m, d = pl.col("metric"), pl.col("data")

    if "diverged" in chosen:
        out += [
            _finding(infinite, "diverged",
                     pl.col("inf_from"), m, d,
                     pl.format("{} is infinite from epoch {}", m, pl.col("inf_from")), keys),
            _finding(lf.filter(pl.col("missing_from").is_not_null() & (d == "training")),
                     "diverged", pl.col("missing_from"), m, d,
                     pl.format("{} is NaN or missing from epoch {} to the end{}",
                               m, pl.col("missing_from"),
                               pl.when(pl.col("last").is_not_null())
                               .then(pl.format(" (last value {})", _sig(pl.col("last"))))
                               .otherwise(pl.lit(""))), keys),
            _finding(lf.filter(pl.col("explode_epoch").is_not_null()), "diverged",
                     pl.col("explode_epoch"), m, d,
                     pl.format("{} jumped to {}x its running minimum (above its start {})",
                               m, _sig(pl.col("explode")), _sig(pl.col("first"))), keys),
            _finding(lf.filter((pl.col("max") >= t.absurd_ratio * pl.col("median").abs())
                                  & (pl.col("max") >= t.absurd_level)), "diverged",
                     pl.col("max_epoch"), m, d,
                     pl.format("{} reached {}, {}x its median {}", m, _sig(pl.col("max")),
                               _sig(pl.col("max") / pl.col("median").abs()),
                               _sig(pl.col("median"))), keys),
            _finding(lf.filter(pl.col("jump_epoch").is_not_null()), "diverged",
                     pl.col("jump_epoch"), m, d,
                     pl.format("{} changed {}x from one epoch to the next (max {}, median {})",
                               m, _sig(pl.col("jump")), _sig(pl.col("max")),
                               _sig(pl.col("median"))), keys),
        ]

    drop = (pl.col("first") - pl.col("min")) / pl.col("first").abs()
    ln_k = pl.col("k").cast(pl.Float64).log()
    near_ln_k = (pl.col("k").is_not_null() & pl.col("ce")
                 & ((pl.col("first") - ln_k).abs() <= t.near_ln_k * ln_k))
    if "stuck" in chosen:
        cond = (pl.col("n") >= t.min_epochs) & (
            (drop < t.stuck_drop) | (near_ln_k & (drop < t.stuck_drop_ce)))
        out.append(_finding(
            train_loss.filter(cond), "stuck", pl.col("first_epoch"), m, d,
            pl.format("{} went from {} to at best {} ({} lower) in {} epochs{}", m,
                      _sig(pl.col("first")), _sig(pl.col("min")), _pct(drop), pl.col("n"),
                      pl.when(near_ln_k).then(pl.format("; chance for {} classes is ln {} = {}",
                                                        pl.col("k"), pl.col("k"), _sig(ln_k)))
                      .otherwise(pl.lit(""))), keys))

    if "double_softmax" in chosen:
        floor = (1 + (pl.col("k").cast(pl.Float64) - 1) / math.e).log()
        flat = (pl.col("tail_max") - pl.col("tail_min")) <= t.floor_flat * pl.col("tail_min")
        cond = (pl.col("k").is_not_null() & pl.col("ce") & (pl.col("n") >= t.min_epochs)
                & (drop >= t.stuck_drop_ce) & (pl.col("min") >= floor * (1 - t.floor_slack))
                & (pl.col("min") <= floor + 1) & flat)
        out.append(_finding(
            train_loss.filter(cond), "double_softmax", pl.col("min_epoch"), m, d,
            pl.format("{} is flat at {} from epoch {} and never goes below "
                      "ln(1 + (K-1)/e) = {}, the floor of a softmax fed to a from-logits "
                      "cross-entropy with K = {}", m, _sig(pl.col("min")), pl.col("min_epoch"),
                      _sig(floor), pl.col("k")), keys))

    if "collapse_to_background" in chosen:
        scores = (long.lazy().filter(_collapse_candidates(long, ids, class_scores, t))
                  .join(class_scores.lazy(), on="metric")
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
        nxt = (per_epoch.select(*group, "epoch"))
        since = since.with_columns(
            since=pl.coalesce(pl.col("since"), pl.col("first") - 1))
        since = since.join(nxt, on=group, how="left", nulls_equal=True).filter(
            pl.col("epoch") > pl.col("since")).group_by(
            [*group, "bg", "fg", "bg_metric"], maintain_order=True).agg(
            start=pl.col("epoch").min())
        out.append(_finding(
            since, "collapse_to_background", pl.col("start"), pl.col("bg_metric"), d,
            pl.format("{} is {} while every foreground {} is at most {} (last epoch)",
                      pl.col("bg_metric"), _sig(pl.col("bg")), pl.col("kind"),
                      _sig(pl.col("fg"))), keys))

    # the scale of a run's improvement: how far its training loss came down
    scale = (train_loss.select(*keys, scale=pl.col("first") - pl.col("min")))
    if "overfitting" in chosen:
        best = (pair.filter(pl.col("validation").is_not_null())
                .group_by(keys, maintain_order=True).agg(
                    best_epoch=pl.col("epoch").get(pl.col("validation").arg_min()),
                    best=pl.col("validation").min(),
                    train_at_best=pl.col("training").get(pl.col("validation").arg_min()),
                    last=pl.col("validation").last(), train_last=pl.col("training").last(),
                    n_after=(pl.col("epoch") > pl.col("epoch").get(
                        pl.col("validation").arg_min())).sum(),
                    tail_low=pl.col("validation").tail(t.overfit_epochs).min())
                .join(scale, on=keys, how="left", nulls_equal=True))
        rise = (pl.col("last") - pl.col("best")) / pl.col("best").abs()
        cond = ((pl.col("n_after") >= t.overfit_epochs)
                & (pl.col("tail_low") >= pl.col("best") + t.overfit_rise * pl.col("best").abs())
                & (pl.col("tail_low") - pl.col("best")
                   >= t.overfit_scale * pl.col("scale").fill_null(0))
                & (pl.col("train_last") < pl.col("train_at_best"))
                & ((pl.col("last") - pl.col("train_last"))
                   > (pl.col("best") - pl.col("train_at_best"))))
        nxt = pair.select(*keys, pl.col("epoch").alias("e2"))
        hit = (best.filter(cond).join(nxt, on=keys, nulls_equal=True)
               .filter(pl.col("e2") > pl.col("best_epoch"))
               .group_by(keys, maintain_order=True).agg(pl.all().exclude("e2").first(),
                                                         start=pl.col("e2").min())
               .join(primary.lazy(), on=keys, nulls_equal=True))
        out.append(_finding(
            hit, "overfitting", pl.col("start"), pl.col("loss"), pl.lit("validation"),
            pl.format("validation {} rose from its best {} (epoch {}) to {} (+{}) while "
                      "training {} fell from {} to {}", pl.col("loss"), _sig(pl.col("best")),
                      pl.col("best_epoch"), _sig(pl.col("last")), _pct(rise), pl.col("loss"),
                      _sig(pl.col("train_at_best")), _sig(pl.col("train_last"))), keys))

    if "oscillating" in chosen:
        v = pl.col("validation")
        dv = v.diff().over(keys)
        swings = (pair.filter(v.is_not_null())
                  .with_columns(idx=pl.int_range(pl.len()).over(keys),
                                up=v - v.cum_min().shift(1).over(keys), d=dv,
                                nd=dv.shift(-1).over(keys),
                                vscale=(v.get(pl.min_horizontal(2, pl.len() - 1)) - v.min())
                                .over(keys))
                  .join(scale, on=keys, how="left", nulls_equal=True, maintain_order="left")
                  .with_columns(scale=pl.when(pl.col("scale") > 0).then(pl.col("scale"))
                                .otherwise(pl.col("vscale")))
                  .with_columns(peak=(pl.col("idx") >= 2) & (pl.col("d") > 0)
                                & (pl.col("nd").is_null() | (pl.col("nd") < 0))
                                & (pl.col("up") >= t.oscillation_rebound * pl.col("scale")))
                  .group_by(keys, maintain_order=True)
                  .agg(peaks=pl.col("peak").sum(), start=pl.col("epoch").filter("peak").min(),
                       biggest=pl.col("up").filter("peak").max(),
                       scale=pl.col("scale").first())
                  .join(primary.lazy(), on=keys, nulls_equal=True))
        out.append(_finding(
            swings.filter((pl.col("scale") > 0) & (pl.col("peaks") >= t.oscillation_peaks)),
            "oscillating", pl.col("start"), pl.col("loss"), pl.lit("validation"),
            pl.format("validation {} bounced up {} times by at least {} of the training "
                      "loss's improvement ({}), the largest by {}", pl.col("loss"),
                      pl.col("peaks"), _pct(pl.lit(t.oscillation_rebound)),
                      _sig(pl.col("scale")), _sig(pl.col("biggest"))), keys))

    if "val_better_than_train" in chosen:
        both = pair.filter(pl.col("training").is_not_null() & pl.col("validation").is_not_null())
        better = pl.col("validation") < (1 - t.val_better) * pl.col("training")
        vb = (both.group_by(keys, maintain_order=True).agg(
            n=pl.len(), k=better.sum(), start=pl.col("epoch").filter(better).min(),
            ratio=(pl.col("validation") / pl.col("training")).median())
            .join(info.lazy().select(*keys, "dropout"), on=keys, nulls_equal=True)
            .join(primary.lazy(), on=keys, nulls_equal=True))
        cond = ((pl.col("n") >= t.min_epochs) & (pl.col("k") >= t.val_better_share * pl.col("n"))
                & (pl.col("dropout").fill_null(0) == 0))
        out.append(_finding(
            vb.filter(cond), "val_better_than_train", pl.col("start"), pl.col("loss"),
            pl.lit("validation"),
            pl.format("validation {} is {}% below training in {} of {} epochs "
                      "(median ratio {}) and the run has no dropout", pl.col("loss"),
                      int(t.val_better * 100), pl.col("k"), pl.col("n"),
                      _sig(pl.col("ratio"))), keys))

    # too_slow and wasted_epochs read the validation loss, else the training loss
    trend = (pl.concat([val_loss, train_loss.join(val_loss, on=keys, how="anti",
                                                   nulls_equal=True)], how="vertical")
             .with_columns(scale=pl.col("late_start") - pl.col("min")))
    if "too_slow" in chosen:
        gain = (pl.col("tail_start") - pl.col("tail_min")) / pl.col("scale")
        cond = ((pl.col("n") >= t.min_epochs) & (pl.col("scale") > 0)
                & (pl.col("min_epoch") >= pl.col("tail_epoch")) & (gain >= t.slow_tail))
        out.append(_finding(
            trend.filter(cond), "too_slow", pl.col("last_epoch"), m, d,
            pl.format("{} {} still fell by {} of its improvement in the last {} epochs "
                      "(best at the end: {})", d, m, _pct(gain),
                      pl.col("last_epoch") - pl.col("tail_epoch") + 1, _sig(pl.col("min"))),
            keys))

    if "wasted_epochs" in chosen:
        pts = (loss_rows.join(trend.select(*keys, "metric", "data", "min", "scale", "n",
                                             "last_epoch"),
                                on=[*keys, "metric", "data"], nulls_equal=True)
               .filter(pl.col("value").is_not_null()))
        stop = (pts.filter(pl.col("value") <= pl.col("min") + t.wasted_within * pl.col("scale"))
                .group_by([*keys, "metric", "data"], maintain_order=True)
                .agg(stop=pl.col("epoch").min(), n=pl.col("n").first(),
                     last_epoch=pl.col("last_epoch").first(),
                     scale=pl.col("scale").first()))
        after = pts.join(stop.select(*keys, "metric", "data", "stop"),
                         on=[*keys, "metric", "data"], nulls_equal=True).group_by(
            [*keys, "metric", "data"]).agg(after=(pl.col("epoch") > pl.col("stop")).sum())
        stop = stop.join(after, on=[*keys, "metric", "data"], nulls_equal=True)
        cond = ((pl.col("scale") > 0) & (pl.col("after") >= t.wasted_epochs)
                & (pl.col("after") >= (1 - t.wasted_fraction) * pl.col("n")))
        out.append(_finding(
            stop.filter(cond), "wasted_epochs", pl.col("stop"), m, d,
            pl.format("{} {} was within 2% of its best by epoch {}; the {} epochs after it "
                      "added nothing", d, m, pl.col("stop"), pl.col("after")), keys))

    from .probe_rules import PROBE_RULES

    if probes is not False and any(r in chosen for r in PROBE_RULES):
        rows = _probe_rows(runs, by, probes, t, chosen)
        if rows is not None:
            out.append(rows.lazy())
    found = pl.concat(out, how="vertical_relaxed").collect() if out else None
    if found is None or found.is_empty():
        return empty
    sev = {r: RULES[r].severity for r in RULES}
    severity = pl.col("rule").replace_strict(sev, return_dtype=pl.String)
    failed = found.filter(severity == "error").select(keys).unique()
    advice_on_failed = (found.filter(severity == "info")
                        .join(failed, on=keys, how="semi", nulls_equal=True))
    found = found.join(advice_on_failed, on=[*keys, "rule"], how="anti", nulls_equal=True)
    order = {r: i for i, r in enumerate(RULES)}
    found = (found.with_columns(
        severity=pl.col("rule").replace_strict(sev, return_dtype=pl.String),
        advice=pl.col("rule").replace_strict({r: RULES[r].advice for r in RULES},
                                             return_dtype=pl.String),
        _s=pl.col("rule").replace_strict({r: SEVERITIES.index(v) for r, v in sev.items()},
                                         return_dtype=pl.Int8),
        _r=pl.col("rule").replace_strict(order, return_dtype=pl.Int8),
        _d=pl.col("data").replace_strict({"training": 0, "validation": 1}, default=2,
                                         return_dtype=pl.Int8),
        # then, of two series of one data that fail alike at one epoch, a loss
        # tells more
        _l=(~pl.col("metric").is_in(lossy.implode())).fill_null(True).cast(pl.Int8))
        .sort([*keys, "_s", "epoch", "_r", "_d", "_l"], maintain_order=True)
        .unique([*keys, "rule"], keep="first", maintain_order=True))
    found = (found.join(runs, on=keys, how="left")
             .sort([*keys, "_s", "epoch", "_r"], maintain_order=True)
             .with_columns(pl.col("__name").alias("run")))
    return found.select(*lead, *FINDING_COLUMNS)


def _probe_rows(runs: pl.DataFrame, by: list[str], probes, t: Thresholds,
                chosen: list[str]) -> pl.DataFrame | None:
    """Findings of the probe rules, keyed like the history's (``_rid``)."""
    from .probe_rules import probe_findings
    from ..errors import HistoryError
    from ..probes import RunProbes, has_probes, read_probes

    rows = []
    for rid, *key in runs.select("_rid", *by).iter_rows():
        values = dict(zip(by, key))
        if isinstance(probes, RunProbes):
            got = probes if runs.height == 1 else None
        elif isinstance(probes, dict):
            got = next((probes[v] for v in (values.get("path"), values.get("run"))
                        if v is not None and v in probes), None)
        elif values.get("path") is not None and has_probes(values["path"]):
            try:
                got = read_probes(values["path"])
            except HistoryError as exc:  # they do not hide the history's findings
                import warnings

                from ..errors import HistkitWarning
                warnings.warn(f"{exc}; diagnosed from the history alone", HistkitWarning,
                              stacklevel=3)
                got = None
        else:
            got = None
        if got is not None:
            rows += [(rid, *f) for f in probe_findings(got, t, chosen)]
    if not rows:
        return None
    return pl.DataFrame(rows, schema={"_rid": runs.schema["_rid"], "rule": pl.String,
                                      "epoch": pl.Int64, "metric": pl.String,
                                      "data": pl.String, "evidence": pl.String},
                        orient="row")


#: a run's verdict from the severity of its worst finding (no finding: healthy)
VERDICTS = {"error": "failed", "warning": "suspect", "info": "advice"}


def verdicts(findings: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """One line per run: ``verdict`` (failed, suspect, advice or healthy, from
    its worst finding: :data:`VERDICTS`), the rule ids in order, and its
    first finding's evidence and advice. ``runs`` holds every run (its key
    columns), so healthy runs get a line too."""
    keys = list(runs.columns)
    per_run = findings.group_by(keys, maintain_order=True).agg(
        verdict=pl.col("severity").first().replace_strict(VERDICTS, return_dtype=pl.String),
        rules=pl.col("rule").str.join(", "),
        diagnosis=pl.format("{} (epoch {}): {}", pl.col("rule"), pl.col("epoch"),
                            pl.col("evidence")).first(),
        advice=pl.col("advice").first())
    return (runs.join(per_run, on=keys, how="left", nulls_equal=True, maintain_order="left")
            .with_columns(pl.col("verdict").fill_null("healthy"),
                          pl.col("rules", "diagnosis", "advice").fill_null("")))
