"""histkit.diagnosis (histkit.diagnose) and `histkit diagnose`, on real trainings.

The histories are the tests' own, in tests/fixtures/diagnosis/ (made by
tests/fixtures/make_diagnosis.py; its README says how): faulty and healthy
runs of histkit's trainer, with faults reachable from its options, as the
cases of bench/diagnose_devset.py; a small healthy study (study/, the demo
study of run/ at a tiny size); and seed 002's double-softmax run with Keras'
CSVLogger (copied from bench/diagnose_dev/keras/, made by bench/keras_seed002.py).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from histkit import read_histories, read_history, to_history
from histkit.diagnosis import (FINDING_COLUMNS, RULES, diagnose, double_softmax_floor,
                              infer_classes, verdicts)
from histkit.errors import HistkitWarning, OptionError

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "fixtures" / "diagnosis"
DEMO = sorted((DEV / "study").glob("*/*/*/*.csv"))  # a healthy study; DEMO[1]: no finding


def dev_run(case: str) -> Path:
    found = sorted((DEV / "runs" / case).glob("*/*/*/*.csv"))
    assert found, f"no history for {case}: run tests/fixtures/make_diagnosis.py"
    return found[0]


def rules_of(path: Path, **kw) -> list[str]:
    return diagnose(read_history(path), run=path.stem, **kw)["rule"].to_list()


def test_columns_and_empty_result_of_a_healthy_run():
    out = diagnose(read_history(DEMO[1]), run="demo")
    assert out.columns == list(FINDING_COLUMNS)
    assert out.schema["epoch"] == pl.Int64


def test_demo_study_has_no_error_or_warning():
    batch = read_histories(DEMO)
    out = diagnose(batch.histories)
    serious = out.filter(pl.col("severity").is_in(["error", "warning"]))
    assert serious.is_empty(), serious.select("run", "rule", "evidence").rows()
    assert set(out["severity"]) <= {"info"}


@pytest.mark.parametrize("case, first", [
    ("diverged_sgd_lr100", "diverged"),
    ("diverged_bce_sgd_lr1e4", "diverged"),
    ("stuck_ce_sgd_lr1e-6", "stuck"),
    ("stuck_mdice_sgd_lr1e-6", "stuck"),
    ("overfit_noisy_n4", "overfitting"),
    ("oscillating_mdice_adam_lr0.1", "oscillating"),
])
def test_faulty_trainings_are_diagnosed_first_by_their_fault(case, first):
    out = diagnose(read_history(dev_run(case)), run=case)
    assert out["rule"][0] == first, out.select("rule", "evidence").rows()
    assert out["severity"][0] == RULES[first].severity


def test_stuck_cross_entropy_names_chance_for_three_classes():
    out = diagnose(read_history(dev_run("stuck_ce_sgd_lr1e-6")), run="x")
    row = out.row(0, named=True)
    assert row["rule"] == "stuck" and row["metric"] == "loss" and row["data"] == "training"
    assert "ln 3 = 1.099" in row["evidence"]


def test_seed002_double_softmax_needs_k_and_finds_the_floor():
    path = DEV / "keras" / "double_softmax.csv"
    assert "double_softmax" not in rules_of(path)  # K unknown: no floor to compare with
    out = diagnose(read_history(path), 4, run="keras")
    assert out["rule"][0] == "double_softmax"
    assert f"{double_softmax_floor(4):.4g}" in out["evidence"][0]


def test_double_softmax_floor():
    assert double_softmax_floor(4) == pytest.approx(0.7437, abs=1e-4)
    # a softmax input in [0, 1]: the best logit gap is 1, so p(true) = e / (e + K - 1)
    assert double_softmax_floor(3) == pytest.approx(-math.log(math.e / (math.e + 2)))


def test_infer_classes_from_per_class_scores():
    assert infer_classes(["loss", "sdice", "background_dice", "vsat_dice", "scat_dice"]) == 3
    assert infer_classes(["loss", "accuracy", "mean_iou"]) is None


def _wide(**cols) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    return pl.DataFrame({"epoch": list(range(n)), **cols})


def test_nan_to_the_end_is_divergence():
    wide = _wide(loss=[0.9, 0.5, 0.4, None, None], val_loss=[1.0, 0.6, 0.5, None, None])
    out = diagnose(wide, run="r")
    assert out.row(0, named=True)["rule"] == "diverged"
    assert out.row(0, named=True)["epoch"] == 3
    assert "NaN or missing from epoch 3" in out["evidence"][0]


def test_infinite_value_is_divergence():
    out = diagnose(_wide(loss=[0.9, 0.5, math.inf, 0.4]), run="r")
    assert out["rule"].to_list()[:1] == ["diverged"] and out["epoch"][0] == 2


def test_a_gap_before_the_end_is_not_missing_to_the_end():
    wide = _wide(loss=[None, 0.9, None, 0.6, 0.5, None, None],
                 val_loss=[1.0, 0.8, 0.7, 0.6, 0.55, None, None])
    missing = diagnose(wide, run="r").filter(pl.col("evidence").str.contains("NaN or missing"))
    assert missing["epoch"].to_list() == [5], missing.rows()


def test_an_infinite_score_is_divergence_too():
    """Only loss-like series get every feature; infinity is looked for in all."""
    out = diagnose(_wide(loss=[0.9, 0.5, 0.4, 0.3], dice=[0.1, 0.2, math.inf, 0.4]), run="r")
    assert out.row(0, named=True)["rule"] == "diverged"
    assert (out["metric"][0], out["epoch"][0]) == ("dice", 2)
    assert "dice is infinite from epoch 2" in out["evidence"][0]


def test_of_two_series_failing_at_one_epoch_the_loss_is_named():
    wide = _wide(loss=[0.9, 0.5, math.inf, 0.4], dice=[0.1, 0.2, math.inf, 0.4])
    for table in (wide, wide.select("epoch", "dice", "loss")):
        out = diagnose(table, run="r")
        assert (out["rule"][0], out["metric"][0]) == ("diverged", "loss"), out.rows()


def test_a_tie_prefers_training_then_validation_then_other_data():
    rows = [("loss", "training", [1.0, 0.8, 0.6, 0.5]),
            ("dice", "validation", [0.1, 0.2, math.inf, 0.4]),
            ("loss", "holdout", [1.0, 0.9, math.inf, 0.7])]
    long = pl.DataFrame([(m, d, e, v) for m, d, vs in rows for e, v in enumerate(vs)],
                        schema=["metric", "data", "epoch", "value"], orient="row")
    out = diagnose(long, run="r").filter(pl.col("rule") == "diverged")
    assert (out["metric"][0], out["data"][0]) == ("dice", "validation"), out.rows()


def test_a_repeated_epoch_keeps_its_last_row_with_a_warning():
    """As the readers treat a resumed log; it used to fail in polars' pivot."""
    long = to_history(_wide(loss=[1.0, 0.9, 0.8, 0.7], val_loss=[1.1, 1.0, 0.9, 0.95]))
    again = long.filter(pl.col("epoch") == 3).with_columns(pl.col("value") * 100)
    with pytest.warns(HistkitWarning, match="2 repeated epoch row"):
        out = diagnose(pl.concat([long, again]), run="r")
    assert out.row(0, named=True)["rule"] == "diverged", out.rows()  # 70 after 0.8
    assert out["epoch"][0] == 3


