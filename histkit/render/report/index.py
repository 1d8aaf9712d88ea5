"""The report's ``index.html``: the answer first (problems, best runs, the
factor ranking, the comparisons), then the sortable, filterable table of the
shown runs with their thumbnails and links to their pages."""

from __future__ import annotations

import datetime
from pathlib import Path

import polars as pl

from ... import __version__
from ...files import write_atomic
from .templating import template_env
from .settings import Settings
from .summary import headline

__all__ = ["write_index", "TABLE_FIELDS", "FAILURES"]

#: the most failed or suspect runs the index lists with every finding (the
#: rest are in findings.csv: a study of 100,000 runs may have thousands)
FAILURES = 100

# fields shown in the runs table (those that vary; the rest are "shared settings")
TABLE_FIELDS = ("date", "model", "loss", "attention", "optimizer", "dataset", "height",
                "width", "channels", "n_train", "epochs", "levels", "base_filters",
                "dropout", "batch_size", "lr", "seed", "extra")


def write_index(out: Path, summary: pl.DataFrame, comparisons: dict[str, pl.DataFrame],
                manifest: dict, problems: list, settings: Settings, *, title, command,
                factors=None, shown=None, selection=None,
                findings: pl.DataFrame | None = None) -> Path:
    """Render index.html from the jinja2 templates (autoescaped). The runs
    table lists the ``shown`` runs (default: all); ``selection`` says which
    they are when they are not all. ``findings`` (the study's diagnosis, a
    row per finding with its ``path``) give the list of failures, each
    failed or suspect run with every finding, and the "why" of each run in
    the table."""
    lookup = dict(settings.labels)
    metrics = headline(summary, settings)
    table = summary if shown is None else summary.filter(pl.col("path").is_in(shown))
    failures, failures_total = _failures(summary, findings, manifest)
    why = _findings_of(findings, table["path"])
    varying = [f for f in TABLE_FIELDS if summary.height and summary[f].n_unique() > 1]
    shared = {f: summary[f][0] for f in TABLE_FIELDS
              if summary.height and f not in varying and summary[f][0] not in (None, "")}
    html = template_env().get_template("report.html.j2").render(
        title=title or f"histkit report: {out.name}",
        generated=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        version=__version__, command=command, tolerance=settings.tolerance,
        runs=_run_rows(table, manifest, why),
        failures=failures, failures_total=failures_total,
        total=summary.height, selection=selection, fields=varying, shared=shared,
        metrics=[(m, lookup.get(m, m)) for m in metrics],
        comparisons=[_comparison_view(g, t, manifest, metrics, lookup)
                     for g, t in comparisons.items()],
        factors=_factors_view(factors, lookup),
        cost="epoch_time_s" in summary.columns or "peak_mem_mb" in summary.columns,
        problems=[{"path": p.path or "", "message": p.message} for p in problems],
        summary_files=["summary.csv", "summary.parquet", "findings.csv"])
    return write_atomic(out / "index.html", html.encode())


def _findings_of(findings: pl.DataFrame | None, paths: pl.Series) -> dict[str, list[dict]]:
    """The findings of the runs at ``paths``, per path, in the diagnosis'
    order (a run's errors first, then by epoch)."""
    if findings is None or findings.is_empty() or paths.is_empty():
        return {}
    out: dict[str, list[dict]] = {}
    rows = findings.filter(pl.col("path").is_in(paths.cast(pl.String).implode())).select(
        "path", "rule", "severity", "epoch", "metric", "data", "evidence", "advice")
    for r in rows.iter_rows(named=True):
        out.setdefault(r.pop("path"), []).append(r)
    return out


def _failures(summary: pl.DataFrame, findings: pl.DataFrame | None,
              manifest: dict) -> tuple[list[dict], int]:
    """The list of failures: the failed runs, then the suspect ones (each in
    the summary's order), at most :data:`FAILURES`, each with its page (when
    it has one) and every finding; and how many runs failed or are suspect."""
    if "diagnosis" not in summary.columns:
        return [], 0
    bad = (summary.filter(pl.col("diagnosis").is_in(["failed", "suspect"]))
           .select("path", "run", "diagnosis")
           .sort(pl.col("diagnosis") != "failed", maintain_order=True))
    listed = bad.head(FAILURES)
    found = _findings_of(findings, listed["path"])
    rows = []
    for path, run, verdict in listed.iter_rows():
        page = next(iter(manifest["pages"].get(path, {}).get("files", [])), None)
        rows.append({"path": path, "run": run, "verdict": verdict, "page": page,
                     "findings": found.get(path, [])})
    return rows, bad.height


def _run_rows(summary: pl.DataFrame, manifest: dict, why: dict[str, list[dict]]) -> list[dict]:
    """A row of the runs table per run: its summary, figures, thumbnail,
    page and findings (``why``: per path)."""
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
                     "findings": why.get(row["path"], []),
                     "telemetry": telemetry[0] if telemetry else None})
    return rows


def _factors_view(factors, lookup: dict) -> dict | None:
    """The factor analysis (:class:`histkit.analysis.compare.Comparison`) as
    the template reads it."""
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
    """One comparison (its table and figure) as the template reads it."""
    files = manifest["comparisons"].get(field, {}).get("files", [])
    return {"field": field, "files": files,
            "image": next((f for f in files if f.endswith((".png", ".svg"))), None),
            "rows": table.to_dicts(), "metrics": [(m, lookup.get(m, m)) for m in metrics]}
