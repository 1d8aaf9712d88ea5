"""histkit.analysis.compare: levels, paired effects and factor importance of a study."""

from __future__ import annotations

import math

import polars as pl
import pytest

from histkit.analysis.compare import compare_runs, default_metric
from histkit.errors import OptionError


def _study() -> pl.DataFrame:
    """UNet with and without attention, LinkNet without (attention exists for UNet
    only), dropout 0 and 0.2, seeds 0 and 1. val_sdice: UNet +0.10 over LinkNet,
    attention +0.02, dropout 0.2 -0.05 (seed 0) / -0.03 (seed 1), seed 1 +0.01."""
    rows = []
    for model, att in (("unet", False), ("unet", True), ("linknet", False)):
        for dropout in (0.0, 0.2):
            for seed in (0, 1):
                v = 0.80 + (0.10 if model == "unet" else 0) + (0.02 if att else 0) \
                    + 0.01 * seed - (0.0 if dropout == 0 else (0.05 if seed == 0 else 0.03))
                rows.append({"run": f"{model}_{att}_{dropout}_{seed}", "model": model,
                             "attention": att, "dropout": dropout, "seed": seed,
                             "best_val_sdice": v, "stop_val_sdice_epoch": 10 + seed,
                             "best_val_loss": 1 - v, "stop_val_loss_epoch": 12})
    return pl.DataFrame(rows)


def test_paired_effects_hold_everything_else_equal():
    c = compare_runs(_study(), "sdice")
    assert c.metric == "val_sdice" and c.higher_is_better
    eff = {(r["factor"], r["level"], r["reference"]): r for r in c.effects.iter_rows(named=True)}
    dr = eff[("dropout", "0.2", "0.0")]
    assert dr["pairs"] == 6 and dr["mean_diff"] == pytest.approx(-0.04)
    assert dr["std_diff"] == pytest.approx(0.01 * math.sqrt(6 / 5))  # -0.05 x3, -0.03 x3
    # attention is compared within UNet only: LinkNet has no attention=true partner
    att = eff[("attention", "true", "false")]
    assert att["pairs"] == 4 and att["mean_diff"] == pytest.approx(0.02)
    model = eff[("model", "unet", "linknet")]
    assert model["pairs"] == 4 and model["mean_diff"] == pytest.approx(0.10)


def test_levels_give_mean_spread_stop_and_best_run():
    lv = compare_runs(_study(), "val_sdice").levels
    link = lv.filter((pl.col("factor") == "model") & (pl.col("level") == "linknet")).row(
        0, named=True)
    assert link["runs"] == 4 and link["mean"] == pytest.approx(0.80 + 0.005 - 0.02)
    assert link["stop_mean"] == pytest.approx(10.5)
    assert link["best_run"] == "linknet_False_0.0_1" and link["best"] == pytest.approx(0.81)
    # a loss: lower is better, so the best run is the lowest
    loss = compare_runs(_study(), "val_loss")
    assert not loss.higher_is_better
    unet = loss.levels.filter((pl.col("factor") == "model") & (pl.col("level") == "unet"))
    assert unet["best_run"][0] == "unet_True_0.0_1"


def test_importance_ranks_factors_and_names_confounding():
    imp = compare_runs(_study(), "sdice").importance
    assert imp["factor"].to_list() == ["model", "dropout", "attention"]  # by mean |effect|
    row = {r["factor"]: r for r in imp.iter_rows(named=True)}
    assert row["model"]["mean_abs_effect"] == pytest.approx(0.10)
    assert 0 < row["attention"]["eta_squared"] < row["model"]["eta_squared"] < 1
    assert row["attention"]["confounded_with"] == "model=linknet"
    assert row["model"]["confounded_with"] == "attention=true"
    assert row["dropout"]["confounded_with"] == ""
    assert "seed" not in row  # a replicate, not a factor


def test_a_factor_whose_levels_never_meet_has_no_pairs():
    s = _study().filter(~((pl.col("model") == "linknet") & (pl.col("dropout") == 0.0))
                        & ~((pl.col("model") == "unet") & (pl.col("dropout") == 0.2)))
    c = compare_runs(s, "sdice", factors=["model", "dropout"])
    none = c.effects.filter(pl.col("factor") == "model").row(0, named=True)
    assert none["pairs"] == 0 and none["mean_diff"] is None
    assert c.importance.filter(pl.col("factor") == "model")["confounded_with"][0] == "dropout"


