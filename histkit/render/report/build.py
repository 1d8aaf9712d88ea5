"""Batch reports: one browsable, self-contained report over every run of a study.

:func:`build_report` reads every history under the given roots and writes, into
one output directory:

- ``runs/<run>.<fmt>``: the figure of ``histkit plot`` for each run, and
  ``runs/<run>.telemetry.png`` (learning rate, time and memory per epoch)
  when the history logs them;
- ``runs/<run>.html``: a page per run: its figures, all its settings (the
  fields of its name and the sidecar ``<run>.json`` beside the history, if
  any), its stops and its diagnosis findings; and, when ``histkit train``
  wrote probes beside it (``<run>.probes/``), weight and gradient norms and
  update ratios per layer, weight and gradient histograms over epochs as
  ridgelines, activation statistics, predicted against true class shares
  (``runs/<run>.<norms|histograms|activations|shares>.png``, drawn by
  :mod:`histkit.render.probe_plots`) and the probe images, copied into
  ``runs/<run>.probes/``. The index links each run to its page;
- ``compare/<field>.<fmt>``: validation curves of every run, coloured by one
  hyperparameter (attention, dropout, ...), with a table of best values and
  stop epochs per group;
- ``summary.csv`` and ``summary.parquet``: one row per run;
- ``index.html``: a sortable, filterable table with thumbnails, the
  comparisons, the problems and the command that produced it (no network);
- ``manifest.json``: a content hash per figure and page, so a rebuild renders
  only what changed and removes the files of runs that are gone. A page
  depends on the history, its probes and sidecar (by content), the settings
  and the page's own template and plotting code.

Figures are rendered in worker processes; every file is written to a temporary
name and renamed, and a lock file serialises builds into the same directory,
so a reader or a second build never sees a half-written report. A history that
cannot be read becomes a problem, never a lost report. The library prints
nothing: it returns a :class:`Report`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import itertools
import json
import os
import re
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable

import polars as pl

from ... import __version__
from ...errors import HistkitError, OptionError
from ...files import locked, safe_name, write_atomic
from ...analysis.curves import GroupCurves, moments, validation
from ...readers import CHUNK, Batch, find_histories, owned, read_chunks, read_histories
from ...labels import load_labels
from ...analysis.runs import fields_table, summarise
from ...metrics import is_loss_like, metric_filter, parse_telemetry, telemetry_names
from ...names import FIELDS, RunName, run_from_path
from ...readers import fingerprint
from ...analysis.stops import check_tolerance, early_stoppings

__all__ = ["build_report", "check_settings", "Report", "DEFAULT_GROUP_BY", "GROUP_FIELDS",
           "REPORT_FORMATS", "PAGES"]

DEFAULT_GROUP_BY = ("attention", "dropout", "optimizer", "loss", "model")
GROUP_FIELDS = tuple(f for f in FIELDS if f != "name")
REPORT_FORMATS = ("png", "pdf", "svg")
MANIFEST = "manifest.json"
_GROUP_FIGURE = "mean+band>=3"  # how comparison figures are drawn: a change redraws them
PAGES = 500  # runs with figures and a page, at most (a page takes up to a second of CPU)
LOCK = ".histkit-report.lock"
# fields shown in the runs table (those that vary; the rest are "shared settings")
_TABLE_FIELDS = ("date", "model", "loss", "attention", "optimizer", "dataset", "height",
                 "width", "channels", "n_train", "epochs", "levels", "base_filters",
                 "dropout", "batch_size", "lr", "seed", "extra")


@dataclasses.dataclass
class Report:
    """What :func:`build_report` did: where the report is, which runs it
    rendered or reused, which it dropped, and every problem it met."""

    output: Path
    index: Path
    rendered: list[str]
    skipped: list[str]
    removed: list[str]
    comparisons: dict[str, pl.DataFrame]
    summary: pl.DataFrame
    problems: list[HistkitError]
    pages: list[str] = dataclasses.field(default_factory=list)  # runs whose page was written
    factors: object = None  # histkit.analysis.compare.Comparison: which factor matters
    shown: list[str] = dataclasses.field(default_factory=list)  # runs with figures and a page

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Everything besides the input bytes that changes a figure."""

    labels: tuple[tuple[str, str], ...]
    tolerance: float
    formats: tuple[str, ...]
    dpi: int
    base_size: float
    telemetry: tuple[str, ...] = ()
    all_metrics: bool = False

    def digest(self, *parts: bytes | str) -> str:
        h = hashlib.sha256(_spelled(self))
        for part in parts:
            h.update(b"\0")
            h.update(part.encode() if isinstance(part, str) else part)
        return h.hexdigest()


