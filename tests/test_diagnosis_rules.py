"""histkit.diagnosis.registry and rules/: every rule registered, documented
and explained by ``histkit diagnose --explain``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from click.testing import CliRunner

from histkit.cli import main
from histkit.diagnosis import RULES, SEVERITIES, THRESHOLDS, explain
from histkit.diagnosis.registry import ORDER
from histkit.errors import OptionError


def test_every_rule_is_registered_once_in_order():
    assert list(RULES) == list(ORDER) and len(set(ORDER)) == 16
    for name, rule in RULES.items():
        assert rule.name == name and rule.severity in SEVERITIES
        assert rule.check.__module__ == f"histkit.diagnosis.rules.{name}", name


@pytest.mark.parametrize("name", ORDER)
def test_every_rule_says_what_why_and_gives_an_example(name):
    rule = RULES[name]
    for part in ("What it detects:", "Why it matters:", "Example:"):
        assert part in rule.doc, (name, part)
    fields = {f.name for f in dataclasses.fields(THRESHOLDS)}
    assert set(rule.thresholds) <= fields, name
    for threshold in rule.thresholds:  # a threshold it reads is one its doc explains
        assert threshold in rule.doc, (name, threshold)
    assert len(rule.advice) > 20


def test_explain_prints_doc_thresholds_and_advice():
    text = explain("stuck")
    assert text.splitlines()[0] == "stuck (error)"
    assert "  stuck_drop = 0.02" in text and "``" not in text
    assert text.rstrip().split("Advice: ", 1)[1].startswith("the network learns nothing")
    assert explain("dead_relu").splitlines()[0] == "dead_relu (warning, reads probes)"
    with pytest.raises(OptionError, match="unknown rule 'nope'; the rules are diverged"):
        explain("nope")


@pytest.mark.parametrize("name", ORDER)
def test_cli_explains_each_rule(name):
    res = CliRunner().invoke(main, ["diagnose", "--explain", name])
    assert res.exit_code == 0, res.output
    assert res.output == explain(name) + "\n"


def test_cli_explain_and_missing_paths_are_one_line_errors():
    for args, needle in ((["diagnose", "--explain", "nope"], "unknown rule 'nope'"),
                         (["diagnose"], "give one history or directory or more")):
        res = subprocess.run([sys.executable, "-m", "histkit", *args], capture_output=True,
                             text=True)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("histkit: error:") and needle in lines[0]


def test_rules_option_lists_every_rule_in_help():
    res = CliRunner().invoke(main, ["diagnose", "--help"])
    flat = " ".join(res.output.split())
    assert all(name in flat for name in ORDER)
    assert "histkit diagnose --explain double_softmax" in res.output


# ---------------------------------------------------------------------------
# class_collapse


def _history(**cols):
    import polars as pl

    n = len(next(iter(cols.values())))
    return pl.DataFrame({"epoch": list(range(n)), **cols})


LOST = [0.1, 0.2, 0.3, 0.35, 0.3, 0.2, 0.1, 0.04, 0.02, 0.01]  # best 0.35 (epoch 3)
GAINED = [0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.82, 0.85, 0.86, 0.87]
BACKGROUND = [0.9 + 0.009 * e for e in range(10)]
FALLING = [0.5 * 0.85 ** e for e in range(10)]


def _collapse(out):
    return [r for r in out.iter_rows(named=True) if r["rule"] == "class_collapse"]


def test_class_collapse_names_the_class_its_best_and_its_end():
    from histkit.diagnosis import diagnose

    hist = _history(loss=FALLING, val_loss=FALLING, val_background_dice=BACKGROUND,
                    val_vsat_dice=LOST, val_scat_dice=GAINED)
    out = diagnose(hist, run="r")
    assert out["rule"].to_list() == ["class_collapse"], out.rows()
    row = out.row(0, named=True)
    assert (row["severity"], row["epoch"], row["metric"], row["data"]) == (
        "error", 7, "vsat_dice", "validation")  # at most 0.05 from epoch 7 on
    assert row["evidence"] == ("validation vsat_dice fell from 0.35 at epoch 3 to 0.01 at "
                               "epoch 9 while validation loss kept improving (0.3071 -> "
                               "0.1158) and scat_dice rose (0.7 -> 0.87)")
    assert "class-balanced loss (mdice)" in row["advice"]
    # IoU and per-class accuracy too; training scores for a run without validation
    for kind in ("iou", "acc"):
        found = _collapse(diagnose(_history(loss=FALLING, **{f"background_{kind}": BACKGROUND,
                                                             f"vsat_{kind}": LOST,
                                                             f"scat_{kind}": GAINED}), run="r"))
        assert [(r["metric"], r["data"]) for r in found] == [(f"vsat_{kind}", "training")]


def test_class_collapse_on_the_demo_linknet_dice_run_only():
    """histkit's own demo: the plain-Dice LinkNet gives VAT up (validation
    Dice 0.356 at epoch 14, 0.012 at 23) while its loss keeps falling; no
    other run of the demo study loses a class."""
    import warnings
    from pathlib import Path

    from histkit import read_histories
    from histkit.diagnosis import diagnose

    root = Path(__file__).resolve().parent.parent / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = read_histories(sorted(str(p) for p in root.glob("*/*/*/*.csv")))
    assert batch.paths, "the demo study run/ is missing"
    found = _collapse(diagnose(batch.histories, rules=["class_collapse"], probes=False))
    assert [r["run"] for r in found] == ["linknet_2d_dice_Adam_fat2_256x128x1_N96_E24_L4_FBL16"]
    row = found[0]
    assert (row["epoch"], row["metric"], row["data"]) == (22, "vsat_dice", "validation")
    assert row["evidence"].startswith("validation vsat_dice fell from 0.3562 at epoch 14 to "
                                      "0.0123 at epoch 23 while validation loss kept improving")


@pytest.mark.parametrize("case", ["loss_rose", "every_class_fell", "another_fell_too",
                                  "recovered", "never_learned", "keras_accuracies",
                                  "only_training_lost", "other_class_stopped_logging"])
def test_class_collapse_stays_quiet(case):
    """A loss that rose with it (diverged, overfitting), every foreground class
    lost (collapse_to_background says so), no other class that held, a class
    that came back or never learned, names that are not classes, a training
    collapse the validation does not show, or no other class at its end."""
    from histkit.diagnosis import diagnose

    rising = [0.5, 0.45, 0.4, 0.38, 0.5, 0.7, 0.9, 1.2, 1.5, 1.8]
    hist = {
        "loss_rose": dict(loss=FALLING, val_loss=rising, val_background_dice=BACKGROUND,
                          val_vsat_dice=LOST, val_scat_dice=GAINED),
        "every_class_fell": dict(loss=FALLING, val_loss=FALLING,
                                 val_background_dice=BACKGROUND, val_vsat_dice=LOST,
                                 val_scat_dice=[v / 2 for v in LOST]),
        "another_fell_too": dict(loss=FALLING, val_loss=FALLING,
                                 val_background_dice=BACKGROUND, val_vsat_dice=LOST,
                                 val_scat_dice=[0.3, 0.5, 0.6, 0.7, 0.6, 0.5, 0.4, 0.35,
                                                0.3, 0.3]),
        "recovered": dict(loss=FALLING, val_loss=FALLING, val_background_dice=BACKGROUND,
                          val_vsat_dice=LOST[:8] + [0.2, 0.3], val_scat_dice=GAINED),
        "never_learned": dict(loss=FALLING, val_loss=FALLING,
                              val_background_dice=BACKGROUND,
                              val_vsat_dice=[v / 2 for v in LOST], val_scat_dice=GAINED),
        "keras_accuracies": dict(loss=FALLING, val_loss=FALLING, val_binary_accuracy=LOST,
                                 val_categorical_accuracy=GAINED),
        "only_training_lost": dict(loss=FALLING, val_loss=FALLING, background_dice=BACKGROUND,
                                   vsat_dice=LOST, scat_dice=GAINED,
                                   val_background_dice=BACKGROUND, val_vsat_dice=GAINED,
                                   val_scat_dice=GAINED),
        "other_class_stopped_logging": dict(loss=FALLING, val_loss=FALLING,
                                            val_background_dice=BACKGROUND, val_vsat_dice=LOST,
                                            val_scat_dice=GAINED[:5] + [None] * 5),
    }[case]
    out = diagnose(_history(**hist), run=case)
    assert not _collapse(out), out.rows()
    if case == "every_class_fell":
        assert out["rule"][0] == "collapse_to_background"
