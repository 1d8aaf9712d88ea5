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

__all__ = ["write_index", "TABLE_FIELDS"]

# fields shown in the runs table (those that vary; the rest are "shared settings")
TABLE_FIELDS = ("date", "model", "loss", "attention", "optimizer", "dataset", "height",
                "width", "channels", "n_train", "epochs", "levels", "base_filters",
                "dropout", "batch_size", "lr", "seed", "extra")


def write_index(out: Path, summary: pl.DataFrame, comparisons: dict[str, pl.DataFrame],
                manifest: dict, problems: list, settings: Settings, *, title, command,
                factors=None, shown=None, selection=None) -> Path:
    """Render index.html from the jinja2 templates (autoescaped). The runs
    table lists the ``shown`` runs (default: all); ``selection`` says which
    they are when they are not all."""
    lookup = dict(settings.labels)
    metrics = headline(summary, settings)
    varying = [f for f in TABLE_FIELDS if summary.height and summary[f].n_unique() > 1]
    shared = {f: summary[f][0] for f in TABLE_FIELDS
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
    """A row of the runs table per run: its summary, figures, thumbnail and page."""
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