@functools.lru_cache(maxsize=8)
def _spelled(settings: _Settings) -> bytes:
    """The settings and histkit's version as bytes, once per settings (a
    study of 100,000 runs asks for them 100,000 times)."""
    return json.dumps([__version__, dataclasses.asdict(settings)]).encode()


@dataclasses.dataclass
class _Run:
    path: str
    parsed: RunName  # the name and its fields
    stem: str
    digest: str

    @property
    def name(self) -> str:
        return self.parsed.name


def build_report(roots: str | os.PathLike | Iterable = "run", output="reports/report", *,
                 labels=None, tolerance: float = 0.005, group_by: Iterable[str] | None = None,
                 jobs: int | None = None, title: str | None = None,
                 formats: Iterable[str] = ("png",), dpi: int = 100, base_size: float = 11,
                 strict: bool = False, command: str | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 telemetry: Iterable[str] = (), all_metrics: bool = False,
                 source: str | None = None, metric: str | None = None,
                 pages: int | None = None,
                 reading: Callable[[int, int], None] | None = None) -> Report:
    """Build (or bring up to date) the report of every history under ``roots``.

    ``roots``: directories (searched for ``*.csv``) and files. ``labels``: a
    lookup or labels file (facet order and names). ``group_by``: fields to
    compare runs by (default: those of :data:`DEFAULT_GROUP_BY` that vary).
    ``jobs``: worker processes (default: CPU count; 1 renders in this
    process). ``formats``: figure formats; a PNG is added for the thumbnails
    when neither PNG nor SVG is asked for. ``command``: shown in the report.
    ``progress(done, total)`` is called as figures finish, ``reading(done,
    total)`` as chunks of histories are read. ``telemetry``:
    more series that are telemetry (drawn in each run's telemetry figure, no
    stops, no ``best_`` columns). ``all_metrics``: figures draw the metrics
    the labels do not name too. ``source`` forces one reader. ``metric``:
    the series the factor comparison reads (:func:`histkit.analysis.compare.compare_runs`;
    default: the validation series of the first labelled metric).

    ``pages``: the most runs that get figures, a page and a row in the
    index (default :data:`PAGES`; a page takes up to a second of CPU). A
    larger study is read chunk by chunk, in the memory of one chunk: its
    summary tables, diagnosis, comparisons and factor analysis cover every
    run, and the pages go to the best runs by the headline metric and the
    runs diagnosed as failed, half each (:attr:`Report.shown` says which).

    Workers are started with ``spawn`` (polars dislikes ``fork``), so a script
    calling this with ``jobs`` > 1 needs the usual ``if __name__ ==
    "__main__":`` guard.
    """
    settings = _settings(labels, tolerance, formats, dpi, base_size, telemetry, all_metrics)
    pages = PAGES if pages is None else pages
    _check_pages(pages)
    candidates = _candidate_groups(group_by)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out / LOCK):  # builds into one directory take turns
        problems: list[HistkitError] = []
        study = _read(roots, strict, settings, problems, source, candidates, pages, reading)
        _check_metric(study.metrics, metric)
        groups = _group_fields(group_by, study.fields)
        shown, selection = _choose(study.summary, settings, pages)
        long = study.long
        if long is None:  # too many runs to keep: read the shown ones again
            again = read_histories(shown, source=source)
            problems += again.problems
            long = again.histories.with_columns(pl.col("path").cast(pl.String))
        old = _load_manifest(out / MANIFEST)
        tasks, skipped, manifest = _plan(out, study, shown, groups, long, settings, old,
                                         problems)
        done = _render(out, tasks, jobs, progress, problems)
        _record(manifest, tasks, done)
        summary = _with_figures(study.summary, manifest)
        comparisons = {g: _comparison_table(summary, g, _headline(summary, settings))
                       for g in groups}
        factors = _factors(summary, metric, settings, problems)
        _write_tables(out, summary)
        index = _write_index(out, summary, comparisons, manifest, problems, settings,
                             title=title, command=command, factors=factors, shown=shown,
                             selection=selection)
        write_atomic(out / MANIFEST, json.dumps(manifest, indent=1).encode())
        removed = _remove_stale(out, old, manifest)
    rendered = [t["key"] for t in tasks if t["kind"] == "run" and t["key"] in done]
    pages_done = [t["key"] for t in tasks if t["kind"] == "page" and t["key"] in done]
    return Report(out, index, rendered, skipped, removed, comparisons, summary, problems,
                  pages_done, factors, shown)


