"""histkit.analysis.curves: the comparison curves, gathered chunk by chunk."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from histkit.analysis.curves import GroupCurves


def study(runs: int = 11, epochs: int = 7, seed: int = 0) -> pl.DataFrame:
    """Validation and training rows of ``runs`` runs in groups a (6 runs),
    b (3) and c (2), of uneven lengths, with a missing value."""
    rng = np.random.default_rng(seed)
    rows = []
    for run in range(runs):
        group = "a" if run < 6 else "b" if run < 9 else "c"
        for epoch in range(epochs - run % 3):
            for metric in ("loss", "sdice"):
                for data in ("training", "validation"):
                    value = None if (run, epoch, metric) == (4, 2, "loss") else rng.normal()
                    rows.append((group, run, metric, data, epoch, value))
    return pl.DataFrame(rows, schema={"attention": pl.String, "run": pl.Int64,
                                      "metric": pl.String, "data": pl.String,
                                      "epoch": pl.Int64, "value": pl.Float64}, orient="row")


def whole(long: pl.DataFrame) -> pl.DataFrame:
    """What the figure drew before curves were gathered: one group_by."""
    return (long.filter(pl.col("data") == "validation").drop_nulls("value")
            .group_by("attention", "metric", "epoch")
            .agg(mean=pl.col("value").mean(), sd=pl.col("value").std().fill_null(0.0))
            .sort("attention", "metric", "epoch"))


@pytest.mark.parametrize("chunks", [1, 2, 4, 11])
def test_chunks_give_the_moments_of_the_whole_study(chunks):
    long = study()
    curves = GroupCurves("attention")
    for part in np.array_split(np.arange(11), chunks):
        curves.add(long.filter(pl.col("run").is_in(part.tolist())))
    assert curves.sizes == {"a": 6, "b": 3, "c": 2}
    assert curves.metrics == ["loss", "sdice"]
    banded = curves.banded()
    want = whole(long.filter(pl.col("attention") != "c"))
    assert banded.select("attention", "metric", "epoch").equals(
        want.select("attention", "metric", "epoch"))
    assert banded["mean"].to_list() == pytest.approx(want["mean"].to_list(), abs=1e-12)
    assert banded["sd"].to_list() == pytest.approx(want["sd"].to_list(), abs=1e-12)
    assert (banded["hi"] - banded["lo"]).to_list() == pytest.approx(
        (2 * banded["sd"]).to_list())
    # the small group is drawn run by run: all of its runs, nothing else
    single = curves.single()
    assert sorted(single["run"].unique()) == [9, 10]
    assert single.height == long.filter((pl.col("attention") == "c")
                                        & (pl.col("data") == "validation")).height


def test_a_group_keeps_the_curves_of_its_first_runs_only():
    long = study()
    curves = GroupCurves("attention", band_from=3)
    for run in range(11):
        curves.add(long.filter(pl.col("run") == run))
    kept = curves.kept.group_by("attention").agg(pl.col("run").unique().sort())
    assert dict(kept.iter_rows()) == {"a": [0, 1], "b": [6, 7], "c": [9, 10]}


def test_one_value_has_no_spread_and_nothing_validated_draws_nothing():
    curves = GroupCurves("dropout", band_from=1)
    curves.add(pl.DataFrame({"dropout": ["0.2"], "run": [0], "metric": ["loss"],
                             "data": ["validation"], "epoch": [0], "value": [0.5]}))
    assert curves.banded().select("mean", "sd").row(0) == (0.5, 0.0)
    empty = GroupCurves("attention")
    empty.add(study().filter(pl.col("data") == "training"))
    assert empty.metrics == [] and empty.banded().is_empty() and empty.single().is_empty()
