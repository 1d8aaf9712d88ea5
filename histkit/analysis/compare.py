"""Comparisons across a study: which factor matters, and by how much.

``compare_runs(summary)`` reads the per-run summary
(:func:`histkit.analysis.summary.summarise`: name fields, best value and stop epoch of
every series) and answers, for one metric:

- ``levels``: per factor and level, the number of runs, the mean and
  standard deviation of the best value and of the stop epoch, and the best
  run;
- ``effects``: per factor, every two levels (``level`` minus
  ``reference``) over *pairs* of runs that differ in that factor alone: the
  mean paired difference, its standard deviation and the number of pairs. A pair holds
  everything else equal, seeds included, so a factor that only exists with
  another (attention only for UNet) is compared where it varies and nowhere
  else;
- ``importance``: per factor, the mean absolute paired effect (in the
  metric's units) and the share of the metric's variance that its levels
  explain (eta squared, one factor at a time), with the factors it is
  confounded with: a level of another factor that never meets more than one
  level of this one (model=linknet has only attention=false).

Factors are the name fields that vary across the runs (the seed is a
replicate, not a factor).
"""

from __future__ import annotations

import dataclasses
import os

import polars as pl

from ..errors import OptionError

__all__ = ["compare_runs", "read_summary", "Comparison", "FACTORS", "METHOD", "default_metric",
           "differing", "short_labels", "by_label", "side_by_side"]

#: name fields that may be factors of a study, in the order they are shown
FACTORS = ("model", "loss", "attention", "optimizer", "dataset", "dropout", "batch_size",
           "lr", "levels", "base_filters", "n_train", "epochs", "height", "width",
           "channels", "dim")

METHOD = ("paired effects: runs that differ in one factor alone, everything else (seed "
          "included) equal; importance: the mean absolute paired effect, and the share of "
          "the metric's variance explained by the factor's levels (eta squared, one factor "
          "at a time)")


@dataclasses.dataclass
class Comparison:
    """What :func:`compare_runs` found, for ``metric`` (a summary series such
    as ``val_sdice``; ``higher_is_better`` says which way is better)."""

    metric: str
    higher_is_better: bool
    levels: pl.DataFrame       # factor, level, runs, mean, std, stop_mean, stop_std, best_run, best
    effects: pl.DataFrame      # factor, level, reference, pairs, mean_diff, std_diff
    importance: pl.DataFrame   # factor, levels, pairs, mean_abs_effect, eta_squared, confounded_with
    method: str = METHOD


def default_metric(summary: pl.DataFrame, lookup: dict | None = None) -> str:
    """The validation series of the first metric of the lookup (labels file)
    the summary has, else ``val_loss``, else the first validation series."""
    have = [c[len("best_"):] for c in summary.columns
            if c.startswith("best_") and not c.endswith("_epoch")]
    for m in (lookup or {}):
        if f"val_{m}" in have:
            return f"val_{m}"
    if "val_loss" in have:
        return "val_loss"
    val = [h for h in have if h.startswith("val_")]
    if val or have:
        return (val or have)[0]
    raise OptionError("the runs have no series to compare")


def read_summary(roots, tolerance: float = 0.005, *, strict: bool = False,
                 problems: list | None = None) -> pl.DataFrame:
    """The per-run summary (:func:`histkit.analysis.summary.summarise`) of the
    histories under ``roots``; files that cannot be read go to ``problems``."""
    from .summary import run_fields, summarise
    from ..readers import find_histories, read_chunks

    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    found: list = []
    parts = []
    for batch in read_chunks(find_histories(roots, problems=found)):  # any size of tree
        found += batch.problems
        parts.append(summarise(batch.histories,
                               run_fields(batch.paths, strict=strict, names=batch), tolerance))
    if problems is not None:
        problems += found
    return pl.concat(parts, how="diagonal_relaxed")  # chunks may log different series


def compare_runs(summary, metric: str | None = None, *, factors: list[str] | None = None,
                 lookup=None, tolerance: float = 0.005) -> Comparison:
    """Levels, paired effects and factor importance of ``metric`` across the
    runs of ``summary`` (see the module's docstring): a per-run summary
    table, or directories and files of histories (read with
    :func:`read_summary` and ``tolerance``). ``metric`` is a series name
    (``val_sdice``, ``loss``) or a metric (``sdice``: its validation series);
    default: :func:`default_metric`, which reads ``lookup`` (labels)."""
    from ..labels import load_labels
    from ..metrics import is_loss_like

    if not isinstance(summary, pl.DataFrame):
        summary = read_summary(summary, tolerance)
    lookup = load_labels(lookup) if lookup is not None else None
    if summary.is_empty():
        raise OptionError("no runs to compare")
    metric = _series(summary, metric or default_metric(summary, lookup))
    best, stop = f"best_{metric}", f"stop_{metric}_epoch"
    higher = not is_loss_like(metric.removeprefix("val_"))
    varying = [f for f in FACTORS if f in summary.columns
               and summary[f].drop_nulls().n_unique() > 1]
    # a pair holds every varying factor but one equal, asked for or not
    keys = [*varying, *(["seed"] if "seed" in summary.columns else [])]
    if factors is not None:
        unknown = [f for f in factors if f not in summary.columns]
        if unknown:
            raise OptionError(f"no factor {unknown[0]!r}; the factors are "
                              f"{', '.join(varying) or '(none vary)'}")
        varying = list(factors)
    runs = summary.filter(pl.col(best).is_not_null() & pl.col(best).is_finite())
    levels = pl.concat([_levels(runs, f, best, stop, higher) for f in varying],
                       how="vertical_relaxed") if varying else _empty_levels()
    effects = pl.concat([_effects(runs, f, [k for k in keys if k != f], best) for f in varying],
                        how="vertical_relaxed") if varying else _empty_effects()
    importance = _importance(runs, varying, best, effects)
    return Comparison(metric, higher, levels, effects, importance)