# ---------------------------------------------------------------------------
# inputs


def check_settings(labels, tolerance, formats, dpi, pages=None) -> None:
    """The checks a report makes of its settings before drawing anything (the
    pipeline runs them before it trains)."""
    _settings(labels, tolerance, formats, dpi, 11.0)
    if pages is not None:
        _check_pages(pages)


def _check_pages(pages) -> None:
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 0:
        raise OptionError(f"pages should be a whole number, 0 or more; got {pages!r}")


def _settings(labels, tolerance, formats, dpi, base_size, telemetry=(),
              all_metrics=False) -> _Settings:
    fmts = []
    for f in formats:
        f = f.strip().lower().lstrip(".")
        if f not in REPORT_FORMATS:
            raise OptionError(f"figure format should be one of {', '.join(REPORT_FORMATS)}; "
                              f"got {f!r}")
        fmts.append(f)
    if not fmts:
        raise OptionError("give at least one figure format (png, pdf or svg)")
    if "png" not in fmts and "svg" not in fmts:
        fmts.append("png")  # the thumbnails need an image a browser can show
    return _Settings(tuple(load_labels(labels).items()), check_tolerance(tolerance),
                     tuple(dict.fromkeys(fmts)), int(dpi), float(base_size),
                     parse_telemetry(telemetry), bool(all_metrics))


@dataclasses.dataclass
class _Study:
    """What one pass over the histories leaves: every good run, its name
    fields, summary row (with its diagnosis) and findings, the comparison
    curves, and the histories themselves when every run will be shown."""

    runs: dict[str, _Run]
    fields: pl.DataFrame
    summary: pl.DataFrame
    found: pl.DataFrame
    curves: dict[str, GroupCurves]
    telemetry: set[str]  # histories with telemetry
    metrics: set[str]  # every series name
    long: pl.DataFrame | None


def _read(roots, strict, settings, problems, source, groups, pages, reading=None) -> _Study:
    """Read every history, chunk by chunk; the good ones become runs with a
    content digest. The histories are kept when there are no more than
    ``pages`` of them (all shown), else only what the report needs of them."""
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    paths = find_histories(roots, problems=problems)
    paths = list(dict.fromkeys(os.path.normpath(p) for p in paths))
    keep = len(paths) <= pages
    runs: dict[str, _Run] = {}
    fields, summaries, found, longs = [], [], [], []
    curves = {g: GroupCurves(g) for g in groups}
    with_telemetry: set[str] = set()
    metrics: set[str] = set()
    chunks = read_chunks(paths, chunk=CHUNK, source=source, digests=True, progress=reading)
    for start, batch in zip(itertools.count(0, CHUNK), chunks):
        problems += batch.problems
        chunk = _good_runs(paths[start:start + CHUNK], batch, strict, settings, problems)
        offset = len(runs)  # run ids of the comparison curves go on across chunks
        runs.update(chunk)
        long = _long_of(batch, chunk)
        names = _fields(chunk)
        findings = _findings(long, settings.telemetry).with_columns(pl.col("path")
                                                                    .cast(pl.String))
        summary = summarise(long, names, settings.tolerance, telemetry=settings.telemetry)
        if long.height:
            summary = summary.join(_diagnosis(findings, long), on="path", how="left",
                                   maintain_order="left")
        fields.append(owned(names))
        summaries.append(owned(summary))
        found.append(owned(findings))
        series = batch.histories["metric"].unique().cast(pl.String).to_list()
        metrics.update(series)
        with_telemetry |= _telemetry_paths(batch, series, settings)
        if curves and long.height:
            _gather(curves, long, names, offset, settings.telemetry)
        if keep:
            longs.append(long.with_columns(pl.col("path").cast(pl.String)))
    return _Study(runs, _concat(fields), _concat(summaries), _concat(found), curves,
                  with_telemetry, metrics, _concat(longs) if keep else None)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Chunks' tables as one (a chunk may lack a series another has)."""
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def _good_runs(paths: list[str], batch: Batch, strict: bool, settings: _Settings,
               problems: list) -> dict[str, _Run]:
    """The runs of the histories read without a problem and named well enough."""
    bad = {e.path for e in batch.problems}
    runs: dict[str, _Run] = {}
    for path in paths:
        if path in bad:
            continue
        try:
            parsed = run_from_path(path, strict=strict, name=batch.name(path))
            data = fingerprint(path, batch.digests.get(path))
        except (HistkitError, OSError) as exc:
            problems.append(exc if isinstance(exc, HistkitError)
                            else HistkitError(f"cannot read: {exc}", path=path))
            continue
        name = parsed.name
        runs[path] = _Run(path, parsed, _stem(name, path), settings.digest(name, data))
    return runs


