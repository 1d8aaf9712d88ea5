"""``diagnose``: every chosen rule over every run, findings in reading order.

The runs are numbered (``_rid``), their features computed once
(:func:`~.features.build_features`), each history rule run over all of them
and each probe rule over each run that has probes; the findings then get
their severity and advice and are ordered: a run's errors first, then by
epoch, so its first row is what to read first.
"""

from __future__ import annotations

import warnings
from typing import Iterable

import polars as pl

from ..errors import HistkitWarning, HistoryError, OptionError
from ..metrics import metric_filter, parse_telemetry
from ..readers import as_polars, to_history
from . import rules as _rules  # noqa: F401  registers every rule
from .features import KEYS, build_features, drop_repeated_epochs, with_series_id
from .probe_features import probe_features
from .registry import FINDING_COLUMNS, RULES, SEVERITIES, explain
from .thresholds import THRESHOLDS, Thresholds

__all__ = ["diagnose", "probe_findings", "explain", "RULES", "PROBE_RULES"]

#: the rules that read probes, in :data:`RULES` order
PROBE_RULES = tuple(name for name, r in RULES.items() if r.probes)
_FOUND = {"_rid": pl.UInt32, "rule": pl.String, "epoch": pl.Int64, "metric": pl.String,
          "data": pl.String, "evidence": pl.String}


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

    ``probes``: the probe rules read ``<run>.probes/`` beside each ``path``
    that has one (``True``, the default); ``False`` reads the histories only;
    a :class:`~histkit.probes.RunProbes` gives a single run's, a dict maps a
    ``path`` or ``run`` value to its probes.
    """
    if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int)
                                or classes < 2):
        raise OptionError(f"classes must be a whole number of at least 2, got {classes!r}")
    chosen = list(RULES) if rules is None else list(rules)
    unknown = [r for r in chosen if r not in RULES]
    if unknown:
        raise OptionError(f"unknown rule {unknown[0]!r}; the rules are {', '.join(RULES)}")
    long = metric_filter(to_history(as_polars(hist)), parse_telemetry(telemetry))
    if by is None:
        by = [c for c in ("path", "run") if c in long.columns]
    lead = [c for c in by if c not in FINDING_COLUMNS]
    empty = pl.DataFrame(schema={**{k: long.schema[k] for k in lead},
                                 **dict.fromkeys(FINDING_COLUMNS, pl.String),
                                 "epoch": pl.Int64}).select(*lead, *FINDING_COLUMNS)
    if long.is_empty():
        return empty
    long, runs = _numbered(long, by, run)
    features = build_features(long, runs, classes, thresholds)
    out = [frame.with_columns(rule=pl.lit(name)).select(*_FOUND)
           for name in chosen if not RULES[name].probes
           for frame in RULES[name].check(features, thresholds)]
    probe_rules = [name for name in chosen if RULES[name].probes]
    if probes is not False and probe_rules:
        rows = _probe_rows(runs, by, probes, thresholds, probe_rules)
        if rows is not None:
            out.append(rows.lazy())
    found = pl.concat(out, how="vertical_relaxed").collect() if out else None
    if found is None or found.is_empty():
        return empty
    return _ordered(found, runs, features.lossy).select(*lead, *FINDING_COLUMNS)


def _numbered(long: pl.DataFrame, by: list[str], run: str | None):
    """``long`` keyed by one integer per run (``_rid``, in input order: every
    group-by and join of the rules is on it), sorted by run, metric, data and
    epoch, with its series ids, repeated epochs dropped; and the runs: their
    ``_rid``, key columns and name (``__name``)."""
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
    long = (long.select(*KEYS, pl.col("metric").cast(pl.String),
                        pl.col("data").cast(pl.String), "epoch", "value")
            .sort([*KEYS, "metric", "data", "epoch"], maintain_order=True))
    return drop_repeated_epochs(with_series_id(long, [*KEYS, "metric", "data"])), runs


def _ordered(found: pl.DataFrame, runs: pl.DataFrame, lossy: pl.Series) -> pl.DataFrame:
    """The findings with their severity, advice and run name, a run's in
    reading order: errors first, then by epoch and rule; one row per run and
    rule; no advice (info) for a run that failed."""
    keys = KEYS
    sev = {r: RULES[r].severity for r in RULES}
    severity = pl.col("rule").replace_strict(sev, return_dtype=pl.String)
    failed = found.filter(severity == "error").select(keys).unique()
    advice_on_failed = (found.filter(severity == "info")
                        .join(failed, on=keys, how="semi", nulls_equal=True))
    found = found.join(advice_on_failed, on=[*keys, "rule"], how="anti", nulls_equal=True)
    order = {r: i for i, r in enumerate(RULES)}
    found = (found.with_columns(
        severity=severity,
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
    return (found.join(runs, on=keys, how="left")
            .sort([*keys, "_s", "epoch", "_r"], maintain_order=True)
            .with_columns(pl.col("__name").alias("run")))


def probe_findings(probes, thresholds: Thresholds = THRESHOLDS,
                   rules: Iterable[str] = PROBE_RULES) -> list[tuple]:
    """``(rule, epoch, metric, data, evidence)`` of one run's probes
    (:class:`~histkit.probes.RunProbes`) for the probe rules in ``rules``;
    ``data`` is ``probes``."""
    features = probe_features(probes)
    return [(name, epoch, metric, "probes", evidence) for name in rules
            for epoch, metric, evidence in RULES[name].check(features, thresholds)]


def _probe_rows(runs: pl.DataFrame, by: list[str], probes, t: Thresholds,
                chosen: list[str]) -> pl.DataFrame | None:
    """Findings of the probe rules in ``chosen``, keyed like the history's (``_rid``)."""
    rows = []
    for rid, *key in runs.select("_rid", *by).iter_rows():
        got = _probes_of(dict(zip(by, key)), probes, runs.height)
        if got is not None:
            rows += [(rid, *f) for f in probe_findings(got, t, chosen)]
    if not rows:
        return None
    return pl.DataFrame(rows, schema={**_FOUND, "_rid": runs.schema["_rid"]}, orient="row")


def _probes_of(values: dict, probes, n_runs: int):
    """The probes of one run (its key ``values``), as ``diagnose``'s
    ``probes`` argument says where they are; None when it has none."""
    from ..probes import RunProbes, has_probes, read_probes

    if isinstance(probes, RunProbes):
        return probes if n_runs == 1 else None
    if isinstance(probes, dict):
        return next((probes[v] for v in (values.get("path"), values.get("run"))
                     if v is not None and v in probes), None)
    if values.get("path") is not None and has_probes(values["path"]):
        try:
            return read_probes(values["path"])
        except HistoryError as exc:  # they do not hide the history's findings
            warnings.warn(f"{exc}; diagnosed from the history alone", HistkitWarning,
                          stacklevel=4)
    return None