def _series(summary: pl.DataFrame, metric: str) -> str:
    """A metric's validation series where it has one (``sdice`` -> ``val_sdice``)."""
    for name in ((metric,) if metric.startswith("val_") else (f"val_{metric}", metric)):
        if f"best_{name}" in summary.columns:
            return name
    have = [c[len("best_"):] for c in summary.columns
            if c.startswith("best_") and not c.endswith("_epoch")]
    raise OptionError(f"no series {metric!r} in these runs; they have {', '.join(have)}")


def _text(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).fill_null("(none)")


def _levels(runs: pl.DataFrame, factor: str, best: str, stop: str, higher: bool):
    pick = pl.col(best).arg_max() if higher else pl.col(best).arg_min()
    return (runs.group_by(_text(factor).alias("level"), maintain_order=True)
            .agg(runs=pl.len(), mean=pl.col(best).mean(), std=pl.col(best).std(),
                 stop_mean=pl.col(stop).cast(pl.Float64).mean(),
                 stop_std=pl.col(stop).cast(pl.Float64).std(),
                 best_run=pl.col("run").get(pick), best=pl.col(best).get(pick))
            .sort("level").select(pl.lit(factor).alias("factor"), pl.all()))


def _effects(runs: pl.DataFrame, factor: str, others: list[str], best: str) -> pl.DataFrame:
    """Every two levels of ``factor`` that meet in pairs of runs differing in
    ``factor`` alone: ``level`` minus ``reference``; a factor whose levels
    never meet gets one row with no pairs. One join of the cells with
    themselves, not one per two levels: a factor of 177 levels (a sweep of
    epochs) has 15,576 pairs of them."""
    levels = sorted(runs[factor].drop_nulls().cast(pl.String).unique().to_list())
    if len(levels) < 2:
        return _empty_effects()
    table = runs.select(*[_text(k).alias(k) for k in others], _text(factor).alias("_level"),
                        pl.col(best).alias("_v"))
    # runs repeated with one key (e.g. the same run in two dates) count once, as their mean
    cells = (table.filter(pl.col("_level").is_in(levels))
             .group_by([*others, "_level"]).agg(pl.col("_v").mean())
             .with_columns(pl.col("_level").replace_strict(
                 {level: i for i, level in enumerate(levels)}, return_dtype=pl.Int64)
                 .alias("_i")))
    base = cells.rename({"_level": "reference", "_v": "_ref", "_i": "_j"})
    pairs = (cells.join(base, on=others, how="inner", nulls_equal=True) if others
             else cells.join(base, how="cross")).filter(pl.col("_i") > pl.col("_j"))
    if not pairs.height:
        return pl.DataFrame([{"factor": factor, "level": None, "reference": None, "pairs": 0,
                              "mean_diff": None, "std_diff": None}],
                            schema=_empty_effects().schema)
    d = pl.col("_v") - pl.col("_ref")
    return (pairs.group_by("_j", "_i")
            .agg(pl.col("_level").first().alias("level"),
                 pl.col("reference").first(), pairs=pl.len().cast(pl.Int64),
                 mean_diff=d.mean(), std_diff=pl.when(pl.len() > 1).then(d.std()))
            .sort("_j", "_i")
            .select(pl.lit(factor).alias("factor"), "level", "reference", "pairs",
                    "mean_diff", "std_diff"))