def test_a_loss_far_above_its_running_minimum_is_divergence():
    out = diagnose(_wide(loss=[1.0, 0.5, 0.2, 0.1, 3.0, 2.0]), run="r")
    assert out["rule"][0] == "diverged" and out["epoch"][0] == 4


def test_a_blow_up_that_comes_back_is_not_divergence():
    # Adam at lr 10: the first epoch's loss is 35 for a 3-class cross-entropy,
    # the validation loss 1.3e6, and both come back under 1
    out = diagnose(read_history(dev_run("diverged_adam_lr10")), run="x")
    assert "diverged" not in out["rule"].to_list(), out.rows()
    out = diagnose(_wide(loss=[1.0, 0.5, 0.2, 0.1, 3.0, 0.12, 0.1]), run="r")
    assert "diverged" not in out["rule"].to_list(), out.rows()


def test_a_loss_that_starts_huge_and_falls_is_not_divergence():
    # a regression in raw units: 1.26e6 in the first epoch, 1,888 at the end
    loss = [1.26e6, 9.1e4, 2.2e4, 8.0e3, 4.1e3, 2.9e3, 2.3e3, 2.0e3, 1.9e3, 1888.0]
    out = diagnose(_wide(loss=loss, val_loss=[v * 1.1 for v in loss]), run="r")
    assert "diverged" not in out["rule"].to_list(), out.rows()


def test_a_loss_unbounded_below_is_divergence():
    loss = [1.2, 0.4, -3.0, -250.0, -1.1e5, -1.3e8]
    out = diagnose(_wide(loss=loss), run="r")
    row = out.row(0, named=True)
    assert (row["rule"], row["epoch"]) == ("diverged", 5), out.rows()
    assert "ran off below zero" in row["evidence"]
    # a log-likelihood that settles below zero is fine
    out = diagnose(_wide(loss=[1.2, 0.4, -1.0, -2.5, -3.1, -3.2]), run="r")
    assert "diverged" not in out["rule"].to_list(), out.rows()


def test_nan_to_the_end_of_a_lone_training_loss_is_divergence():
    out = diagnose(_wide(loss=[0.9, 0.5, 0.4, None, None]), run="r")
    assert (out["rule"][0], out["epoch"][0]) == ("diverged", 3), out.rows()


