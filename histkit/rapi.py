"""The Python side of the R package (``r/``), called through reticulate.

Every function takes plain values (strings, numbers, lists, dicts) and returns
a plain dict, so nothing but lists and scalars crosses the boundary: pandas
frames may not convert back under numpy 2, and reticulate turns R's ``NA`` into
odd values (``-2147483648`` for integers, ``"NA"`` for strings, ``True`` for
logicals). The R side therefore sends each column with a list of its missing
positions and a harmless placeholder in them, and rebuilds data.frames from
the columns returned here the same way.

A table crosses as ``{"names": [...], "columns": {name: list}, "types": {name:
"integer" | "double" | "character" | "logical"}, "na": {name: [0-based
positions]}, "levels": {name: [...]}}`` (``levels`` makes an R factor).
A float NaN is listed as missing (R's ``NA``, as a history's ``nan`` cell
is), except in the probe tables (:func:`read_probes`), where NaN is a value
(an undefined ratio) and crosses as R's ``NaN``.

Every entry point returns ``{"value": ..., "warnings": [...], "error": None}``;
a :class:`HistkitError` becomes ``error`` (its one-line message), so R raises
a clean ``stop()`` instead of a Python traceback.
"""

from __future__ import annotations

import functools
import importlib
import math
import warnings
from typing import Any

import polars as pl

# the modules every R session needs, imported when R starts Python
# (library(histkit)) rather than by the first call
for _module in ("analysis.runs", "analysis.summary", "analysis.stops", "readers.batch",
                "labels", "names", "render.plot"):
    importlib.import_module(f"{__package__}.{_module}")
from .errors import HistkitError, OptionError

__all__ = ["info", "to_history", "read_history", "early_stoppings", "keras_stop",
           "diagnose", "facet_levels", "telemetry_names", "parse_run_name", "runs", "report",
           "read_probes", "compare_runs", "encode", "decode"]

DATA_LEVELS = ["training", "validation"]


def _boundary(fn):
    """Catch histkit errors and warnings into the returned dict."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> dict:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value, error = fn(*args, **kwargs), None
            except HistkitError as exc:
                value, error = None, str(exc)
        seen = list(dict.fromkeys(str(w.message) for w in caught))
        return {"value": value, "warnings": seen, "error": error}

    return wrapper


# ---------------------------------------------------------------------------
# tables across the boundary


def _as_list(x) -> list:
    """reticulate sends a length-1 R vector as a scalar and NULL as None."""
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


_R_DTYPES = {"double": pl.Float64, "integer": pl.Int64, "character": pl.String,
             "logical": pl.Boolean}


def decode(table: dict) -> pl.DataFrame:
    """A polars frame from what the R side's ``.encode_frame()`` sends."""
    names = _as_list(table.get("names"))
    columns = table.get("columns") or {}
    types = table.get("types") or {}
    na = table.get("na") or {}
    series = []
    for name in names:
        values = _as_list(columns.get(name))
        for i in _as_list(na.get(name)):
            values[int(i)] = None
        dtype = _R_DTYPES.get(types.get(name), None)
        if dtype is pl.Float64:
            values = [None if v is None or v != v else float(v) for v in values]
        series.append(pl.Series(name, values, dtype=dtype, strict=False))
    return pl.DataFrame(series)


def _r_type(dtype) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "double"
    if dtype == pl.Boolean:
        return "logical"
    return "character"


_PLACEHOLDER = {"integer": 0, "double": math.nan, "character": "", "logical": False}


