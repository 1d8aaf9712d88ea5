from pathlib import Path

import pytest

from histkit.errors import HistkitError
from histkit.names import parse_run_name
from histkit.train import TrainConfig, TrainError


def test_name_and_path_come_from_the_run_name_grammar():
    cfg = TrainConfig(model="unet", loss="mdice", attention=True, optimizer="adadelta",
                      shape="768x384x1", n_train=204, epochs=24, levels=4, base_filters=24,
                      dropout=0.2, root="run", date="2021-03-02").validate()
    assert cfg.optimizer == "AdaDelta"
    assert cfg.name == "unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20"
    assert cfg.history_path == Path(
        "run/2021-03-02/unet_2d_mdice_ag/fat_768x384x1/"
        "unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20.csv")
    assert cfg.checkpoint_path.suffix == ".ckpt"
    run = parse_run_name(cfg.name, strict=True)
    assert (run.height, run.width, run.dropout, run.attention) == (768, 384, 0.2, True)


def test_mix_token_and_defaults():
    cfg = TrainConfig(loss="bce25dice75", optimizer="ADAM", shape="32x16", n_train=8,
                      levels=2, date="2026-01-01").validate()
    assert cfg.shape == "32x16x1" and cfg.optimizer == "Adam"
    assert cfg.learning_rate == 1e-3 and cfg.val_count == 2
    assert "_bce25dice75_Adam_" in cfg.name and "_DR" not in cfg.name


@pytest.mark.parametrize("options, message", [
    ({"shape": "768by384"}, "shape '768by384' is not HxWxC"),
    ({"shape": "0x384x1"}, "shape '0x384x1' is not HxWxC"),
    ({"shape": "100x384x1", "levels": 4}, "must be multiples of 8; e.g. 96x384x1"),
    ({"model": "resnet"}, "model 'resnet' is unknown; use one of unet, linknet"),
    ({"loss": "focal"}, "loss 'focal' is unknown"),
    ({"loss": "bce30dice30"}, "percentages summing to 100"),
    ({"loss": "ce50dice50"}, "must combine mdice, dice and bce"),
    ({"optimizer": "RMSprop"}, "optimizer 'RMSprop' is unknown; use one of AdaDelta, Adam, SGD"),
    ({"dropout": 1.0}, r"dropout 1.0 is outside \[0, 1\)"),
    ({"dropout": -0.1}, r"dropout -0.1 is outside \[0, 1\)"),
    ({"levels": 1}, "levels must be an integer >= 2"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"n_train": 0}, "n-train must be >= 1"),
    ({"early_stop_patience": -1}, "early-stop-patience must be an integer >= 0, got -1"),
    ({"plateau_patience": -2}, "plateau-patience must be an integer >= 0, got -2"),
    ({"device": "tpu"}, "device 'tpu' is unknown"),
    ({"memory_format": "nhwc"}, "memory format 'nhwc' is unknown; use one of auto, channels_last"),
    ({"precision": "fp16"}, "precision 'fp16' is unknown; use one of fp32, bf16"),
    ({"date": "23.11.2026"}, "date '23.11.2026' is not YYYY-MM-DD"),
    ({"model": "linknet", "attention": True}, "attention gates are for --model unet"),
    ({"lr": float("inf")}, r"lr must be a finite number > 0, got inf"),
    ({"lr": 0}, r"lr must be a finite number > 0, got 0"),
    ({"momentum": -5}, r"momentum must be in \[0, 1\), got -5"),
    ({"momentum": float("nan")}, r"momentum must be in \[0, 1\), got nan"),
    ({"plateau_factor": -3}, r"plateau-factor must be in \(0, 1\), got -3"),
    ({"early_stop_min_delta": float("nan")}, "early-stop-min-delta must be a finite number"),
    ({"date": "2021-13-45"}, "date '2021-13-45' is not a real day"),
    ({"dataset": "../../../../x"}, r"dataset '../../../../x' must be a plain name"),
    ({"dataset": "a/b"}, r"dataset 'a/b' must be a plain name"),
    ({"shape": "100000x100000x1", "levels": 2}, r"shape 100000x100000x1 with 24 base filters, "
                                                 r"2 levels and batches of \d+ needs at least"),
    ({"base_filters": 10**9}, r"with 1000000000 base filters.*needs at least .* GiB; this "
                              r"machine has"),
])
def test_bad_options_raise_one_line_errors(options, message):
    with pytest.raises(TrainError, match=message) as info:
        TrainConfig(**{"shape": "64x32x1", "n_train": 4, **options}).validate()
    assert isinstance(info.value, HistkitError)
    assert "\n" not in str(info.value)


def test_a_data_folder_names_the_run_after_itself(tmp_path):
    """Trained on scans/, the name says scans, not the fat phantom."""
    folder = tmp_path / "my-scans_2024"
    folder.mkdir()
    cfg = TrainConfig(data=str(folder), n_train=8, shape="64x32x1").validate()
    assert cfg.dataset == "myscans2024" and "_myscans2024_64x32x1_" in cfg.name
    assert TrainConfig(n_train=8, shape="64x32x1").validate().dataset == "fat"
    assert TrainConfig(data=str(folder), dataset="abdomen", n_train=8,
                       shape="64x32x1").validate().dataset == "abdomen"