def test_a_loss_missing_while_another_loss_goes_on_is_not_divergence():
    # a series logged past the training loss (an iteration tag, an evaluation
    # at the end) is not the training loss turning NaN
    wide = _wide(loss=[0.9, 0.5, 0.4, None, None], val_loss=[1.0, 0.6, 0.5, 0.45, 0.44])
    assert "diverged" not in diagnose(wide, run="r")["rule"].to_list()


def test_a_fine_tune_that_starts_below_chance_is_not_stuck():
    # a 3-class cross-entropy that starts at 0.30 (chance: ln 3 = 1.10) and
    # falls 1.3%: a pretrained net near its best, not a stuck one
    loss = [0.300, 0.299, 0.298, 0.297, 0.296]
    wide = _wide(loss=loss, val_loss=loss, background_dice=[0.9] * 5, vsat_dice=[0.8] * 5,
                 scat_dice=[0.7] * 5)
    named = "unet_2d_ce_Adam_fat_64x64x1_N32_E5_L3_FBL8"
    assert "stuck" not in diagnose(wide, run=named)["rule"].to_list()
    # the same numbers from a Dice loss (0 to 1, no chance level) are stuck
    named = "unet_2d_mdice_Adam_fat_64x64x1_N32_E5_L3_FBL8"
    assert "stuck" in diagnose(wide, run=named)["rule"].to_list()
    # a loss that falls 4.3% (a pretrained T5's) is not stuck either
    loss = [2.10, 2.05, 2.03, 2.02, 2.01]
    assert "stuck" not in diagnose(_wide(loss=loss, val_loss=loss), run="r")["rule"].to_list()
    # one that falls 0.5% is
    loss = [2.10, 2.099, 2.095, 2.092, 2.090]
    assert "stuck" in diagnose(_wide(loss=loss, val_loss=loss), run="r")["rule"].to_list()


def test_a_loss_that_falls_a_thousandfold_smoothly_is_healthy():
    loss = [1.1 * 0.6 ** e for e in range(20)]  # 1.1 down to 6e-5: no jump, no explosion
    out = diagnose(_wide(loss=loss, val_loss=[v * 1.02 for v in loss]), run="r")
    assert out.filter(pl.col("severity") != "info").is_empty(), out.rows()


def test_collapse_to_background():
    wide = _wide(loss=[0.9, 0.6, 0.5, 0.5], background_dice=[0.6, 0.9, 0.95, 0.95],
                 vat_dice=[0.2, 0.05, 0.01, 0.0], sat_dice=[0.3, 0.08, 0.02, 0.01])
    out = diagnose(wide, run="r")
    row = out.filter(pl.col("rule") == "collapse_to_background").row(0, named=True)
    assert row["metric"] == "background_dice" and row["epoch"] == 1


def test_collapse_is_judged_at_the_last_epoch_every_score_shares_in_a_study():
    """Runs ruled out from their last values are not reported; a run whose
    foreground scores end at different epochs is judged epoch by epoch."""
    ok = _wide(loss=[0.9, 0.6, 0.5, 0.4, 0.3], background_dice=[0.6, 0.9, 0.95, 0.95, 0.96],
               vat_dice=[0.2, 0.05, 0.01, 0.3, 0.6], sat_dice=[0.3, 0.08, 0.02, 0.2, 0.5])
    # vat_dice stops at epoch 2 on a good value; sat_dice goes on, collapsed
    ragged = _wide(loss=[0.9, 0.6, 0.5, 0.5, 0.5],
                   background_dice=[0.6, 0.7, 0.7, 0.95, 0.95],
                   vat_dice=[0.2, 0.4, 0.5, None, None], sat_dice=[0.3, 0.4, 0.5, 0.02, 0.01])
    collapsed = _wide(loss=[0.9, 0.6, 0.5, 0.5, 0.5],
                      background_dice=[0.6, 0.9, 0.95, 0.95, 0.95],
                      vat_dice=[0.2, 0.05, 0.01, 0.0, 0.0], sat_dice=[0.3, 0.08, 0.02, 0.01, 0.0])
    study = pl.concat([to_history(w).with_columns(run=pl.lit(r)) for r, w in
                       (("ok", ok), ("ragged", ragged), ("collapsed", collapsed))])
    out = diagnose(study, rules=["collapse_to_background"])
    assert dict(zip(out["run"], out["epoch"])) == {"ragged": 3, "collapsed": 1}


def test_val_better_than_train_is_not_reported_with_dropout():
    loss = [1.0, 0.8, 0.6, 0.5, 0.45, 0.42]
    wide = _wide(loss=loss, val_loss=[v * 0.5 for v in loss])
    assert "val_better_than_train" in diagnose(wide, run="r")["rule"].to_list()
    named = "unet_2d_mdice_AdaDelta_fat_64x64x1_N32_E6_L3_FBL8_DR20"
    assert "val_better_than_train" not in diagnose(wide, run=named)["rule"].to_list()