def _importance(runs: pl.DataFrame, factors: list[str], best: str,
                effects: pl.DataFrame) -> pl.DataFrame:
    total = runs[best]
    ss_total = float(((total - total.mean()) ** 2).sum()) if runs.height > 1 else 0.0
    rows = []
    for f in factors:
        groups = runs.group_by(_text(f).alias("_l")).agg(n=pl.len(), m=pl.col(best).mean())
        ss_between = float((groups["n"] * (groups["m"] - total.mean()) ** 2).sum())
        eff = effects.filter((pl.col("factor") == f) & (pl.col("pairs") > 0))
        pairs = int(eff["pairs"].sum()) if eff.height else 0
        mean_abs = (float((eff["mean_diff"].abs() * eff["pairs"]).sum() / pairs)
                    if pairs else None)
        rows.append({"factor": f, "levels": groups.height, "pairs": pairs,
                     "mean_abs_effect": mean_abs,
                     "eta_squared": ss_between / ss_total if ss_total > 0 else None,
                     "confounded_with": ", ".join(_confounded(runs, f, factors))})
    out = pl.DataFrame(rows, schema={"factor": pl.String, "levels": pl.Int64, "pairs": pl.Int64,
                                     "mean_abs_effect": pl.Float64, "eta_squared": pl.Float64,
                                     "confounded_with": pl.String})
    return out.sort("mean_abs_effect", descending=True, nulls_last=True, maintain_order=True)


def _confounded(runs: pl.DataFrame, factor: str, factors: list[str]) -> list[str]:
    """``other=value`` for each level of another factor that meets only one
    level of ``factor`` while ``factor`` has more (model=linknet for attention)."""
    n = runs[factor].n_unique()
    out = []
    for g in factors:
        if g == factor:
            continue
        seen = runs.group_by(_text(g).alias("_g")).agg(k=pl.col(factor).n_unique())
        alone = sorted(seen.filter(pl.col("k") < n)["_g"].to_list())
        if alone and len(alone) < seen.height:
            out += [f"{g}={v}" for v in alone]
        elif alone:  # every level of g meets a strict subset: the two move together
            out.append(g)
    return out


def _empty_levels() -> pl.DataFrame:
    return pl.DataFrame(schema={"factor": pl.String, "level": pl.String, "runs": pl.UInt32,
                                "mean": pl.Float64, "std": pl.Float64, "stop_mean": pl.Float64,
                                "stop_std": pl.Float64, "best_run": pl.String,
                                "best": pl.Float64})


def _empty_effects() -> pl.DataFrame:
    return pl.DataFrame(schema={"factor": pl.String, "level": pl.String,
                                "reference": pl.String, "pairs": pl.Int64,
                                "mean_diff": pl.Float64, "std_diff": pl.Float64})


def _token(field: str, value) -> str:
    """A setting as a short label: the run name's token where it has one."""
    from ..names import TOKENS, lr_token

    if value is None:
        return f"{field}=default"
    if field == "dropout":
        return f"DR{round(float(value) * 100)}"
    if field == "lr":
        return f"LR{lr_token(value)}"
    if field in ("batch_size", "seed", "n_train", "epochs", "levels", "base_filters"):
        return f"{TOKENS[field]}{value}"
    if isinstance(value, bool):
        return f"{field}={str(value).lower()}"
    return f"{field}={value}"


def differing(fields: pl.DataFrame) -> list[str]:
    """The name fields whose values differ across these runs, in name order."""
    from ..names import FIELDS

    return [f for f in dict.fromkeys((*FIELDS, "date")) if f in fields.columns
            and f not in ("name", "run") and fields[f].n_unique() > 1]


def short_labels(fields: pl.DataFrame) -> list[str]:
    """A legend label per run from the settings that differ (``attention=true,
    DR20``); the run name when nothing in it differs but the runs do, and a
    number after any label two runs would share."""
    diff = differing(fields)
    labels = [", ".join(_token(f, row[f]) for f in diff) if diff else
              str(row.get("run") or row.get("path") or i + 1)
              for i, row in enumerate(fields.iter_rows(named=True))]
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if labels.count(label) == 1 else f"{label} #{seen[label]}")
    return out


def by_label(long: pl.DataFrame, fields: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """What a figure of several runs shows: ``long`` (with ``path``) keyed
    instead by each run's :func:`short_labels` label (``run``), and a caption
    that gives each label its full run name. ``fields``: the runs' ``path``
    and name fields."""
    labels = short_labels(fields)
    full = "\n".join(f"{label}: {name}" if label != name else name
                      for label, name in zip(labels, fields["run"].to_list()))
    labelled = dict(zip(fields["path"].to_list(), labels))
    return long.with_columns(run=pl.col("path").cast(pl.String).replace_strict(labelled)
                             ).drop("path"), full


def side_by_side(summary: pl.DataFrame, metric: str | None = None,
                 lookup: dict | None = None) -> pl.DataFrame:
    """The runs of ``summary`` side by side: a short label, the settings that
    differ, then the best value, its epoch and the stop epoch of ``metric``
    (default: :func:`default_metric`), the epochs logged, the time of an
    epoch and the peak memory where logged, and the full run name."""
    metric = _series(summary, metric or default_metric(summary, lookup))
    cols = [c for c in (f"best_{metric}", f"best_{metric}_epoch", f"stop_{metric}_epoch",
                        "epochs_logged", "epoch_time_s", "peak_mem_mb") if c in summary.columns]
    return summary.select(pl.Series("label", short_labels(summary)), *differing(summary),
                          *cols, "run")
