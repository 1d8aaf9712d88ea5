"""The catalogue of a run/ tree: one row per history, its parsed name and how
it went (epochs logged, best and stop of val_loss)."""

from __future__ import annotations

import os
import warnings
from typing import Callable, Iterable

import polars as pl

from ..errors import HistkitError, HistkitWarning, OptionError
from ..readers import Batch, find_histories, read_chunks
from ..names import RunName, run_from_path
from .stops import early_stoppings

__all__ = ["runs", "run_fields", "fields_table", "summarise", "filter_runs", "select_runs",
           "RUN_COLUMNS", "COST"]

_SCHEMA = {"path": pl.String, "date": pl.String, "run": pl.String, "model": pl.String,
           "dim": pl.String, "loss": pl.String, "attention": pl.Boolean,
           "optimizer": pl.String, "dataset": pl.String, "height": pl.Int64,
           "width": pl.Int64, "channels": pl.Int64, "n_train": pl.Int64, "epochs": pl.Int64,
           "levels": pl.Int64, "base_filters": pl.Int64, "dropout": pl.Float64,
           "batch_size": pl.Int64, "lr": pl.Float64, "seed": pl.Int64, "extra": pl.String}
RUN_COLUMNS = (*_SCHEMA, "epochs_logged", "best_val_loss", "best_val_loss_epoch",
               "stop_val_loss_epoch")


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
    return pl.DataFrame(rows, schema=_SCHEMA)


def runs(root: str | os.PathLike | Iterable = "run", *, tolerance: float = 0.005,
         strict: bool = False, source: str | None = None, cache: bool = False,
         problems: list | None = None,
         progress: Callable[[int, int], None] | None = None,
         ) -> tuple[pl.DataFrame, list[HistkitError]]:
    """One row per history under ``root`` (a directory, a file, or a list):
    parsed fields, epochs logged, best ``val_loss`` and its stop epoch.

    Returns the table and the files that could not be read (they still get a
    row with their fields). A root that does not exist or holds no history
    raises :class:`HistoryError`, or with a ``problems`` list is appended to
    it, as :func:`histkit.find_histories` does. The tree is read in chunks
    (:func:`histkit.read_chunks`), so its size does not bound memory.
    ``cache=True`` keeps the table on disk (:mod:`histkit.analysis.runs_cache`) and
    rereads only the files that changed since; ``histkit runs`` does.
    ``progress(done, total)`` follows the files to read (:func:`histkit.read_chunks`).
    """
    from .runs_cache import RunsCache

    roots = [root] if isinstance(root, (str, os.PathLike)) else list(root)
    paths = find_histories(roots, problems=problems)
    store = stats = None
    parts: list[pl.DataFrame] = []
    told = [pl.DataFrame(schema=_TOLD)]  # the warnings each history was read with
    if cache:
        store = RunsCache({"roots": [str(r) for r in roots], "tolerance": tolerance,
                           "strict": strict, "source": source})
        stats = store.stats(paths)
        kept = store.load(stats)
        if kept is not None and kept.height:
            parts.append(kept.select(RUN_COLUMNS))
            told.append(kept.select(*_TOLD).filter(pl.col("warnings").list.len() > 0))
            for message in told[-1]["warnings"].explode():  # a repair is told every time
                warnings.warn(message, HistkitWarning, stacklevel=2)
    done = set(parts[0]["path"]) if parts else set()
    todo = [p for p in paths if p not in done]
    bad: list[HistkitError] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in read_chunks(todo, source=source, progress=progress):
            parts.append(_runs_of(batch, tolerance, strict))
            bad += batch.problems
    fresh: dict[str, list[str]] = {}
    for w in caught:  # shown as they would have been, and kept with the file's row
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        fresh.setdefault(str(w.message).split(": ", 1)[0], []).append(str(w.message))
    order = pl.DataFrame({"path": paths}, schema={"path": pl.String})
    table = order.join(pl.concat(parts), on="path", how="left", maintain_order="left")
    if store is not None and todo:
        told.append(pl.DataFrame({"path": list(fresh), "warnings": list(fresh.values())},
                                 schema=_TOLD))
        unread = [e.path for e in bad if e.path]  # read again next time: its error is told
        store.save(table.filter(~pl.col("path").is_in(unread)), stats, pl.concat(told))
    return table, bad


_TOLD = {"path": pl.String, "warnings": pl.List(pl.String)}