def test_advice_is_not_given_on_a_failed_run():
    out = diagnose(read_history(dev_run("diverged_sgd_lr100")), run="x")
    assert "wasted_epochs" not in out["rule"].to_list()
    assert out["severity"].to_list() == sorted(out["severity"].to_list(),
                                               key=["error", "warning", "info"].index)


def test_rules_option_and_bad_options():
    path = dev_run("diverged_sgd_lr100")
    assert rules_of(path, rules=["stuck"]) == []
    with pytest.raises(OptionError, match="unknown rule 'nope'"):
        diagnose(read_history(path), rules=["nope"])
    with pytest.raises(OptionError, match="classes"):
        diagnose(read_history(path), classes=1)


def test_one_pass_over_many_runs_equals_one_run_at_a_time():
    paths = [dev_run(c) for c in ("stuck_ce_sgd_lr1e-6", "diverged_adam_lr10",
                                  "overfit_noisy_n4", "healthy_unet_mdice")] + DEMO[:3]
    def text(frame):
        return frame.with_columns(pl.col("path").cast(pl.String))

    batch = text(diagnose(read_histories(paths).histories))
    one_by_one = pl.concat([text(diagnose(read_histories([p]).histories)) for p in paths])
    assert batch.height >= 4 and batch.equals(one_by_one)


def test_verdicts_give_every_run_a_line():
    paths = [dev_run("stuck_ce_sgd_lr1e-6"), DEMO[1]]
    long = read_histories(paths).histories
    found = diagnose(long, by=["path"])
    table = verdicts(found, long.select("path").unique(maintain_order=True))
    assert table["verdict"].to_list() == ["failed", "healthy"]
    assert table["rules"][0] == "stuck"


# ---------------------------------------------------------------------------
# the command


def histkit(*args):
    return subprocess.run([sys.executable, "-m", "histkit", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_cli_exit_codes_and_formats(tmp_path):
    healthy = histkit("diagnose", str(DEMO[1]))
    assert healthy.returncode == 0, healthy.stderr
    assert "healthy" in healthy.stdout
    failed = histkit("diagnose", str(dev_run("stuck_ce_sgd_lr1e-6")), str(DEMO[1]),
                     "--format", "csv")
    assert failed.returncode == 1, failed.stderr
    table = pl.read_csv(failed.stdout.encode())
    assert table.columns == list(FINDING_COLUMNS)
    assert table["rule"].to_list() == ["stuck"]


def test_cli_bad_input_goes_on_and_exits_2(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("epoch,loss\n0,abc\n")
    out = histkit("diagnose", str(bad), str(dev_run("stuck_ce_sgd_lr1e-6")))
    assert out.returncode == 2
    assert "stuck" in out.stdout
    lines = [x for x in out.stderr.splitlines() if "error" in x]
    assert len(lines) == 1 and "broken.csv" in lines[0] and "Traceback" not in out.stderr


def test_cli_usage_errors_name_the_allowed_values():
    out = histkit("diagnose", str(DEMO[0]), "--rules", "stuck,nope")
    assert out.returncode == 2 and "choose from diverged" in out.stderr
    out = histkit("diagnose", str(DEMO[0]), "--classes", "1")
    assert out.returncode == 2 and "--classes" in out.stderr


def test_cli_reads_every_source():
    fixtures = ROOT / "tests" / "fixtures" / "sources"
    dirs = ["keras", "lightning", "tensorboard/writer", "tensorboard/add_scalars",
            "transformers", "fastai", "mlflow"]
    out = histkit("diagnose", *(fixtures / d for d in dirs), "--format", "json")
    assert out.returncode in (0, 1), out.stderr
    assert "error:" not in out.stderr
    summary = histkit("diagnose", *(fixtures / d for d in dirs))
    runs = [ln for ln in summary.stdout.splitlines()[2:] if ln.startswith("|")]
    assert len(runs) >= len(dirs)  # one line per run, healthy or not


def test_a_study_whose_runs_are_interleaved_gets_the_same_findings():
    """Rows of one run need not be together (runs are numbered by a join then)."""
    bad = _wide(loss=[0.9, 0.5, math.inf, 0.4], val_loss=[1.0, 0.6, 0.5, 0.5])
    good = _wide(loss=[1.0, 0.8, 0.6, 0.5], val_loss=[0.5, 0.4, 0.3, 0.25])
    study = pl.concat([to_history(w).with_columns(run=pl.lit(r))
                       for r, w in (("bad", bad), ("good", good))])
    together = diagnose(study)
    mixed = diagnose(study.sort("epoch", maintain_order=True))
    assert together.equals(mixed) and set(together["run"]) == {"bad", "good"}
