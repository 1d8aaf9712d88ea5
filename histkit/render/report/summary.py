"""What the report makes of the study's summary (one row per run): the
headline metrics, which runs get figures and a page, the comparison table
per field, the factor analysis, and ``summary.csv`` / ``summary.parquet``
(with the diagnosis' ``findings.csv``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ...errors import HistkitError, OptionError
from ...metrics import is_loss_like
from .settings import Settings

__all__ = ["headline", "choose_shown", "with_figures", "comparison_table", "factor_analysis",
           "write_tables"]


def headline(summary: pl.DataFrame, settings: Settings) -> list[str]:
    """Validation metrics shown in tables: the labelled ones (in label order)
    when any is present, else all."""
    metrics = [c[len("best_val_"):] for c in summary.columns
               if c.startswith("best_val_") and not c.endswith("_epoch")]
    labelled = [m for m, _ in settings.labels if m in metrics]
    return labelled or metrics


def choose_shown(summary: pl.DataFrame, settings: Settings, pages: int
                 ) -> tuple[list[str], str | None]:
    """The runs that get figures and a page (in the summary's order), and,
    when that is not all of them, a sentence saying which: the best by the
    headline metric and those diagnosed as failed, half each."""
    paths = summary["path"].to_list()
    if len(paths) <= pages:
        return paths, None
    if not pages:
        return [], "none (--pages 0)"
    metrics = headline(summary, settings)
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


def with_figures(summary: pl.DataFrame, manifest: dict) -> pl.DataFrame:
    """The summary with each run's figure (blank for a run without one)."""
    figures = {p: e["files"][0] for p, e in manifest["runs"].items() if e.get("files")}
    return summary.with_columns(
        pl.col("path").replace_strict(figures, default="", return_dtype=pl.String)
        .alias("figure"))


def comparison_table(summary: pl.DataFrame, field: str, metrics: list[str]) -> pl.DataFrame:
    """Per value of ``field``: runs, and per validation metric the mean and
    standard deviation of the runs' best values, the best of them, and the
    median stop epoch."""
    aggs = [pl.len().alias("runs")]
    for m in metrics:
        best = pl.col(f"best_val_{m}")
        aggs += [best.mean().alias(f"mean_val_{m}"), best.std().alias(f"std_val_{m}"),
                 (best.min() if is_loss_like(m) else best.max()).alias(f"best_val_{m}"),
                 pl.col(f"stop_val_{m}_epoch").median().alias(f"stop_val_{m}_epoch")]
    from ...analysis.summary import COST

    aggs += [getattr(pl.col(col), how)().alias(col) for col, (_, how) in COST.items()
             if col in summary.columns]
    return (summary.group_by(pl.col(field).cast(pl.String).fill_null("(none)").alias(field))
            .agg(aggs).sort(field))


def factor_analysis(summary: pl.DataFrame, metric: str | None, settings: Settings,
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


def write_tables(out: Path, summary: pl.DataFrame, findings: pl.DataFrame) -> None:
    """``summary.csv`` and ``summary.parquet`` (a row per run), and
    ``findings.csv`` (a row per diagnosis finding: path, run, rule, severity,
    epoch, metric, data, evidence, advice), each written atomically."""
    from ...files import atomic_target

    with atomic_target(out / "summary.csv") as tmp:
        summary.write_csv(tmp)
    with atomic_target(out / "summary.parquet") as tmp:
        summary.write_parquet(tmp, use_pyarrow=True)
    with atomic_target(out / "findings.csv") as tmp:
        findings.write_csv(tmp)