def test_default_metric_and_bad_input():
    s = _study()
    assert default_metric(s) == "val_loss"
    assert default_metric(s, {"sdice": "Dice", "loss": "Loss"}) == "val_sdice"
    with pytest.raises(OptionError, match="no series 'iou' in these runs; they have val_sdice"):
        compare_runs(s, "iou")
    with pytest.raises(OptionError, match="no factor 'colour'"):
        compare_runs(s, "sdice", factors=["colour"])
    with pytest.raises(OptionError, match="no runs to compare"):
        compare_runs(s.clear(), "sdice")


def test_short_labels_come_from_the_settings_that_differ():
    from histkit.analysis.compare import short_labels

    fields = pl.DataFrame({"run": ["a", "b", "c"], "model": ["unet"] * 3,
                           "attention": [True, False, True], "dropout": [0.2, 0.2, 0.0],
                           "lr": [None, None, None], "seed": [0, 0, 0]})
    assert short_labels(fields) == ["attention=true, DR20", "attention=false, DR20",
                                    "attention=true, DR0"]
    lr = pl.DataFrame({"run": ["a", "b"], "lr": [1e-3, None], "seed": [0, 1]})
    assert short_labels(lr) == ["LR1e-3, S0", "lr=default, S1"]
    same = pl.DataFrame({"run": ["x", "x"], "model": ["unet", "unet"]})
    assert short_labels(same) == ["x #1", "x #2"]


def test_side_by_side_keeps_the_differing_settings_and_the_metric():
    from histkit.analysis.compare import side_by_side

    s = _study().filter(pl.col("seed") == 0).head(3)
    table = side_by_side(s, "sdice")
    assert table.columns == ["label", "attention", "dropout", "best_val_sdice",
                             "stop_val_sdice_epoch", "run"]
    assert table["label"].to_list() == ["attention=false, DR0", "attention=false, DR20",
                                        "attention=true, DR0"]


def test_pairs_hold_the_factors_not_asked_about_equal_too():
    """Asking about dropout alone must not pair a UNet with attention against
    one without: attention still varies, so it still has to match."""
    c = compare_runs(_study(), "sdice", factors=["dropout"])
    [dr] = c.effects.rows(named=True)
    assert dr["pairs"] == 6 and dr["mean_diff"] == pytest.approx(-0.04)
    assert c.importance["factor"].to_list() == ["dropout"]


def test_read_summary_reads_a_tree_in_chunks_to_the_same_table(tmp_path, monkeypatch):
    from conftest import RUN, run_path, write_history

    from histkit import readers
    from histkit.analysis.compare import read_summary

    write_history(run_path(tmp_path, RUN), epochs=10)
    write_history(run_path(tmp_path, RUN + "_DR20"), epochs=8)
    telemetry = run_path(tmp_path, RUN + "_DR40")  # one run logs a series the others lack
    telemetry.write_text("epoch,loss,val_loss,epoch_time_s\n0,0.9,1.0,3.1\n1,0.5,0.6,3.0\n")
    whole = read_summary(tmp_path / "run")
    chunks = []
    real = readers.read_chunks

    def one_by_one(paths, **kw):
        for batch in real(paths, chunk=1, **kw):
            chunks.append(batch.paths)
            yield batch

    monkeypatch.setattr(readers, "read_chunks", one_by_one)
    chunked = read_summary(tmp_path / "run")
    assert len(chunks) == 3
    assert chunked.columns == whole.columns and chunked.equals(whole)
    assert whole["epoch_time_s"].null_count() == 2


def test_a_dated_run_beside_an_undated_history_is_compared(tmp_path):
    # the date differs (one has none): it was listed twice, a DuplicateError
    from histkit.analysis.compare import differing, side_by_side
    from histkit.analysis.summary import fields_table
    from histkit.names import parse_run_name, run_from_path

    dated = ("run/2026-12-02/unet_2d_bce/fat2_256x128x1/"
             "unet_2d_bce_Adam_fat2_256x128x1_N96_E24_L4_FBL16.csv")
    with pytest.warns(Warning):  # 'undated' is outside histkit's grammar
        fields = fields_table({dated: run_from_path(dated),
                               "x/undated.csv": parse_run_name("undated")})
    assert differing(fields).count("date") == 1
    table = side_by_side(fields.with_columns(best_val_loss=pl.Series([0.1, 0.2])), "val_loss")
    assert table.columns.count("date") == 1 and table.height == 2
