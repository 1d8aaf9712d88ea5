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
- ``summary.csv`` and ``summary.parquet``: one row per run; ``findings.csv``:
  one row per diagnosis finding;
- ``index.html``: the failed and suspect runs with every finding (rule,
  severity, epoch, evidence), a sortable, filterable table with thumbnails,
  the comparisons, the problems and the command that produced it (no network);
- ``manifest.json``: a content hash per figure and page, so a rebuild renders
  only what changed and removes the files of runs that are gone. A page
  depends on the history, its probes and sidecar (by content), the settings
  and the page's own template and plotting code.

Figures are rendered in worker processes; every file is written to a temporary
name and renamed, and a lock file serialises builds into the same directory,
so a reader or a second build never sees a half-written report. A history that
cannot be read becomes a problem, never a lost report. The library prints
nothing: it returns a :class:`Report`.

:func:`build_report` is a straight pipeline over the modules of this package:
:mod:`.settings` checks the options; :mod:`.study` reads every history once;
:mod:`.summary` picks the runs shown and makes the tables; :mod:`.manifest`
and :mod:`.tasks` tell what is out of date and draw it (:mod:`.figures`,
:mod:`.page`); :mod:`.index` writes ``index.html`` (templates through
:mod:`.templating`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Iterable

import polars as pl

from ...errors import HistkitError
from ...files import locked, remove_folder_temps
from .figures import RunFigure
from .index import write_index
from .manifest import MANIFEST, load_manifest, remove_stale, write_manifest
from .page import RunPage
from .settings import (DEFAULT_GROUP_BY, GROUP_FIELDS, PAGES, REPORT_FORMATS, candidate_groups,
                       check_metric, check_pages, check_settings, group_fields, make_settings)
from .study import read_study, shown_histories
from .summary import (choose_shown, comparison_table, factor_analysis, headline, with_figures,
                      write_tables)
from .tasks import plan_tasks, record, run_tasks

__all__ = ["build_report", "check_settings", "Report", "DEFAULT_GROUP_BY", "GROUP_FIELDS",
           "REPORT_FORMATS", "PAGES"]

LOCK = ".histkit-report.lock"


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
    settings = make_settings(labels, tolerance, formats, dpi, base_size, telemetry,
                             all_metrics)
    pages = PAGES if pages is None else pages
    check_pages(pages)
    candidates = candidate_groups(group_by)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    with locked(out / LOCK):  # builds into one directory take turns
        for folder, _, _ in os.walk(out):
            remove_folder_temps(folder)  # what a killed build left half-written
        problems: list[HistkitError] = []
        # read the study once, and choose the runs that get figures and a page
        study = read_study(roots, strict, settings, problems, source, candidates, pages,
                           reading, skip=out)
        check_metric(study.metrics, metric)
        groups = group_fields(group_by, study.fields)
        shown, selection = choose_shown(study.summary, settings, pages)
        long = shown_histories(study, shown, source, problems)
        # draw what is out of date
        old = load_manifest(out / MANIFEST)
        plan = plan_tasks(out, study, shown, groups, long, settings, old, problems)
        done = run_tasks(out, plan.tasks, jobs, progress, problems)
        record(plan.manifest, plan.tasks, done)
        # the tables and the index, then the manifest; files of runs gone go last
        summary = with_figures(study.summary, plan.manifest)
        metrics = headline(summary, settings)
        comparisons = {g: comparison_table(summary, g, metrics) for g in groups}
        factors = factor_analysis(summary, metric, settings, problems)
        write_tables(out, summary, study.found)
        index = write_index(out, summary, comparisons, plan.manifest, problems, settings,
                            title=title, command=command, factors=factors, shown=shown,
                            selection=selection, findings=study.found)
        write_manifest(out, plan.manifest)
        removed = remove_stale(out, old, plan.manifest)
    rendered = [t.key for t in plan.tasks if isinstance(t, RunFigure) and (t.part, t.key) in done]
    pages_done = [t.key for t in plan.tasks if isinstance(t, RunPage) and (t.part, t.key) in done]
    return Report(out, index, rendered, plan.skipped, removed, comparisons, summary, problems,
                  pages_done, factors, shown)
