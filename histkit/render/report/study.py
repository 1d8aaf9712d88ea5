"""Reading a study once: every history under the roots, chunk by chunk, in
the memory of one chunk.

Each chunk leaves its good runs (named, with a content digest), their name
fields, summary rows with their diagnosis, the diagnosis findings, and its
share of the comparison curves; the histories themselves are kept only
when every run will be shown (else :func:`shown_histories` reads the shown
ones again). Everything after this reads the :class:`Study`, not the files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
from pathlib import Path

import polars as pl

from ...analysis.curves import GroupCurves, moments, validation
from ...analysis.summary import fields_table, summarise
from ...errors import HistkitError
from ...files import safe_name
from ...metrics import metric_filter, telemetry_names
from ...names import RunName, run_from_path
from ...readers import (CHUNK, Batch, find_histories, fingerprint, owned, read_chunks,
                       read_histories)
from .settings import Settings

__all__ = ["Run", "Study", "read_study", "shown_histories"]


@dataclasses.dataclass
class Run:
    """A history read without a problem: its path, parsed name, the stem of
    its files in the report and a digest of its content and the settings."""

    path: str
    parsed: RunName  # the name and its fields
    stem: str
    digest: str

    @property
    def name(self) -> str:
        return self.parsed.name


@dataclasses.dataclass
class Study:
    """What one pass over the histories leaves: every good run, its name
    fields, summary row (with its diagnosis) and findings, the comparison
    curves, and the histories themselves when every run will be shown."""

    runs: dict[str, Run]
    fields: pl.DataFrame
    summary: pl.DataFrame
    found: pl.DataFrame
    curves: dict[str, GroupCurves]
    telemetry: set[str]  # histories with telemetry
    metrics: set[str]  # every series name
    long: pl.DataFrame | None


def read_study(roots, strict: bool, settings: Settings, problems: list, source: str | None,
               groups: list[str], pages: int, reading=None, skip: Path | None = None) -> Study:
    """Read every history under ``roots``, chunk by chunk; the good ones become
    runs with a content digest, and curves are gathered for every field in
    ``groups``. The histories are kept when there are no more than ``pages``
    of them (all shown), else only what the report needs of them.
    ``reading(done, total)`` is called as chunks are read. Files under
    ``skip`` (the report's own directory, when it lies in a root: its
    summary.csv is no history) are not read."""
    roots = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    paths = find_histories(roots, problems=problems)
    paths = list(dict.fromkeys(os.path.normpath(p) for p in paths))
    if skip is not None:
        inside = os.path.join(os.path.abspath(skip), "")
        paths = [p for p in paths if not os.path.abspath(p).startswith(inside)]
    keep = len(paths) <= pages
    runs: dict[str, Run] = {}
    fields, summaries, found, longs = [], [], [], []
    curves = {g: GroupCurves(g) for g in groups}
    with_telemetry: set[str] = set()
    metrics: set[str] = set()
    chunks = read_chunks(paths, chunk=CHUNK, source=source, digests=True, progress=reading)
    for start, batch in zip(itertools.count(0, CHUNK), chunks):
        problems += batch.problems
        # the chunk's histories: its files, and the further trainings found in them
        chunk = _good_runs(batch.paths, batch, strict, settings, problems)
        offset = len(runs)  # run ids of the comparison curves go on across chunks
        runs.update(chunk)
        long = _long_of(batch, chunk)
        names = fields_table({path: run.parsed for path, run in chunk.items()})
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
    return Study(runs, _concat(fields), _concat(summaries), _concat(found), curves,
                 with_telemetry, metrics, _concat(longs) if keep else None)


def shown_histories(study: Study, shown: list[str], source: str | None,
                    problems: list) -> pl.DataFrame:
    """The histories of the ``shown`` runs (``path`` as text): those the study
    kept, or, when it had too many runs to keep, the shown ones read again."""
    if study.long is not None:
        return study.long
    again = read_histories(shown, source=source)
    problems += again.problems
    return again.histories.with_columns(pl.col("path").cast(pl.String))


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Chunks' tables as one (a chunk may lack a series another has)."""
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


def _good_runs(paths: list[str], batch: Batch, strict: bool, settings: Settings,
               problems: list) -> dict[str, Run]:
    """The runs of the histories read without a problem and named well enough."""
    bad = {e.path for e in batch.problems}
    runs: dict[str, Run] = {}
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
        runs[path] = Run(path, parsed, _stem(name, path), settings.digest(name, data))
    return runs


def _stem(name: str, path: str) -> str:
    """A file-system and URL safe figure name, unique per input path."""
    return f"{safe_name(name)}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def _long_of(batch: Batch, paths) -> pl.DataFrame:
    """The rows of these histories (``path`` stays the batch's Enum)."""
    long = batch.histories
    if len(paths) == len(batch.paths):
        return long
    return long.filter(pl.col("path").is_in(pl.Series(list(paths), dtype=long["path"].dtype)
                                            .implode()))


def _findings(long: pl.DataFrame, telemetry=()) -> pl.DataFrame:
    """The study's diagnosis, once: the summary and every run page read it
    (a page diagnosing its own run again would spend most of its time there)."""
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


def _telemetry_paths(batch: Batch, series: list[str], settings: Settings) -> set[str]:
    """The histories that hold telemetry (learning rate, times, memory);
    ``series``: the batch's series names."""
    long = batch.histories
    names = telemetry_names(series, settings.telemetry)
    if not names:
        return set()
    return set(long.filter(pl.col("metric").is_in(names))["path"].unique()
               .cast(pl.String).to_list())


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
