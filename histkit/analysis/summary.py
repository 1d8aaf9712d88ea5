"""The per-run summary: one row per run, its name fields and how it went.

:func:`summarise` is the one per-run summary: ``histkit runs``, the report
and the comparisons read it. :func:`run_fields` and :func:`fields_table`
give the parsed name fields of each run.
"""

from __future__ import annotations

from typing import Iterable

import polars as pl

from ..names import RunName, run_from_path
from ..readers import Batch
from .stops import early_stoppings

__all__ = ["summarise", "run_fields", "fields_table", "FIELD_SCHEMA", "COST"]

#: the name fields of a run and their types (``run`` is its name)
FIELD_SCHEMA = {"path": pl.String, "date": pl.String, "run": pl.String, "model": pl.String,
           "dim": pl.String, "loss": pl.String, "attention": pl.Boolean,
           "optimizer": pl.String, "dataset": pl.String, "height": pl.Int64,
           "width": pl.Int64, "channels": pl.Int64, "n_train": pl.Int64, "epochs": pl.Int64,
           "levels": pl.Int64, "base_filters": pl.Int64, "dropout": pl.Float64,
           "batch_size": pl.Int64, "lr": pl.Float64, "seed": pl.Int64, "extra": pl.String}

def run_fields(paths: Iterable[str], *, strict: bool = False,
               names: Batch | None = None) -> pl.DataFrame:
    """Parsed run-name fields of each path (``run`` is the name; ``names``, a
    :class:`Batch`, gives the run names of framework layouts)."""
    return fields_table({p: run_from_path(p, strict=strict,
                                          name=names.name(p) if names is not None else None)
                         for p in paths})


def fields_table(parsed: dict[str, RunName]) -> pl.DataFrame:
    """The fields table of run names already parsed, by path."""
    rows = []
    for p, run in parsed.items():
        d = run.as_dict()
        d["run"] = d.pop("name")
        rows.append({"path": p, **d})
    return pl.DataFrame(rows, schema=FIELD_SCHEMA)


#: what a run cost, from the trainer's telemetry: summary column -> (series, aggregate)
COST = {"epoch_time_s": ("epoch_time_s", "median"), "peak_mem_mb": ("peak_mem_mb", "max")}


def summarise(long: pl.DataFrame, fields: pl.DataFrame, tolerance: float = 0.005, *,
              metrics: list[str] | None = None, telemetry=()) -> pl.DataFrame:
    """One row per run of ``fields`` (its ``path`` and name fields): epochs
    logged; per series the best value, its epoch and the stop epoch within
    ``tolerance`` (``best_val_loss``, ``best_val_loss_epoch``,
    ``stop_val_loss_epoch``; training series without the ``val_``); and the
    median time of an epoch and the peak memory where the history logs them;
    ``test``: the run's test and final values as text (``loss=0.31,
    acc=0.91``), which get no stop.
    ``metrics`` keeps only those series (faster over a large tree).

    The one per-run summary: ``histkit runs``, the report and the
    comparisons read it. ``path`` of ``long`` may be text or an Enum (as
    :func:`histkit.read_histories` gives it): it becomes text after each
    aggregation, never for every row."""
    text = pl.col("path").cast(pl.String)
    table = fields.join(long.group_by("path").agg(epochs_logged=pl.col("epoch").n_unique())
                        .with_columns(text), on="path", how="left", maintain_order="left")
    table = table.with_columns(pl.col("epochs_logged").fill_null(0))
    if not long.height:
        return table
    scored = long if metrics is None else long.filter(pl.col("metric").is_in(metrics))
    if scored.height:
        stops = early_stoppings(scored, tolerance, by=["path"], telemetry=telemetry).with_columns(
            text, series=pl.when(pl.col("data") == "validation")
            .then(pl.lit("val_") + pl.col("metric")).otherwise(pl.col("metric")))
        for series in stops["series"].unique(maintain_order=True):
            part = stops.filter(pl.col("series") == series).select(
                "path", pl.col("best_value").alias(f"best_{series}"),
                pl.col("best_epoch").alias(f"best_{series}_epoch"),
                pl.col("epoch").alias(f"stop_{series}_epoch"))
            table = table.join(part, on="path", how="left", maintain_order="left")
    table = _with_test(table, long)
    logged = set(long["metric"].unique().cast(pl.String).to_list())
    aggs = [getattr(pl.col("value").filter(pl.col("metric") == series), how)().alias(col)
            for col, (series, how) in COST.items() if series in logged]
    if aggs:
        cost = (long.filter(pl.col("metric").is_in([s for s, _ in COST.values()]))
                .with_columns(pl.col("metric").cast(pl.String)).group_by("path").agg(aggs)
                .with_columns(text))
        table = table.join(cost, on="path", how="left", maintain_order="left")
    return table


def _with_test(table: pl.DataFrame, long: pl.DataFrame) -> pl.DataFrame:
    """``table`` with ``test``: each run's test values (the last of each
    metric) as ``metric=value`` text, null where it logged none."""
    tested = pl.col("data") == "test"
    if not long.select(tested.any()).item():
        return table.with_columns(test=pl.lit(None, pl.String))
    text = (long.filter(tested & pl.col("value").is_not_null())
            .with_columns(pl.col("path", "metric").cast(pl.String))
            .sort("epoch", maintain_order=True)
            .group_by("path", "metric", maintain_order=True).agg(pl.col("value").last())
            .with_columns(pl.format("{}={}", "metric", pl.col("value").map_elements(
                lambda v: f"{v:.4g}", return_dtype=pl.String)).alias("test"))
            .group_by("path", maintain_order=True).agg(pl.col("test").str.join(", ")))
    return table.join(text, on="path", how="left", maintain_order="left")