def encode(frame: pl.DataFrame, levels: dict[str, list[str]] | None = None, *,
           keep_nan: bool = False) -> dict:
    """A frame as plain columns with their missing positions (see module doc).

    Integers outside R's 32-bit range travel as doubles. A float NaN is a
    missing value (R's ``NA``) unless ``keep_nan``: then only nulls are, and
    NaN crosses as itself (R's ``NaN``), as do infinities."""
    out = {"names": list(frame.columns), "columns": {}, "types": {}, "na": {},
           "levels": {k: list(v) for k, v in (levels or {}).items()}}
    for name in frame.columns:
        s = frame[name]
        if s.dtype in (pl.Categorical, pl.Enum):
            s = s.cast(pl.String)
        kind = _r_type(s.dtype)
        if kind == "integer" and (s.drop_nulls().abs().max() or 0) > 2**31 - 1:
            kind = "double"
        if kind == "double":
            s = s.cast(pl.Float64)
            missing = (s.is_null() if keep_nan else s.is_null() | s.is_nan()).arg_true().to_list()
        else:
            missing = s.is_null().arg_true().to_list()
        values = s.to_list()
        fill = _PLACEHOLDER[kind]
        for i in missing:
            values[i] = fill
        out["columns"][name] = values
        out["types"][name] = kind
        out["na"][name] = missing
    return out


def _numeric_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Text columns that hold only numbers and missing markers (``nan``, ``NA``,
    empty: how a CSV reader may leave a metric column) become numbers; other
    text columns are left for :func:`histkit.to_history` to reject by name."""
    from .readers.csvtext import MISSING

    fixes = []
    for name, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        text = frame[name].str.strip_chars()
        missing = text.is_null() | text.str.to_lowercase().is_in(list(MISSING))
        number = text.cast(pl.Float64, strict=False)
        if (missing | number.is_not_null()).all():
            fixes.append(pl.when(missing).then(None).otherwise(number).alias(name)
                         .cast(pl.Float64))
    return frame.with_columns(fixes) if fixes else frame


def _long_levels(long: pl.DataFrame) -> dict[str, list[str]]:
    """Factor levels of a long table, as R keras gives them: metrics in order of
    first appearance, ``training`` before ``validation`` (then ``test``, for
    a history that logs test values)."""
    levels = {"metric": long["metric"].unique(maintain_order=True).to_list()}
    data = set(long["data"].unique().to_list())
    if data <= set(DATA_LEVELS):
        levels["data"] = list(DATA_LEVELS)
    elif data <= {*DATA_LEVELS, "test"}:
        levels["data"] = [*DATA_LEVELS, "test"]
    return levels


# ---------------------------------------------------------------------------
# entry points


@_boundary
def info() -> dict:
    """Which Python and histkit R is talking to."""
    import sys

    from . import __version__

    return {"python": sys.executable, "version": sys.version.split()[0],
            "histkit": __version__}


@_boundary
def to_history(table: dict, keep=None) -> dict:
    """:func:`histkit.to_history` of an R data.frame; factors in keras order."""
    from .readers import to_history as _to_history

    frame = _numeric_text(decode(table))
    long = _to_history(frame, keep=_as_list(keep))
    return encode(long, _long_levels(long))


@_boundary
def read_history(path: str, source=None) -> dict:
    """The wide table of one history (:func:`histkit.read_history`);
    ``source`` (a name of :data:`histkit.readers.SOURCES`) forces a reader."""
    from .readers import read_history as _read_history

    return encode(_read_history(str(path), source=None if source is None else str(source)))


def _mode(mode):
    if mode is None or isinstance(mode, str):
        return mode
    if isinstance(mode, dict):
        return {str(k): str(v) for k, v in mode.items()}
    raise OptionError(f"mode should be 'min', 'max', 'auto' or a named list; got {mode!r}")


def _telemetry(names) -> tuple[str, ...]:
    """A user's telemetry names from R: a character vector (a scalar when of
    length 1, None when NULL), each element possibly ``"a,b"`` as on the
    command line."""
    from .metrics import parse_telemetry

    return parse_telemetry([part for item in _as_list(names) for part in str(item).split(",")])


@_boundary
def early_stoppings(table: dict, tolerance=0.005, relative=False, mode=None,
                    telemetry=None) -> dict:
    """:func:`histkit.early_stoppings` of an R data.frame (long or wide);
    telemetry (built-in and ``telemetry``) gets no stop."""
    from .readers import to_history as _to_history
    from .analysis.stops import early_stoppings as _early_stoppings

    long = _to_history(_numeric_text(decode(table)))
    stops = _early_stoppings(long, tolerance, relative=bool(relative), mode=_mode(mode),
                             telemetry=_telemetry(telemetry))
    return encode(stops, _long_levels(long) if {"metric", "data"} <= set(long.columns) else {})


@_boundary
def keras_stop(table: dict, monitor="val_loss", min_delta=0.0, patience=0, baseline=None,
               start_from_epoch=0, mode="auto") -> dict:
    """:func:`histkit.keras_stop` as a plain dict of its fields."""
    import dataclasses

    from .analysis.stops import keras_stop as _keras_stop

    frame = _numeric_text(decode(table))
    if "metric" not in frame.columns and "epoch" in frame.columns:
        frame = frame.with_columns(pl.col("epoch").cast(pl.Int64))
    stop = _keras_stop(frame, monitor=str(monitor), min_delta=float(min_delta),
                       patience=int(patience),
                       baseline=None if baseline is None else float(baseline),
                       start_from_epoch=int(start_from_epoch), mode=str(mode))
    return dataclasses.asdict(stop)


def _whole(x):
    """A whole number from R (where ``3`` is a double) as an int; anything
    else is left for the callee to reject with its own message."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