def _long_of(batch: Batch, paths) -> pl.DataFrame:
    """The rows of these histories (``path`` stays the batch's Enum)."""
    long = batch.histories
    if len(paths) == len(batch.paths):
        return long
    return long.filter(pl.col("path").is_in(pl.Series(list(paths), dtype=long["path"].dtype)))


def _gather(curves: dict[str, GroupCurves], long: pl.DataFrame, fields: pl.DataFrame,
            offset: int, telemetry) -> None:
    """Add a chunk's validation curves to every comparison's, aggregated once
    for all of them: per combination of the compared fields' values. Runs are
    numbered from ``offset`` (an integer groups much faster than a name in
    plotnine)."""
    groups = list(curves)
    keys = fields.select("path", (pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("run"),
                         *[pl.col(g).cast(pl.String).fill_null("(none)") for g in groups])
    combos = keys.select(groups).unique(maintain_order=True).with_row_index("_combo")
    keys = keys.join(combos, on=groups, how="left", maintain_order="left")
    # the rows' Enum codes pick their run: no join on millions of path strings
    codes = (pl.DataFrame({"path": long["path"].dtype.categories})
             .with_row_index("_code").join(keys, on="path", how="inner")
             .select(pl.col("_code").cast(pl.UInt32), "run", "_combo"))
    rows = (validation(metric_filter(long, telemetry))
            .with_columns(pl.col("path").to_physical().cast(pl.UInt32).alias("_code"))
            .join(codes, on="_code", how="inner"))
    part = moments(rows, ["_combo"])
    for g, c in curves.items():
        c.add_moments(part.join(combos.select("_combo", g), on="_combo").drop("_combo"),
                      keys.select(g, "run"),
                      lambda keep: rows.join(keep, on="run", how="inner"))


def _stem(name: str, path: str) -> str:
    """A file-system and URL safe figure name, unique per input path."""
    return f"{safe_name(name)}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def _fields(runs: dict[str, _Run]) -> pl.DataFrame:
    """Parsed run-name fields of the good runs (``run`` is the name)."""
    return fields_table({path: run.parsed for path, run in runs.items()})


def _candidate_groups(group_by) -> list[str]:
    """The fields to gather comparison curves for while reading: those asked
    for (checked), or every default one (those that vary are drawn)."""
    if group_by is None:
        return list(DEFAULT_GROUP_BY)
    groups = list(dict.fromkeys(group_by))
    for g in groups:
        if g not in GROUP_FIELDS:
            raise OptionError(f"cannot group by {g!r}: should be one of "
                              f"{', '.join(GROUP_FIELDS)}")
    return groups


def _group_fields(group_by, fields: pl.DataFrame) -> list[str]:
    """The comparison fields: those asked for, or the defaults that vary."""
    if not fields.height:
        return []
    if group_by is None:
        return [g for g in DEFAULT_GROUP_BY if fields[g].n_unique() > 1]
    return _candidate_groups(group_by)


def _choose(summary: pl.DataFrame, settings: _Settings, pages: int
            ) -> tuple[list[str], str | None]:
    """The runs that get figures and a page (in the summary's order), and,
    when that is not all of them, a sentence saying which."""
    paths = summary["path"].to_list()
    if len(paths) <= pages:
        return paths, None
    if not pages:
        return [], "none (--pages 0)"
    metrics = _headline(summary, settings)
    order, what = summary, "in path order"
    if metrics:
        m = metrics[0]
        order = summary.sort(f"best_val_{m}", descending=not is_loss_like(m), nulls_last=True,
                             maintain_order=True)
        what = f"by the best validation {dict(settings.labels).get(m, m)}"
    ranked = order["path"].to_list()
    chosen = ranked[:pages - pages // 2]
    taken = set(chosen)
    failed = ([p for p in summary.filter(pl.col("diagnosis") == "failed")["path"]
               if p not in taken] if "diagnosis" in summary.columns else [])
    failed = failed[:pages - len(chosen)]
    taken.update(failed)
    best = chosen + [p for p in ranked if p not in taken][:pages - len(chosen) - len(failed)]
    taken.update(best)
    why = f"the {len(best):,} best runs {what}"
    if failed:
        why += f" and {len(failed):,} of the runs diagnosed as failed"
    return [p for p in paths if p in taken], why


_PARTS = ("runs", "pages", "comparisons")


def _load_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {part: dict(data.get(part) or {}) for part in _PARTS}


# ---------------------------------------------------------------------------
# what to render


def _plan(out, study: _Study, shown: list[str], groups, long, settings, old, problems):
    """Tasks for figures and pages of the ``shown`` runs whose digest changed
    or whose files are missing, and for the comparisons; the new manifest
    starts with those that are reused. A task carries its run's history
    (from ``long``, the shown runs' rows) and a page its run's findings (the
    study's diagnosis)."""
    manifest = {"histkit": __version__, **{part: {} for part in _PARTS}}
    tasks, skipped, pages = [], [], []
    frames = None
    found = study.found.filter(pl.col("path").is_in(shown))
    findings = found.drop("run").partition_by("path", as_dict=True, include_key=False)
    none = found.clear().drop("path", "run")

    def frame(path):
        nonlocal frames
        if frames is None:
            frames = long.partition_by("path", as_dict=True, include_key=False)
        return frames.get((path,))

    code = _page_code()
    field_rows = {r["path"]: r for r in
                  study.fields.filter(pl.col("path").is_in(shown)).iter_rows(named=True)}
    for path in shown:
        run, hist = study.runs[path], frame(path)
        if hist is None:  # gone or broken since it was first read (a problem says so)
            continue
        files = [f"runs/{run.stem}.{fmt}" for fmt in settings.formats]
        telemetry = [f"runs/{run.stem}.telemetry.png"] if path in study.telemetry else []
        entry = {"digest": run.digest, "name": run.name, "files": files + telemetry,
                 "telemetry": telemetry}
        if _fresh(out, old["runs"].get(path), entry):
            manifest["runs"][path] = entry
            skipped.append(path)
        else:
            tasks.append({"kind": "run", "key": path, "entry": entry, "name": run.name,
                          "hist": hist, "settings": settings})
        # the run's page: its own digest (history, probes, sidecar, page code)
        probes, probe_digest = _probe_digest(path)
        sidecar, sidecar_bytes = _sidecar(path, problems)
        page = {"digest": settings.digest("page", run.digest, probe_digest, sidecar_bytes, code,
                                          json.dumps(telemetry)),
                "files": [f"runs/{run.stem}.html"], "probes": probes}
        previous = old["pages"].get(path)
        if previous and previous.get("digest") == page["digest"]:
            page["files"] = previous.get("files") or page["files"]
        if _fresh(out, previous, page):
            manifest["pages"][path] = page
            continue
        pages.append({"kind": "page", "key": path, "entry": page, "name": run.name,
                      "stem": run.stem, "hist": hist, "settings": settings,
                      "probes": probes, "sidecar": sidecar,
                      "sidecar_path": _sidecar_path(path) if sidecar_bytes else None,
                      "fields": {k: v for k, v in field_rows.get(path, {}).items()
                                 if k not in ("path", "run")},
                      "figures": files, "telemetry": telemetry,
                      "findings": findings.get((path,), none)})
    # pages with probes draw four figures: they go first, those without last
    tasks = [p for p in pages if p["probes"]] + tasks + [p for p in pages if not p["probes"]]
    all_digests = "".join(sorted(r.digest for r in study.runs.values()))
    for g in groups:
        files = [f"compare/{g}.{fmt}" for fmt in settings.formats]
        entry = {"digest": settings.digest(g, all_digests + _GROUP_FIGURE), "files": files}
        if _fresh(out, old["comparisons"].get(g), entry):
            manifest["comparisons"][g] = entry
            continue
        # the longest tasks go first, so no worker is left with one at the end
        tasks.insert(0, {"kind": "compare", "key": g, "entry": entry,
                         "curves": study.curves[g], "settings": settings})
    return tasks, skipped, manifest


def _page_code() -> str:
    """A digest of what draws a run page besides its data: the template, the
    style sheet and the probe figures' code (a new histkit redraws pages)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for f in (here / "templates/run.html.j2", here / "templates/report.css",
              here.parent / "probe_plots.py"):
        with contextlib.suppress(OSError):
            h.update(f.read_bytes())
    return h.hexdigest()


def _probe_digest(path: str) -> tuple[bool, str]:
    """Whether the history has probes beside it, and a content digest of them."""
    from ...probes import probes_dir

    if not path.endswith(".csv"):
        return False, ""
    folder = probes_dir(path)
    if not folder.is_dir():
        return False, ""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            h.update(str(f.relative_to(folder)).encode() + b"\0")
            with contextlib.suppress(OSError):
                h.update(hashlib.sha256(f.read_bytes()).digest())
    return True, h.hexdigest()


def _sidecar_path(path: str) -> Path | None:
    """``<run>.json`` beside a ``<run>.csv`` history (its settings), if any."""
    p = Path(path)
    if p.suffix.lower() != ".csv":
        return None
    side = p.with_suffix(".json")
    return side if side.is_file() else None


def _sidecar(path: str, problems: list) -> tuple[dict | None, bytes]:
    """The sidecar's settings as a flat ``{key: text}`` (nested keys dotted)
    and its bytes; a sidecar that is not a JSON object is a problem."""
    side = _sidecar_path(path)
    if side is None:
        return None, b""
    try:
        data = side.read_bytes()
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ValueError(f"a JSON object was expected, not {type(value).__name__}")
    except (OSError, ValueError) as exc:
        problems.append(HistkitError(f"the run's settings file cannot be read: {exc}",
                                     path=str(side)))
        return None, b""
    flat: dict[str, str] = {}

    def walk(prefix, v):
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        else:
            flat[prefix] = v if isinstance(v, str) else json.dumps(v)

    walk("", value)
    return flat, data


def _telemetry_paths(batch: Batch, series: list[str], settings: _Settings) -> set[str]:
    """The histories that hold telemetry (learning rate, times, memory);
    ``series``: the batch's series names."""
    long = batch.histories
    names = telemetry_names(series, settings.telemetry)
    if not names:
        return set()
    return set(long.filter(pl.col("metric").is_in(names))["path"].unique()
               .cast(pl.String).to_list())


def _fresh(out: Path, old: dict | None, new: dict) -> bool:
    return (bool(old) and old.get("digest") == new["digest"]
            and old.get("files") == new["files"]
            and all((out / f).is_file() for f in new["files"]))


def _render(out: Path, tasks: list[dict], jobs, progress, problems) -> set[str]:
    """Run the tasks (in worker processes when ``jobs`` > 1); return the keys
    that succeeded and add a problem for each that failed."""
    done: set[str] = set()
    total = len(tasks)
    if progress:
        progress(0, total)
    if not tasks:
        return done
    jobs = min(jobs or os.cpu_count() or 1, total)
    finished = 0

    def collect(task, result):
        nonlocal finished
        finished += 1
        error, files = result if isinstance(result, tuple) else (result, None)
        if files is not None:
            task["entry"]["files"] = files
            task["written"] = True
        if error is None:
            done.add(task["key"])
        elif task["kind"] == "run":
            problems.append(HistkitError(f"cannot draw the figure: {error}", path=task["key"]))
        elif task["kind"] == "page":
            problems.append(HistkitError(f"run page: {error}", path=task["key"]))
        else:
            problems.append(HistkitError(f"comparison by {task['key']}: cannot draw: {error}"))
        if progress:
            progress(finished, total)

    if jobs <= 1:
        for task in tasks:
            collect(task, _render_task(str(out), task))
        return done
    from ..plot import prepare_process

    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"),
                             initializer=prepare_process) as pool:
        futures = {pool.submit(_render_task, str(out), t): t for t in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker is one problem
                result = f"{type(exc).__name__}: {exc}"
            collect(futures[future], result)
    return done


def _render_task(out: str, task: dict):
    """Draw one figure in every format (in a worker); the error text or None.
    A page returns ``(error or None, the files it wrote)``."""
    if task["kind"] == "page":
        from .page import render_page

        return render_page(out, task)

    from plotnine import labs

    from ..plot import plot_group_curves, plot_history, plot_telemetry, save_plot

    s: _Settings = task["settings"]
    lookup = dict(s.labels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hist = task.get("hist")
            telemetry = task["entry"].get("telemetry", [])
            if task["kind"] == "run":
                segs = early_stoppings(hist, s.tolerance, telemetry=s.telemetry)
                fig = plot_history(hist, lookup, segs, s.base_size, all_metrics=s.all_metrics,
                                   telemetry=s.telemetry) + labs(caption=task["name"])
            else:
                fig = plot_group_curves(task["curves"], lookup, s.base_size,
                                        all_metrics=s.all_metrics)
            for f in task["entry"]["files"]:
                if f not in telemetry:
                    save_plot(fig, Path(out) / f, dpi=s.dpi)
            for f in telemetry:
                save_plot(plot_telemetry(hist, s.base_size, telemetry=s.telemetry)
                          + labs(caption=f"telemetry of {task['name']}"), Path(out) / f,
                          dpi=s.dpi)
    except Exception as exc:  # noqa: BLE001 - reported as a problem of this figure
        return f"{type(exc).__name__}: {exc}"
    return None


def _record(manifest: dict, tasks: list[dict], done: set[str]) -> None:
    part = {"run": "runs", "page": "pages", "compare": "comparisons"}
    for t in tasks:
        if t["key"] in done:
            manifest[part[t["kind"]]][t["key"]] = t["entry"]
        elif t["kind"] == "page" and t.get("written"):
            # written with a problem (unreadable probes): linked, and drawn again next time
            manifest["pages"][t["key"]] = {**t["entry"], "digest": None}


_OURS = re.compile(r"(runs|compare)/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?")


def _remove_stale(out: Path, old: dict, new: dict) -> list[str]:
    """Delete the files the new manifest no longer lists; return the runs gone."""
    keep = {f for part in _PARTS for e in new[part].values() for f in e["files"]}
    dirs = set()
    for part in _PARTS:
        for entry in old[part].values():
            for f in entry.get("files", []):
                if f not in keep and _OURS.fullmatch(f) and ".." not in f.split("/"):
                    with contextlib.suppress(FileNotFoundError):
                        (out / f).unlink()
                    if f.count("/") == 2:
                        dirs.add(out / f.rsplit("/", 1)[0])
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()  # only when empty
    return sorted(set(old["runs"]) - set(new["runs"]))


# ---------------------------------------------------------------------------
# tables


def _with_figures(summary: pl.DataFrame, manifest: dict) -> pl.DataFrame:
    """The summary with each run's figure (blank for a run without one)."""
    figures = {p: e["files"][0] for p, e in manifest["runs"].items() if e.get("files")}
    return summary.with_columns(
        pl.col("path").replace_strict(figures, default="", return_dtype=pl.String)
        .alias("figure"))


def _findings(long: pl.DataFrame, telemetry=()) -> pl.DataFrame:
    """The study's diagnosis, once: the summary and every run page read it
    (a page diagnosing its own run took 0.06 of its 0.07 s)."""
    from ...diagnosis import diagnose

    return diagnose(long, by=["path"], telemetry=telemetry)


def _diagnosis(found: pl.DataFrame, long: pl.DataFrame) -> pl.DataFrame:
    """Per run: ``diagnosis`` (failed, suspect, advice or healthy), the rule
    ids that fired, and the first finding with what to try."""
    from ...diagnosis import verdicts

    table = verdicts(found, long.select(pl.col("path").unique(maintain_order=True)
                                         .cast(pl.String)))
    return table.select("path", pl.col("verdict").alias("diagnosis"),
                        pl.col("rules").alias("diagnosis_rules"),
                        pl.col("diagnosis").alias("diagnosis_first"),
                        pl.col("advice").alias("diagnosis_advice"))


def _headline(summary: pl.DataFrame, settings: _Settings) -> list[str]:
    """Validation metrics shown in tables: the labelled ones (in label order)
    when any is present, else all."""
    metrics = [c[len("best_val_"):] for c in summary.columns
               if c.startswith("best_val_") and not c.endswith("_epoch")]
    labelled = [m for m, _ in settings.labels if m in metrics]
    return labelled or metrics


def _check_metric(have: set[str], metric: str | None) -> None:
    """A --metric the histories do not have fails before anything is drawn."""
    if metric is None or not have:
        return
    if metric not in have and metric.removeprefix("val_") not in have:
        raise OptionError(f"--metric {metric!r} is not a series of these runs; they have "
                          f"{', '.join(sorted(have))}")


def _factors(summary: pl.DataFrame, metric: str | None, settings: _Settings,
             problems: list):
    """Which factor matters (:mod:`histkit.analysis.compare`), or None with fewer than
    two runs; a metric the runs lack is a problem of the report."""
    from ...analysis.compare import compare_runs

    if summary.height < 2:
        return None
    try:
        return compare_runs(summary, metric, lookup=dict(settings.labels))
    except OptionError as exc:
        if metric is not None:
            raise
        problems.append(HistkitError(f"no factor comparison: {exc}"))
        return None


def _comparison_table(summary: pl.DataFrame, field: str, metrics: list[str]) -> pl.DataFrame:
    """Per value of ``field``: runs, and per validation metric the mean and
    standard deviation of the runs' best values, the best of them, and the
    median stop epoch."""
    aggs = [pl.len().alias("runs")]
    for m in metrics:
        best = pl.col(f"best_val_{m}")
        aggs += [best.mean().alias(f"mean_val_{m}"), best.std().alias(f"std_val_{m}"),
                 (best.min() if is_loss_like(m) else best.max()).alias(f"best_val_{m}"),
                 pl.col(f"stop_val_{m}_epoch").median().alias(f"stop_val_{m}_epoch")]
    from ...analysis.runs import COST

    aggs += [getattr(pl.col(col), how)().alias(col) for col, (_, how) in COST.items()
             if col in summary.columns]
    return (summary.group_by(pl.col(field).cast(pl.String).fill_null("(none)").alias(field))
            .agg(aggs).sort(field))


def _write_tables(out: Path, summary: pl.DataFrame) -> None:
    from ...files import atomic_target

    with atomic_target(out / "summary.csv") as tmp:
        summary.write_csv(tmp)
    with atomic_target(out / "summary.parquet") as tmp:
        summary.write_parquet(tmp, use_pyarrow=True)


# ---------------------------------------------------------------------------
# index.html


def _write_index(out, summary, comparisons, manifest, problems, settings, *, title, command,
                 factors=None, shown=None, selection=None):
    """Render index.html from the jinja2 templates (autoescaped). The runs
    table lists the ``shown`` runs (default: all); ``selection`` says which
    they are when they are not all."""
    from .page import template_env

    lookup = dict(settings.labels)
    metrics = _headline(summary, settings)
    varying = [f for f in _TABLE_FIELDS if summary.height and summary[f].n_unique() > 1]
    shared = {f: summary[f][0] for f in _TABLE_FIELDS
              if summary.height and f not in varying and summary[f][0] not in (None, "")}
    html = template_env().get_template("report.html.j2").render(
        title=title or f"histkit report: {out.name}",
        generated=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        version=__version__, command=command, tolerance=settings.tolerance,
        runs=_run_rows(summary if shown is None
                       else summary.filter(pl.col("path").is_in(shown)), manifest),
        total=summary.height, selection=selection, fields=varying, shared=shared,
        metrics=[(m, lookup.get(m, m)) for m in metrics],
        comparisons=[_comparison_view(g, t, manifest, metrics, lookup)
                     for g, t in comparisons.items()],
        factors=_factors_view(factors, lookup),
        cost="epoch_time_s" in summary.columns or "peak_mem_mb" in summary.columns,
        problems=[{"path": p.path or "", "message": p.message} for p in problems],
        summary_files=["summary.csv", "summary.parquet"])
    return write_atomic(out / "index.html", html.encode())


def _run_rows(summary: pl.DataFrame, manifest: dict) -> list[dict]:
    rows = []
    for row in summary.iter_rows(named=True):
        entry = manifest["runs"].get(row["path"], {})
        telemetry = entry.get("telemetry", [])
        files = [f for f in entry.get("files", []) if f not in telemetry]
        thumb = next((f for f in files if f.endswith((".png", ".svg"))), None)
        page_entry = manifest["pages"].get(row["path"], {})
        page = next(iter(page_entry.get("files", [])), None)
        shown = {k: str(v).lower() if isinstance(v, bool) else v for k, v in row.items()}
        rows.append({**shown, "files": files, "thumb": thumb, "page": page,
                     "page_probes": bool(page_entry.get("probes")),
                     "telemetry": telemetry[0] if telemetry else None})
    return rows


def _factors_view(factors, lookup: dict) -> dict | None:
    if factors is None:
        return None
    metric = factors.metric
    base = metric.removeprefix("val_")
    label = lookup.get(base, base) + (" (validation)" if metric.startswith("val_") else "")
    return {"metric": metric, "label": label, "method": factors.method,
            "better": "higher" if factors.higher_is_better else "lower",
            "importance": factors.importance.to_dicts(),
            "effects": factors.effects.filter(pl.col("pairs") > 0).to_dicts(),
            "levels": factors.levels.to_dicts()}


def _comparison_view(field, table: pl.DataFrame, manifest, metrics, lookup) -> dict:
    files = manifest["comparisons"].get(field, {}).get("files", [])
    return {"field": field, "files": files,
            "image": next((f for f in files if f.endswith((".png", ".svg"))), None),
            "rows": table.to_dicts(), "metrics": [(m, lookup.get(m, m)) for m in metrics]}


def _num(value, digits: int = 4) -> str:
    """Numbers for people: floats to ``digits`` significant digits, None as blank."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}g}"
    return str(value)
