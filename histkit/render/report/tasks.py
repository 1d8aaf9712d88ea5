"""The report's render tasks: which figures and pages are out of date, and
drawing them in worker processes.

:func:`plan_tasks` compares each shown run's figure and page, and each
comparison figure, with the old manifest: what is fresh goes into the new
manifest as it is, the rest becomes a task (:class:`~.figures.RunFigure`,
:class:`~.page.RunPage`, :class:`~.figures.ComparisonFigure`).
:func:`run_tasks` draws them, and :func:`record` adds what they wrote to the
new manifest.
"""

from __future__ import annotations

import dataclasses
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, ClassVar, Protocol

import polars as pl

from ...errors import HistkitError
from ...sidecar import sidecar_path
from .figures import GROUP_FIGURE, ComparisonFigure, RunFigure
from .manifest import is_fresh, new_manifest, page_code, probe_digest
from .page import RunPage, run_settings
from .settings import Settings
from .study import Run, Study

__all__ = ["Task", "Plan", "plan_tasks", "run_tasks", "record"]


class Task(Protocol):
    """What every render task has: its manifest section and key, the entry
    it writes there, a way to draw it and to word its failure."""

    part: ClassVar[str]
    key: str
    entry: dict

    def draw(self, out: str) -> tuple[str | None, list[str] | None]: ...

    def problem(self, error: str) -> HistkitError: ...


@dataclasses.dataclass
class Plan:
    """What a build draws (``tasks``, longest first), which runs' figures it
    reuses (``skipped``), and the new manifest, so far with what is reused."""

    tasks: list[Task]
    skipped: list[str]
    manifest: dict


def plan_tasks(out: Path, study: Study, shown: list[str], groups: list[str],
               long: pl.DataFrame, settings: Settings, old: dict, problems: list) -> Plan:
    """Tasks for figures and pages of the ``shown`` runs whose digest changed
    or whose files are missing, and for the comparisons by ``groups``. A task
    carries its run's history (from ``long``, the shown runs' rows) and a
    page its run's findings (the study's diagnosis)."""
    manifest = new_manifest()
    figures: list[Task] = []
    pages: list[RunPage] = []
    skipped: list[str] = []
    frames = long.partition_by("path", as_dict=True, include_key=False) if shown else {}
    found = study.found.filter(pl.col("path").is_in(shown))
    findings = found.drop("run").partition_by("path", as_dict=True, include_key=False)
    none = found.clear().drop("path", "run")
    code = page_code()
    field_rows = {r["path"]: r for r in
                  study.fields.filter(pl.col("path").is_in(shown)).iter_rows(named=True)}
    for path in shown:
        run, hist = study.runs[path], frames.get((path,))
        if hist is None:  # gone or broken since it was first read (a problem says so)
            continue
        figure = _run_figure(run, hist, path in study.telemetry, settings)
        if _reuse(out, old, manifest, figure):
            skipped.append(path)
        else:
            figures.append(figure)
        page = _run_page(run, figure, settings, code, problems,
                         fields={k: v for k, v in field_rows.get(path, {}).items()
                                 if k not in ("path", "run")},
                         findings=findings.get((path,), none))
        previous = old["pages"].get(path)
        if previous and previous.get("digest") == page.entry["digest"]:
            page.entry["files"] = previous.get("files") or page.entry["files"]
        if not _reuse(out, old, manifest, page):
            pages.append(page)
    # pages with probes draw four figures: they go first, those without last
    tasks = [p for p in pages if p.probes] + figures + [p for p in pages if not p.probes]
    # the longest tasks go first, so no worker is left with one at the end
    tasks[:0] = reversed(_comparisons(out, study, groups, settings, old, manifest))
    return Plan(tasks, skipped, manifest)


def _reuse(out: Path, old: dict, manifest: dict, task: Task) -> bool:
    """Whether the task's files are fresh; then its entry goes into the new
    manifest as it is and it is not drawn."""
    if not is_fresh(out, old[task.part].get(task.key), task.entry):
        return False
    manifest[task.part][task.key] = task.entry
    return True