@_boundary
def diagnose(table: dict, classes=None, rules=None, telemetry=None, run=None) -> dict:
    """:func:`histkit.diagnosis.diagnose` of an R data.frame (long or wide;
    ``path``/``run`` columns of a long table key its runs). ``rules=None`` is
    every rule, an empty list none; ``run`` names a single history."""
    from .diagnosis import diagnose as _diagnose

    frame = decode(table)
    # run keys stay text: "1", "2" (dplyr::bind_rows(.id = "run")) are names, not numbers
    keys = [c for c in ("path", "run") if c in frame.columns]
    frame = frame.with_columns(_numeric_text(frame.drop(keys)).get_columns())
    found = _diagnose(frame, None if classes is None else _whole(classes),
                      rules=None if rules is None else [str(r) for r in _as_list(rules)],
                      telemetry=_telemetry(telemetry),
                      run=None if run is None else str(run))
    return encode(found)


@_boundary
def facet_levels(metrics, lookup=None, all_metrics=False, telemetry=None, chosen=None) -> dict:
    """Facet order and labels of R's ``plot_history()``, decided as
    :func:`histkit.render.plot.plot_history` decides them: ``metrics`` are the
    history's series in order; telemetry (built-in and ``telemetry``) is
    never a facet; with a lookup (a dict, i.e. an R named list, or a labels
    file path) exactly its metrics present, in its order, ``all_metrics``
    adding the rest (:func:`histkit.render.plot.facet_levels`). ``chosen`` (R's
    ``metrics =``) draws exactly these series, telemetry included, as Python
    does."""
    from .metrics import telemetry_names as _telemetry_names
    from .labels import load_labels
    from .render.plot import facet_levels as _facet_levels

    present = [str(m) for m in dict.fromkeys(_as_list(metrics))]
    if chosen is not None:
        chosen = [str(m) for m in _as_list(chosen)]
        unknown = [m for m in chosen if m not in present]
        if unknown:
            raise OptionError(f"metric {unknown[0]!r} is not in the history; it has "
                              f"{', '.join(present)}")
        present = [m for m in present if m in chosen]
    else:
        drop = set(_telemetry_names(present, _telemetry(telemetry)))
        present = [m for m in present if m not in drop]
    if not present:
        raise OptionError("nothing to plot: the history has no metric rows")
    order, labels = _facet_levels(present, load_labels(lookup),
                                  all_metrics=bool(all_metrics) or chosen is not None)
    return {"order": order, "labels": [labels[m] for m in order]}


@_boundary
def telemetry_names(metrics, telemetry=None) -> list[str]:
    """The telemetry series among ``metrics``, in their order
    (:func:`histkit.metrics.telemetry_names`), ``telemetry`` adding a
    user's names."""
    from .metrics import telemetry_names as _telemetry_names

    return _telemetry_names([str(m) for m in _as_list(metrics)], _telemetry(telemetry))


