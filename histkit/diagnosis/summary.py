"""One line per run from its findings: failed, suspect, advice or healthy."""

from __future__ import annotations

import polars as pl

__all__ = ["verdicts", "VERDICTS"]


#: a run's verdict from the severity of its worst finding (no finding: healthy)
VERDICTS = {"error": "failed", "warning": "suspect", "info": "advice"}


def verdicts(findings: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """One line per run: ``verdict`` (failed, suspect, advice or healthy, from
    its worst finding: :data:`VERDICTS`), the rule ids in order, and its
    first finding's evidence and advice. ``runs`` holds every run (its key
    columns), so healthy runs get a line too."""
    keys = list(runs.columns)
    per_run = findings.group_by(keys, maintain_order=True).agg(
        verdict=pl.col("severity").first().replace_strict(VERDICTS, return_dtype=pl.String),
        rules=pl.col("rule").str.join(", "),
        diagnosis=pl.format("{} (epoch {}): {}", pl.col("rule"), pl.col("epoch"),
                            pl.col("evidence")).first(),
        advice=pl.col("advice").first())
    return (runs.join(per_run, on=keys, how="left", nulls_equal=True, maintain_order="left")
            .with_columns(pl.col("verdict").fill_null("healthy"),
                          pl.col("rules", "diagnosis", "advice").fill_null("")))
