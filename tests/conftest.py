"""Shared fixtures: small Keras-CSVLogger-style histories written to tmp_path."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

METRICS = ("background_dice", "loss", "scat_dice", "sdice", "vsat_dice")
SEED_LABELS_R = '''training_labels <- c(
loss = "Multilabel Balanced Dice Loss",
sdice = "Multilabel Dice Score",
background_dice = "Background Dice Score",
vsat_dice = "VAT Dice Score",
scat_dice = "SAT Dice Score"
)
'''
RUN = "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24"


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    """histkit's caches (``histkit runs``) go to a scratch folder, not ~/.cache;
    the CLI run in subprocesses inherits it."""
    os.environ["HISTKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def curve(metric: str, epoch: int, val: bool, rate: float = 5.0) -> float:
    """A smooth learning curve: losses fall, scores rise; validation is worse."""
    gap = 0.05 if val else 0.0
    x = math.exp(-epoch / rate)
    return round(x + gap if metric == "loss" else 1 - 0.9 * x - gap, 6)


def write_history(path: Path, epochs: int = 24, rate: float = 5.0, sep: str = ",") -> Path:
    """Write a history the way Keras' CSVLogger does (0-based epochs, sorted columns)."""
    cols = sorted([*METRICS, *(f"val_{m}" for m in METRICS)])
    lines = [sep.join(["epoch", *cols])]
    for e in range(epochs):
        lines.append(sep.join([str(e)] + [repr(curve(c.removeprefix("val_"), e,
                                                      c.startswith("val_"), rate))
                                           for c in cols]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_path(root: Path, name: str = RUN, date: str = "2021-03-10") -> Path:
    from histkit.names import parse_run_name

    r = parse_run_name(name)
    return root / "run" / date / r.model_dir / r.dataset_dir / f"{name}.csv"


@pytest.fixture
def history_file(tmp_path) -> Path:
    return write_history(run_path(tmp_path))


@pytest.fixture
def labels_file(tmp_path) -> Path:
    p = tmp_path / "labels.R"
    p.write_text(SEED_LABELS_R)
    return p
