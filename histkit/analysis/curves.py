"""Validation curves of groups of runs, as the comparison figures draw them.

A group of ``band_from`` runs or more is drawn as its mean with a band of one
standard deviation either side, a smaller group as its runs.
:class:`GroupCurves` is built chunk by chunk (:meth:`GroupCurves.add`), so a
report over 100,000 runs never holds their curves: per (group, metric, epoch)
it keeps the count, mean and sum of squared deviations, which merge exactly
across chunks (Chan, Golub and LeVeque's pairwise update), and per group the
curves of its first ``band_from - 1`` runs, all a small group needs.
"""

from __future__ import annotations

import dataclasses

import polars as pl

__all__ = ["GroupCurves", "moments", "validation"]

_KEYS = ("metric", "epoch")


@dataclasses.dataclass
class GroupCurves:
    """The curves of the groups of ``by`` seen so far; ``add`` more rows."""

    by: str
    band_from: int = 3
    moments: pl.DataFrame | None = None  # by, metric, epoch, n, mean, m2
    kept: pl.DataFrame | None = None  # by, run, metric, epoch, value: a small group's runs
    sizes: dict = dataclasses.field(default_factory=dict)  # runs per group
    metrics: list = dataclasses.field(default_factory=list)  # in the order first seen

    def add(self, long: pl.DataFrame) -> None:
        """Add validation rows: ``by`` (its value as text), ``run`` (an id,
        each run in one call only), ``metric``, ``epoch`` and ``value``.
        Rows of other data and missing values are left out."""
        long = validation(long).select(pl.col(self.by).cast(pl.String), "run", "metric",
                                       "epoch", "value")
        self.add_moments(moments(long, [self.by]), long.select(self.by, "run").unique(
            maintain_order=True), lambda keep: long.join(keep, on=[self.by, "run"], how="semi"))

    def add_moments(self, part: pl.DataFrame, runs: pl.DataFrame, rows) -> None:
        """Add a chunk gathered already: ``part``, its :func:`moments` by
        ``by`` (a key may come in several rows: finer groups of the chunk
        merge), ``runs``, its (``by``, ``run``) pairs, and ``rows(keep)``, the
        validation rows (``by``, ``run``, ``metric``, ``epoch``, ``value``) of
        the runs of ``keep``, called for the first runs of each group only."""
        by = self.by
        if not runs.height or not part.height:
            return
        part = part.select(by, *_KEYS, pl.col("n").cast(pl.Int64), "mean", "m2")
        seen = set(self.metrics)
        self.metrics += [m for m in part["metric"].unique(maintain_order=True) if m not in seen]
        self.moments = _merge(part if self.moments is None else pl.concat([self.moments, part]),
                              by)
        before = pl.DataFrame({by: list(self.sizes), "_before": list(self.sizes.values())},
                              schema={by: pl.String, "_before": pl.Int64})
        keep = (runs.join(before, on=by, how="left")
                .filter(pl.int_range(pl.len()).over(by) + pl.col("_before").fill_null(0)
                        < self.band_from - 1)
                .select(by, "run"))
        if keep.height:
            kept = rows(keep).select(by, "run", pl.col("metric").cast(pl.String), "epoch",
                                     "value")
            self.kept = kept if self.kept is None else pl.concat([self.kept, kept])
        for group, n in runs.group_by(by).len().iter_rows():
            self.sizes[group] = self.sizes.get(group, 0) + n

    def banded(self) -> pl.DataFrame:
        """Mean, standard deviation (0 for one value) and the band ``lo``..``hi``
        per (group, metric, epoch) of the groups of ``band_from`` runs or more."""
        by = self.by
        large = [g for g, n in self.sizes.items() if n >= self.band_from]
        if self.moments is None or not large:
            return pl.DataFrame(schema={by: pl.String, "metric": pl.String,
                                        "epoch": pl.Int64, "mean": pl.Float64,
                                        "sd": pl.Float64, "lo": pl.Float64,
                                        "hi": pl.Float64})
        sd = pl.when(pl.col("n") > 1).then((pl.col("m2") / (pl.col("n") - 1)).sqrt())
        return (self.moments.filter(pl.col(by).is_in(large))
                .select(by, *_KEYS, "mean", sd.otherwise(0.0).alias("sd"))
                .with_columns(lo=pl.col("mean") - pl.col("sd"), hi=pl.col("mean") + pl.col("sd"))
                .sort(by, *_KEYS))

    def single(self) -> pl.DataFrame:
        """The rows of every run of the groups smaller than ``band_from``."""
        small = [g for g, n in self.sizes.items() if n < self.band_from]
        if self.kept is None:
            return pl.DataFrame(schema={self.by: pl.String, "run": pl.Int64,
                                        "metric": pl.String, "epoch": pl.Int64,
                                        "value": pl.Float64})
        return self.kept.filter(pl.col(self.by).is_in(small))


def validation(long: pl.DataFrame) -> pl.DataFrame:
    """The validation rows that have a value."""
    return long.filter(pl.col("data") == "validation").drop_nulls("value")


def moments(long: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Count, mean and sum of squared deviations of ``value`` per ``keys``,
    metric and epoch (in the order first seen): what :func:`_merge` merges
    exactly."""
    return long.group_by(*keys, *_KEYS, maintain_order=True).agg(
        n=pl.len(), mean=pl.col("value").mean(),
        m2=((pl.col("value") - pl.col("value").mean()) ** 2).sum()
    ).with_columns(pl.col("metric").cast(pl.String))


def _merge(parts: pl.DataFrame, by: str) -> pl.DataFrame:
    """Moments of the union of the values behind several rows of a key
    (Chan, Golub and LeVeque): the grand mean, and the sum of squared
    deviations within each part plus each part's from the grand mean."""
    n, mean = pl.col("n"), pl.col("mean")
    total = n.sum()
    grand = (n * mean).sum() / total
    return (parts.group_by(by, *_KEYS)
            .agg(n=total, mean=grand, m2=pl.col("m2").sum() + (n * (mean - grand) ** 2).sum()))
