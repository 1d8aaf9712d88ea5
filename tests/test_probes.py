"""histkit.probes.recorder: what the trainer writes beside each history."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

import polars as pl  # noqa: E402

from histkit import read_history, read_probes  # noqa: E402
from histkit.errors import HistoryError  # noqa: E402
from histkit.train import TrainConfig, train  # noqa: E402
from histkit.train.models import build_model  # noqa: E402
from histkit.probes.recorder import BIN_EDGES  # noqa: E402

TINY = dict(shape="32x16x1", n_train=8, n_val=4, levels=2, base_filters=4, epochs=4,
            batch_size=4, date="2026-11-23", threads=1, progress=False)


def _run(tmp_path, **kw):
    cfg = TrainConfig(root=str(tmp_path), **{**TINY, **kw})
    return train(cfg), cfg


def test_every_epoch_has_its_probes(tmp_path):
    path, cfg = _run(tmp_path, probe_every=3)
    model_params = {n: p.numel() for n, p in build_model(cfg.validate()).named_parameters()}
    got = read_probes(path)
    epochs = read_history(path)["epoch"].to_list()
    assert epochs == [0, 1, 2, 3]
    # one row per layer with weights and epoch
    assert got.scalars.height == len(model_params) * 4
    assert set(got.scalars["layer"]) == set(model_params)
    assert (got.scalars["weight_norm"] > 0).all() and (got.scalars["grad_norm"] > 0).all()
    assert (got.scalars.filter(pl.col("layer").str.ends_with(".weight"))["update_ratio"] > 0).all()
    # fixed bins; each histogram counts every value of its layer once
    counts = got.histograms.group_by("epoch", "layer", "kind").agg(pl.col("count").sum())
    assert got.histograms["bin"].is_between(0, len(BIN_EDGES)).all()
    assert (got.histograms["count"] > 0).all()  # empty bins are not stored
    assert (got.histograms["lo"] < got.histograms["hi"]).all()
    for row in counts.iter_rows(named=True):
        assert row["count"] == model_params[row["layer"]]
    # activations: every ReLU and the output, in [0, 1] fractions
    acts = got.activations
    assert "output" in acts["block"].to_list()
    assert acts.filter(pl.col("block") != "output")["zeros"].is_between(0, 1).all()
    assert (acts.filter(pl.col("block") != "output")["mean"] >= 0).all()  # after ReLU
    # the input table: the fixed validation images as the network sees them
    from histkit.train.data import load_data
    _, (x_val, _) = load_data(cfg.validate())
    x = x_val[:4].double().numpy().ravel()
    assert got.input["epoch"].to_list() == [0, 1, 2, 3]
    inp = got.input.row(0, named=True)
    assert inp["mean"] == pytest.approx(x.mean(), rel=1e-5)
    assert inp["std"] == pytest.approx(x.std(ddof=1), rel=1e-5)
    assert (inp["min"], inp["max"]) == pytest.approx((x.min(), x.max()))
    assert [inp["p01"], inp["p50"], inp["p99"]] == pytest.approx(
        np.quantile(x, [0.01, 0.5, 0.99]), abs=1e-6)
    # class shares sum to one on both sides
    sums = got.shares.group_by("epoch").agg(pl.col("predicted", "true").sum())
    assert np.allclose(sums["predicted"], 1) and np.allclose(sums["true"], 1)
    # images every 3 epochs and at the last one
    assert sorted(got.images["epoch"].unique()) == [0, 3]
    kinds = set(zip(got.images["kind"], got.images["index"]))
    assert {("predictions", 0), ("activation", 0), ("gradient", 0)} <= kinds
    from PIL import Image
    pred = got.images.filter(pl.col("kind") == "predictions")["path"][0]
    assert Image.open(pred).size == (16 * 3, 32 * 4)  # image | truth | prediction, 4 rows
    # thumbnails: a 256x128 run's images are at most 64 pixels a tile
    from histkit.probes.recorder import _grid, _shrink
    assert tuple(_shrink(torch.zeros(3, 256, 128)).shape) == (3, 64, 32)
    assert _grid(torch.rand(9, 256, 128)).shape == (3 * 64 + 4, 3 * 32 + 4)


def test_no_probes_and_a_forced_rerun_leaves_no_stale_probes(tmp_path):
    path, _ = _run(tmp_path, probes=False)
    assert not path.with_suffix(".probes").exists()
    with pytest.raises(HistoryError, match="no probes beside this history"):
        read_probes(path)
    _run(tmp_path, force=True, epochs=2, probes=True)  # E2 is another run name
    path4, _ = _run(tmp_path, force=True)
    assert sorted(read_probes(path4).scalars["epoch"].unique()) == [0, 1, 2, 3]


def test_read_probes_keeps_the_epochs_of_the_history(tmp_path):
    path, _ = _run(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n")  # as if killed after epoch 1's probes
    got = read_probes(path)
    assert sorted(got.activations["epoch"].unique()) == [0, 1]
    assert sorted(got.images["epoch"].unique()) <= [0, 1]


def test_probe_every_is_checked():
    from histkit.train import TrainError
    with pytest.raises(TrainError, match="probe-every must be an integer >= 1"):
        TrainConfig(**{**TINY, "probe_every": 0}).validate()


def test_read_probes_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(HistoryError, match="no such file"):
        read_probes(tmp_path / "nope.csv")


def test_a_complete_run_without_its_checkpoint_keeps_its_probes(tmp_path):
    # what a fresh clone of run/ holds: histories and probes, no checkpoints
    path, cfg = _run(tmp_path)
    cfg.checkpoint_path.unlink()
    messages = []
    train(TrainConfig(root=str(tmp_path), **TINY), log=messages.append)
    assert any("is complete (4/4 epochs)" in m for m in messages)
    assert sorted(read_probes(path).scalars["epoch"].unique()) == [0, 1, 2, 3]
