import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

torch = pytest.importorskip("torch")

from histkit.train.checkpoint import COLUMNS, load_checkpoint  # noqa: E402
from histkit.train.precision import native_bf16  # noqa: E402

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
RUN = "2026-11-23/unet_2d_mdice/fat_32x16x1/unet_2d_mdice_AdaDelta_fat_32x16x1_N8_E2_L2_FBL4_BS2.csv"


def _torchrun(root: Path, *options: str) -> list[str]:
    """torchrun with 2 CPU processes training a tiny phantom run under ``root``."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists() and shutil.which("torchrun") is None:
        pytest.skip("torchrun not installed")
    return [str(torchrun) if torchrun.exists() else "torchrun", "--standalone",
            "--nproc-per-node", "2", "-m", "histkit.train",
            "--shape", "32x16x1", "--n-train", "8", "--n-val", "3", "--epochs", "2",
            "--levels", "2", "--base-filters", "4", "--batch-size", "2", "--device", "cpu",
            "--threads", "1", "--root", str(root), "--date", "2026-11-23", *options]


def test_torchrun_two_cpu_processes_write_one_history(tmp_path):
    cmd = _torchrun(tmp_path)
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    path = tmp_path / RUN
    # rank 0 alone prints the path, logs and writes
    assert out.stdout.split() == [str(path)]
    assert out.stderr.count("memory format:") == 1
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1"]
    assert sorted(p.name for p in path.parent.iterdir()) == [  # one lock: rank 0's
        f".{path.stem}.lock", path.with_suffix(".ckpt").name, path.name,
        path.with_suffix(".json").name, path.with_suffix(".probes").name]
    import json
    assert json.loads(path.with_suffix(".json").read_text())["device"]["world_size"] == 2
    from histkit import read_probes
    probes = read_probes(path)  # rank 0's, with class shares over every rank's images
    assert sorted(probes.scalars["epoch"].unique()) == [0, 1]
    assert probes.shares.group_by("epoch").agg(pl.col("true").sum())["true"].round(6).to_list() \
        == [1.0, 1.0]
    assert load_checkpoint(path.with_suffix(".ckpt"))["epoch"] == 1
    # a DDP checkpoint is a plain model state dict (no "module." prefix)
    assert not any(k.startswith("module.") for k in load_checkpoint(path.with_suffix(".ckpt"))["model"])
    # running again under torchrun sees the finished run on every rank (rank 0 says so)
    again = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=240)
    assert again.returncode == 0 and again.stderr.count("is complete (2/2 epochs)") == 1


@pytest.mark.skipif(not native_bf16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_torchrun_trains_in_bf16(tmp_path):
    out = subprocess.run(_torchrun(tmp_path, "--precision", "bf16"), capture_output=True,
                         text=True, env=ENV, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    path = tmp_path / RUN
    assert [line.split(",")[0] for line in path.read_text().splitlines()[1:]] == ["0", "1"]
    state = load_checkpoint(path.with_suffix(".ckpt"))
    assert state["config"]["precision"] == "bf16" and state["finished"]
