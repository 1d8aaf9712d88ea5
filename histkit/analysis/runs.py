"""The runs table of a run/ tree (``histkit runs``): one row per history, its
parsed name and how it went (epochs logged, best and stop of val_loss), kept
in a cache (:mod:`.runs_cache`); and the filters and sorting of the table."""

from __future__ import annotations

import os
import warnings
from typing import Callable, Iterable

import polars as pl

from ..errors import HistkitError, HistkitWarning, OptionError
from ..names import split_training
from ..readers import Batch, find_histories, read_chunks
from .summary import FIELD_SCHEMA, run_fields, summarise

__all__ = ["runs", "filter_runs", "select_runs", "RUN_COLUMNS"]

RUN_COLUMNS = (*FIELD_SCHEMA, "epochs_logged", "best_val_loss", "best_val_loss_epoch",
               "stop_val_loss_epoch", "test")


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
    got = pl.concat(parts)
    order = pl.DataFrame({"path": with_trainings(paths, got["path"])}, schema={"path": pl.String})
    table = order.join(got, on="path", how="left", maintain_order="left")
    if store is not None and todo:
        told.append(pl.DataFrame({"path": list(fresh), "warnings": list(fresh.values())},
                                 schema=_TOLD))
        unread = [e.path for e in bad if e.path]  # read again next time: its error is told
        store.save(table.filter(~pl.col("path").is_in(unread)), stats, pl.concat(told))
    return table, bad


_TOLD = {"path": pl.String, "warnings": pl.List(pl.String)}


def with_trainings(paths: list[str], read: Iterable[str]) -> list[str]:
    """``paths`` with the further trainings found in them (``x.csv#2``, among
    ``read``) each after its log."""
    extras: dict[str, list[tuple[int, str]]] = {}
    for p in read:
        if p is not None and "#" in p:
            base, k = split_training(p)
            if k > 1:
                extras.setdefault(base, []).append((k, p))
    if not extras:
        return list(paths)
    out = []
    for p in paths:
        out.append(p)
        out += [q for _, q in sorted(extras.get(p, ()))]
    return out


def _runs_of(batch: Batch, tolerance: float, strict: bool) -> pl.DataFrame:
    """The runs table of the histories of ``batch``."""
    fields = run_fields(batch.paths, strict=strict, names=batch)
    table = summarise(batch.histories, fields, tolerance, metrics=["loss"])
    for col, dtype in (("best_val_loss", pl.Float64), ("best_val_loss_epoch", pl.Int64),
                       ("stop_val_loss_epoch", pl.Int64), ("test", pl.String)):
        if col not in table.columns:
            table = table.with_columns(pl.lit(None, dtype).alias(col))
    return table.select(RUN_COLUMNS)


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