def _run_figure(run: Run, hist: pl.DataFrame, telemetry: bool, settings: Settings
                ) -> RunFigure:
    """The figure task of a run: one file per format, and the telemetry
    figure when its history has telemetry."""
    files = [f"runs/{run.stem}.{fmt}" for fmt in settings.formats]
    extra = [f"runs/{run.stem}.telemetry.png"] if telemetry else []
    entry = {"digest": run.digest, "name": run.name, "files": files + extra,
             "telemetry": extra}
    return RunFigure(run.path, entry, run.name, hist, settings)


def _run_page(run: Run, figure: RunFigure, settings: Settings, code: str, problems: list, *,
              fields: dict, findings: pl.DataFrame) -> RunPage:
    """The page task of a run, with its own digest: the history, probes,
    sidecar, page ``code``, the figures it links and its findings (a new
    rule or threshold redraws the pages it changes). A sidecar that cannot
    be read is a problem."""
    telemetry = figure.entry["telemetry"]
    probes, probe_hash = probe_digest(run.path)
    sidecar, sidecar_bytes = run_settings(run.path, problems)
    entry = {"digest": settings.digest("page", run.digest, probe_hash, sidecar_bytes, code,
                                       json.dumps(telemetry), findings.write_csv()),
             "files": [f"runs/{run.stem}.html"], "probes": probes}
    return RunPage(run.path, entry, run.name, run.stem, figure.hist, settings, probes, sidecar,
                   sidecar_path(run.path) if sidecar_bytes else None, fields,
                   [f for f in figure.entry["files"] if f not in telemetry], telemetry,
                   findings)


def _comparisons(out: Path, study: Study, groups: list[str], settings: Settings, old: dict,
                 manifest: dict) -> list[ComparisonFigure]:
    """The comparison figures out of date, in ``groups``' order; their digest
    is of every run's."""
    all_digests = "".join(sorted(r.digest for r in study.runs.values()))
    tasks = []
    for g in groups:
        entry = {"digest": settings.digest(g, all_digests + GROUP_FIGURE),
                 "files": [f"compare/{g}.{fmt}" for fmt in settings.formats]}
        task = ComparisonFigure(g, entry, study.curves[g], settings)
        if not _reuse(out, old, manifest, task):
            tasks.append(task)
    return tasks


def run_tasks(out: Path, tasks: list[Task], jobs: int | None,
              progress: Callable[[int, int], None] | None, problems: list
              ) -> set[tuple[str, str]]:
    """Draw the tasks (in worker processes when ``jobs`` > 1); return the
    ``(part, key)`` of those that succeeded (a run's figure and its page
    share a key) and add a problem for each that failed. ``progress(done,
    total)`` is called as they finish."""
    done: set[tuple[str, str]] = set()
    total = len(tasks)
    if progress:
        progress(0, total)
    if not tasks:
        return done
    jobs = min(jobs or os.cpu_count() or 1, total)
    finished = 0

    def collect(task: Task, result: tuple[str | None, list[str] | None]) -> None:
        nonlocal finished
        finished += 1
        error, files = result
        if files is not None:
            task.entry["files"] = files
            task.written = True
        if error is None:
            done.add((task.part, task.key))
        else:
            problems.append(task.problem(error))
        if progress:
            progress(finished, total)

    if jobs <= 1:
        for task in tasks:
            collect(task, task.draw(str(out)))
        return done
    from ...process import prepare_drawing

    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"),
                             initializer=prepare_drawing, initargs=(os.getpid(),)) as pool:
        futures = {pool.submit(_draw, str(out), t): t for t in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker is one problem
                result = f"{type(exc).__name__}: {exc}", None
            collect(futures[future], result)
    return done


def _draw(out: str, task: Task) -> tuple[str | None, list[str] | None]:
    """Draw one task (in a worker process)."""
    return task.draw(out)


def record(manifest: dict, tasks: list[Task], done: set[tuple[str, str]]) -> None:
    """Add the entries of the tasks that succeeded to the new manifest. A
    page written with a problem (unreadable probes) is recorded without a
    digest: linked from the index, and drawn again next time."""
    for t in tasks:
        if (t.part, t.key) in done:
            manifest[t.part][t.key] = t.entry
        elif isinstance(t, RunPage) and t.written:
            manifest["pages"][t.key] = {**t.entry, "digest": None}
