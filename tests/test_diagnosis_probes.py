"""histkit.diagnosis: the rules that read a run's probes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from histkit import diagnose, read_histories, read_history, to_history
from histkit.diagnosis import RULES, THRESHOLDS
from histkit.diagnosis import PROBE_RULES, probe_findings
from histkit.diagnosis.probe_features import probe_features
from histkit.probes import RunProbes

LAYERS = ["enc.0.weight", "enc.3.weight", "out.weight"]
BLOCKS = ["enc.2", "dec.2"]
CLASSES = ["background", "vat", "sat"]


def _probes(epochs=6, grad=lambda e: 0.5 * 0.8 ** e, zeros=lambda e, b: 0.5,
            saturated=lambda e: 0.01, predicted=(0.93, 0.03, 0.04),
            input_range=(0.0, 0.0, 0.3, 0.95, 1.0)) -> RunProbes:
    """Probe tables as the trainer writes them, with one quantity bent."""
    es = range(epochs)
    scalars = pl.DataFrame(
        [(e, layer, 3.0, grad(e) / len(LAYERS) ** 0.5, 0.01) for e in es for layer in LAYERS],
        schema=["epoch", "layer", "weight_norm", "grad_norm", "update_ratio"], orient="row")
    acts = pl.DataFrame(
        [(e, b, 0.4, 0.6, zeros(e, b), 0.0) for e in es for b in BLOCKS]
        + [(e, "output", 0.33, 0.4, 0.0, saturated(e)) for e in es],
        schema=["epoch", "block", "mean", "std", "zeros", "saturated"], orient="row")
    shares = pl.DataFrame(
        [(e, c, p if e == epochs - 1 else t, t)
         for e in es for c, p, t in zip(CLASSES, predicted, (0.93, 0.03, 0.04))],
        schema=["epoch", "class", "predicted", "true"], orient="row")
    lo, p01, p50, p99, hi = input_range
    inp = pl.DataFrame({"epoch": list(es), "mean": p50, "std": (p99 - p01) / 3, "min": lo,
                        "p01": p01, "p50": p50, "p99": p99, "max": hi})
    empty = pl.DataFrame()
    return RunProbes(scalars=scalars, histograms=empty, activations=acts, shares=shares,
                     images=empty, input=inp)


def rules(probes) -> list[str]:
    return [f[0] for f in probe_findings(probes, THRESHOLDS, PROBE_RULES)]


def test_every_probe_rule_has_a_severity_and_advice():
    for rule in PROBE_RULES:
        assert RULES[rule].severity in ("error", "warning") and RULES[rule].advice


def test_a_healthy_run_has_no_probe_finding():
    assert rules(_probes()) == []


def test_each_fault_fires_its_rule_alone():
    assert rules(_probes(grad=lambda e: 0.5 * 10 ** e)) == ["exploding_gradients"]
    assert rules(_probes(grad=lambda e: 0.5 * 1e-2 ** e)) == ["vanishing_gradients"]
    assert rules(_probes(zeros=lambda e, b: 1.0 if b == "dec.2" and e >= 2 else 0.5)) \
        == ["dead_relu"]
    spike = (0.0, 0.0, 0.0006, 0.002, 1.0)  # one hot pixel 500x the tissue, min-max scaled
    assert rules(_probes(input_range=spike)) == ["unnormalized_input"]
    assert rules(_probes(input_range=(-1024.0, -1000.0, 30.0, 1500.0, 3000.0))) \
        == ["unnormalized_input"]  # CT in Hounsfield units
    assert rules(_probes(input_range=(-3.0, -1.2, 0.0, 2.5, 4.0))) == []  # z-scored
    # one class everywhere; saturated only when the pinned output is also wrong
    assert rules(_probes(predicted=(1.0, 0.0, 0.0))) == ["one_class_predictions"]
    assert rules(_probes(saturated=lambda e: 0.99)) == []
    assert rules(_probes(saturated=lambda e: 0.99, predicted=(0.6, 0.2, 0.2))) == ["saturated"]


def test_findings_name_the_epoch_and_the_numbers():
    [dead] = probe_findings(_probes(zeros=lambda e, b: 1.0 if b == "dec.2" and e >= 2 else 0.5),
                            THRESHOLDS, PROBE_RULES)
    rule, epoch, metric, data, evidence = dead
    assert (rule, epoch, data) == ("dead_relu", 2, "probes")
    assert "dec.2" in evidence and "100.0%" in evidence
    [boom] = probe_findings(_probes(grad=lambda e: 0.5 * 10 ** e), THRESHOLDS, PROBE_RULES)
    assert boom[1] == 2 and "is 50 at epoch 2, 100x its first" in boom[4]
    assert "largest 5e+04 (epoch 5)" in boom[4]
    [big] = probe_findings(_probes(grad=lambda e: 200.0), THRESHOLDS, PROBE_RULES)
    assert big[1] == 0 and "batch normalisation trains at about 0.01-2" in big[4]
    [gone] = probe_findings(_probes(grad=lambda e: 0.5 * 0.05 ** e), THRESHOLDS, PROBE_RULES)
    assert gone[:2] == ("vanishing_gradients", 3)
    f = probe_features(_probes(predicted=(1.0, 0.0, 0.0)))
    assert f["top_class"] == "background" and f["one_class_since"] == 5


def test_nan_gradients_explode_at_their_epoch():
    nan = float("nan")
    assert probe_findings(_probes(grad=lambda e: nan if e == 3 else 0.5), THRESHOLDS,
                          PROBE_RULES)[0][:2] == ("exploding_gradients", 3)


def test_diagnose_takes_probes_as_an_object_or_a_dict():
    hist = pl.DataFrame({"epoch": range(6), "loss": [1.0, 0.5, 0.4, 0.38, 0.38, 0.38],
                         "val_loss": [1.0, 0.55, 0.45, 0.42, 0.42, 0.42]})
    bad = _probes(input_range=(0.0, 0.0, 0.0006, 0.002, 1.0))
    assert diagnose(hist, run="r", probes=bad)["rule"].to_list() == ["unnormalized_input"]
    long = to_history(hist).with_columns(run=pl.lit("r"))
    assert diagnose(long, probes={"r": bad})["data"].to_list() == ["probes"]
    assert diagnose(hist, run="r", probes=bad, rules=["stuck"]).is_empty()
    assert diagnose(hist, run="r", probes=False).is_empty()


# ---------------------------------------------------------------------------
# real trainings

# the tests' own trainings: tests/fixtures/make_diagnosis.py (the cases of
# bench/diagnose_devset.py of the same names, made again with their probes)
DEV = Path(__file__).resolve().parent / "fixtures" / "diagnosis" / "runs"


@pytest.mark.parametrize("case, first, also", [
    ("vanishing_dice_sgd_lr1000", "vanishing_gradients", {"saturated"}),
    ("unnormalized_spikes", "unnormalized_input", set()),
    ("dead_relu_ce_adam_lr3", "dead_relu", set()),
    ("diverged_bce_sgd_lr1e4", "diverged", {"exploding_gradients", "one_class_predictions"}),
])
def test_the_development_runs_probes_are_read_beside_their_paths(case, first, also):
    path = next((DEV / case).glob("*/*/*/*.csv"))
    batch = read_histories([path])
    found = diagnose(batch.histories)
    assert found["rule"][0] == first, found.select("rule", "evidence").rows()
    assert also <= set(found["rule"])
    assert not (set(PROBE_RULES) & set(diagnose(batch.histories, probes=False)["rule"]))


def test_healthy_development_runs_have_no_probe_finding():
    paths = [next((DEV / c).glob("*/*/*/*.csv"))
             for c in ("healthy_unet_mdice", "healthy_linknet_dice", "healthy_unet_ag_dr20")]
    found = diagnose(read_histories(paths).histories)
    assert not (set(PROBE_RULES) & set(found["rule"])), found.rows()

torch_needed = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("torch"), reason="needs the [train] extra")


def _outlier_folder(tmp_path, n=10, h=32, w=16):
    """Phantom slices as float NIfTI, each with one hot pixel 500x the tissue."""
    import nibabel as nib
    import numpy as np
    from PIL import Image

    from histkit.train.phantom import phantoms

    x, y = phantoms(n, h, w, seed=3)
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "masks").mkdir()
    for i in range(n):
        img = x[i, 0].astype(np.float32) * 1000
        img[i % h, i % w] = 500_000
        nib.save(nib.Nifti1Image(img[..., None], np.eye(4)),
                 tmp_path / "data" / "images" / f"s{i}.nii.gz")
        Image.fromarray(y[i].argmax(0).astype(np.uint8)).save(
            tmp_path / "data" / "masks" / f"s{i}.png")
    return tmp_path / "data"


def _train(tmp_path, *extra):
    out = subprocess.run(
        [sys.executable, "-m", "histkit", "train", "--shape", "32x16x1", "--levels", "2",
         "--base-filters", "4", "--batch-size", "4", "--threads", "1",
         "--root", str(tmp_path / "run"), "--date", "2026-12-02", *extra],
        capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def _diagnose_cli(*args):
    return subprocess.run([sys.executable, "-m", "histkit", "diagnose", "--format", "csv",
                           *args], capture_output=True, text=True)


@torch_needed
def test_a_spike_in_the_images_is_found_as_unnormalized_input(tmp_path):
    path = _train(tmp_path, "--data", str(_outlier_folder(tmp_path)), "--epochs", "2")
    out = _diagnose_cli(path)
    assert "unnormalized_input" in out.stdout, out.stdout + out.stderr
    assert "a few extreme values squeeze the image" in out.stdout
    # the history alone cannot see it
    assert "unnormalized_input" not in diagnose(read_history(path), run="r", probes=False)[
        "rule"].to_list()


@torch_needed
def test_a_healthy_tiny_run_has_no_probe_finding_and_bad_probes_warn(tmp_path):
    path = _train(tmp_path, "--n-train", "16", "--n-val", "4", "--optimizer", "Adam",
                  "--loss", "bce25dice75", "--lr", "0.01", "--epochs", "6")
    out = _diagnose_cli(path)
    assert out.returncode == 0
    assert not any(r in out.stdout for r in PROBE_RULES), out.stdout
    # a damaged probe table: a warning naming it, and the history is still diagnosed
    from histkit.probes import probes_dir

    table = sorted((probes_dir(path) / "scalars").glob("*.parquet"))[0]
    table.write_bytes(b"not parquet")
    out = _diagnose_cli(path)
    assert out.returncode == 0, out.stderr
    assert "unreadable probe table scalars" in out.stderr
    assert "diagnosed from the history alone" in out.stderr