def _runs_of(batch: Batch, tolerance: float, strict: bool) -> pl.DataFrame:
    """The runs table of the histories of ``batch``."""
    fields = run_fields(batch.paths, strict=strict, names=batch)
    table = summarise(batch.histories, fields, tolerance, metrics=["loss"])
    for col, dtype in (("best_val_loss", pl.Float64), ("best_val_loss_epoch", pl.Int64),
                       ("stop_val_loss_epoch", pl.Int64)):
        if col not in table.columns:
            table = table.with_columns(pl.lit(None, dtype).alias(col))
    return table.select(RUN_COLUMNS)


#: what a run cost, from the trainer's telemetry: summary column -> (series, aggregate)
COST = {"epoch_time_s": ("epoch_time_s", "median"), "peak_mem_mb": ("peak_mem_mb", "max")}


def summarise(long: pl.DataFrame, fields: pl.DataFrame, tolerance: float = 0.005, *,
              metrics: list[str] | None = None, telemetry=()) -> pl.DataFrame:
    """One row per run of ``fields`` (its ``path`` and name fields): epochs
    logged; per series the best value, its epoch and the stop epoch within
    ``tolerance`` (``best_val_loss``, ``best_val_loss_epoch``,
    ``stop_val_loss_epoch``; training series without the ``val_``); and the
    median time of an epoch and the peak memory where the history logs them.
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
    logged = set(long["metric"].unique().cast(pl.String).to_list())
    aggs = [getattr(pl.col("value").filter(pl.col("metric") == series), how)().alias(col)
            for col, (series, how) in COST.items() if series in logged]
    if aggs:
        cost = (long.filter(pl.col("metric").is_in([s for s, _ in COST.values()]))
                .with_columns(pl.col("metric").cast(pl.String)).group_by("path").agg(aggs)
                .with_columns(text))
        table = table.join(cost, on="path", how="left", maintain_order="left")
    return table


def filter_runs(table: pl.DataFrame, where: Iterable[str]) -> pl.DataFrame:
    """Keep rows matching every ``FIELD=VALUE``: text without regard to case
    (``optimizer=adam``), numbers as numbers, and the name's own spelling
    (``dropout=DR20``, ``attention=ag``, ``lr=LR1e-3``, ``seed=S1``; a dropout
    of 1 or more is a percentage, as DR writes it)."""
    from ..names import TOKENS

    for cond in where:
        field, eq, value = cond.partition("=")
        field, value = field.strip(), value.strip()
        if not eq or field not in table.columns:
            raise OptionError(f"--where {cond!r}: expected FIELD=VALUE with FIELD one of "
                              f"{', '.join(table.columns)}")
        col = pl.col(field)
        dtype = table.schema[field]
        if dtype == pl.Boolean:
            truth = {"true": True, "false": False, "ag": True, "yes": True, "no": False}
            if value.lower() not in truth:
                raise OptionError(f"--where {cond!r}: {field} is true or false")
            expr = col == truth[value.lower()]
        elif dtype.is_numeric():
            token = TOKENS.get(field)
            if token and value.upper().startswith(token.upper()) and value[len(token):]:
                value = value[len(token):]
                scale = 100 if field == "dropout" else 1
            else:
                scale = 100 if field == "dropout" and _number(value, cond, field) >= 1 else 1
            number = _number(value, cond, field) / scale
            expr = (col - number).abs() <= 1e-9 * max(1.0, abs(number))
        else:
            expr = col.str.to_lowercase() == value.lower()
        table = table.filter(expr)
    return table


def _number(value: str, cond: str, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise OptionError(f"--where {cond!r}: {field} is a number") from None


def select_runs(table: pl.DataFrame, columns: Iterable[str] = (),
                sort: Iterable[str] = ()) -> pl.DataFrame:
    """The runs table with only ``columns`` (in that order) and sorted by
    ``sort`` (a ``-`` before a column sorts it descending; missing values last)."""
    columns, sort = list(columns), list(sort)
    for name in [*columns, *(s.lstrip("-") for s in sort)]:
        if name not in table.columns:
            raise OptionError(f"no column {name!r}; the columns are {', '.join(table.columns)}")
    if sort:
        table = table.sort([s.lstrip("-") for s in sort],
                           descending=[s.startswith("-") for s in sort], nulls_last=True,
                           maintain_order=True)
    return table.select(columns) if columns else table