@_boundary
def parse_run_name(names, strict=False) -> dict:
    """Parsed fields of run names, one row per name; a path
    (``run/<date>/.../<name>.csv``) adds its ``date``."""
    from .analysis.summary import FIELD_SCHEMA
    from .names import FIELDS, parse_run_name as _parse, run_from_path

    rows = []
    for name in map(str, _as_list(names)):
        is_path = "/" in name or "\\" in name
        run = (run_from_path if is_path else _parse)(name, strict=bool(strict))
        rows.append({**run.as_dict(), "valid": run.valid})
    schema = {"date": pl.String, "name": pl.String,
              **{f: FIELD_SCHEMA[f] for f in FIELDS if f not in ("date", "name")},
              "valid": pl.Boolean}
    return encode(pl.DataFrame(rows, schema=schema, orient="row") if rows
                  else pl.DataFrame(schema=schema))


@_boundary
def runs(root="run", tolerance=0.005, strict=False) -> dict:
    """:func:`histkit.runs`: the table and the problems (one line each)."""
    from .analysis.runs import runs as _runs

    table, problems = _runs(_as_list(root) if isinstance(root, (list, tuple)) else str(root),
                            tolerance=tolerance, strict=bool(strict))
    return {"table": encode(table), "problems": [str(p) for p in problems]}


@_boundary
def compare_runs(root="run", metric=None, tolerance=0.005, labels=None, strict=False) -> dict:
    """:func:`histkit.analysis.compare.compare_runs` over the histories under ``root``:
    the three tables, the series compared and the method, and the problems."""
    from .analysis.compare import compare_runs as _compare, read_summary

    roots = _as_list(root) if isinstance(root, (list, tuple)) else [str(root)]
    problems: list = []
    summary = read_summary(roots, tolerance, strict=bool(strict), problems=problems)
    found = _compare(summary, metric, lookup=labels)
    return {"levels": encode(found.levels), "effects": encode(found.effects),
            "importance": encode(found.importance), "metric": found.metric,
            "higher_is_better": found.higher_is_better, "method": found.method,
            "problems": [str(p) for p in problems]}


@_boundary
def report(roots, output, labels=None, tolerance=0.005, group_by=None, jobs=None,
           title=None, formats=("png",), dpi=100, base_size=11.0, strict=False,
           pages=None) -> dict:
    """:func:`histkit.render.report.build_report`, its result as plain values."""
    from .render.report import build_report

    rep = build_report(
        [str(r) for r in _as_list(roots)], str(output), labels=labels,
        tolerance=tolerance, group_by=None if group_by is None else _as_list(group_by),
        jobs=None if jobs is None else int(jobs), title=title,
        formats=_as_list(formats), dpi=int(dpi), base_size=float(base_size),
        strict=bool(strict), command="histkit_report() from R",
        pages=None if pages is None else int(pages))
    return {"output": str(rep.output), "index": str(rep.index), "rendered": rep.rendered,
            "shown": rep.shown,
            "skipped": rep.skipped, "removed": rep.removed,
            "problems": [str(p) for p in rep.problems], "summary": encode(rep.summary)}


@_boundary
def read_probes(path: str) -> dict:
    """:func:`histkit.read_probes` of a history CSV (or its ``.probes``
    directory): ``{table: encoded table}`` for scalars, histograms,
    activations, shares and images. NaN (an update ratio of a layer whose
    weights were zero) stays NaN rather than becoming ``NA``; the histogram
    edges keep their infinities."""
    from pathlib import Path

    from .errors import HistoryError
    from .probes import TABLES, has_probes
    from .probes import read_probes as _read_probes

    path = str(path)
    if not Path(path).exists() and not has_probes(path):
        raise HistoryError("no such file or directory", path=path)
    probes = _read_probes(path)
    return {name: encode(getattr(probes, name), keep_nan=True) for name in (*TABLES, "images")}


def _value(result: dict) -> Any:  # for Python-side tests and callers
    if result["error"]:
        raise HistkitError(result["error"])
    return result["value"]
