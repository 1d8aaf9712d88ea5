import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from histkit.train import TrainError
from histkit.cli.train import train_command

TINY = ["--shape", "32x16x1", "--n-train", "6", "--n-val", "2", "--epochs", "2", "--levels", "2",
        "--base-filters", "4", "--threads", "1", "--date", "2026-11-23"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_importing_the_cli_does_not_import_torch():
    code = ("import sys, histkit.train, histkit.cli.train; "
            "print('torch' in sys.modules, histkit.cli.train.train_command.name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "train"]


def test_help_has_examples_and_every_option():
    from histkit.train.config import settings_of

    result = CliRunner().invoke(train_command, ["--help"])
    assert result.exit_code == 0
    assert "Examples" in result.output and "histkit train --model unet" in result.output
    # every setting of TrainConfig the command line takes, with its help
    for setting in settings_of("cli"):
        assert setting.option in result.output, setting.name
        assert setting.help.split()[0] in result.output, setting.name
    assert "--momentum" in result.output and "--plateau-factor" in result.output
    assert "--progress" not in result.output  # not an option: a terminal decides


def test_study_keys_and_options_come_from_train_config():
    import dataclasses

    from histkit.pipeline import TRAIN_KEYS
    from histkit.train.config import TrainConfig

    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert set(TRAIN_KEYS) <= set(fields)
    assert TRAIN_KEYS["momentum"] == (float, "--momentum")
    assert TRAIN_KEYS["probes"] == (bool, "--no-probes")  # on by default
    assert not {"root", "date", "data", "device", "threads", "force"} & set(TRAIN_KEYS)
    result = CliRunner().invoke(train_command, ["--help"])
    for key, (_, option) in TRAIN_KEYS.items():
        assert option in result.output, key  # a study key is an option of the trainer


def test_train_prints_the_path_and_skips_a_finished_run(tmp_path):
    pytest.importorskip("torch")
    runner = CliRunner()
    args = TINY + ["--root", str(tmp_path), "--attention", "--dropout", "0.4"]
    first = runner.invoke(train_command, args)
    assert first.exit_code == 0, first.output
    path = tmp_path / "2026-11-23/unet_2d_mdice_ag/fat_32x16x1/unet_2d_mdice_ag_AdaDelta_fat_32x16x1_N6_E2_L2_FBL4_DR40.csv"
    assert first.stdout.strip() == str(path) and path.exists()
    before = path.read_bytes()
    second = runner.invoke(train_command, args)
    assert second.exit_code == 0
    assert "is complete (2/2 epochs)" in second.stderr
    assert second.stdout.strip() == str(path) and path.read_bytes() == before
    forced = runner.invoke(train_command, args + ["--force"])
    assert forced.exit_code == 0 and "complete" not in forced.stderr


def test_one_line_per_epoch_without_a_terminal_and_none_with_quiet(tmp_path):
    """A pipeline log or a cluster job sees each epoch, as Keras prints it."""
    pytest.importorskip("torch")
    run = [sys.executable, "-m", "histkit", "train", *TINY, "--root", str(tmp_path)]
    out = subprocess.run(run, capture_output=True, text=True, env=ENV, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(" - ")[0] for ln in lines] == ["epoch 1/2", "epoch 2/2"]
    history = out.stdout.strip()
    last = open(history).read().splitlines()[-1].split(",")
    fields = dict(part.split(": ") for part in lines[-1].split(" - ")[2:])
    assert list(fields) == ["loss", "val_loss", "val_sdice", "val_background_dice",
                            "val_vsat_dice", "val_scat_dice"]
    assert float(fields["loss"]) == pytest.approx(float(last[1]), abs=1e-4)
    assert float(fields["val_loss"]) == pytest.approx(float(last[6]), abs=1e-4)
    assert "\r" not in out.stderr  # no progress bar without a terminal
    quiet = subprocess.run(run + ["--force", "--quiet"], capture_output=True, text=True, env=ENV,
                           stdin=subprocess.DEVNULL)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout.strip() == history


@pytest.mark.parametrize("args, message", [
    (["--model", "vgg"], "model 'vgg' is unknown; use one of unet, linknet"),
    (["--loss", "hinge"], "loss 'hinge' is unknown"),
    (["--optimizer", "Lion"], "optimizer 'Lion' is unknown"),
    (["--dropout", "1.5"], r"dropout 1.5 is outside \[0, 1\)"),
    (["--shape", "33x16x1"], "must be multiples of 2"),
])
def test_bad_input_raises_a_train_error(tmp_path, args, message):
    result = CliRunner().invoke(train_command, TINY + ["--root", str(tmp_path)] + args)
    assert isinstance(result.exception, TrainError)
    assert result.exception.args and __import__("re").search(message, str(result.exception))
    assert not (tmp_path / "2026-11-23").exists()


def test_module_entry_point_gives_one_line_and_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "histkit.train", "--root", str(tmp_path),
                          "--shape", "768by384"], capture_output=True, text=True, env=ENV)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "histkit: error: shape '768by384' is not HxWxC with positive integers, e.g. 768x384x1"]


def test_bf16_without_native_support_is_refused_before_training(tmp_path):
    # oneDNN capped at AVX2 multiplies no bfloat16 in hardware, as on an AVX2-only CPU
    env = {**ENV, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    out = subprocess.run([sys.executable, "-m", "histkit.train", "--root", str(tmp_path),
                          *TINY, "--precision", "bf16", "--device", "cpu"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "histkit: error: --precision bf16 needs a CPU with AMX or AVX512-BF16; this CPU would emulate "
        "bfloat16, several times slower than fp32 (use --precision fp32)"]
    assert list(tmp_path.iterdir()) == []


def test_train_on_a_png_folder_names_the_run_after_the_data(tmp_path):
    np = pytest.importorskip("numpy")
    from PIL import Image

    from histkit.train.phantom import phantom
    for sub in ("images", "masks"):
        (tmp_path / "scans" / sub).mkdir(parents=True)
    for i in range(10):
        image, mask = phantom(32, 16, seed=1, index=i)
        Image.fromarray((image * 255).astype(np.uint8)).save(tmp_path / "scans/images" / f"{i}.png")
        Image.fromarray(mask.argmax(0).astype(np.uint8)).save(tmp_path / "scans/masks" / f"{i}.png")
    args = ["--data", str(tmp_path / "scans"), "--dataset", "scans", "--shape", "32x16x1",
            "--epochs", "1", "--levels", "2", "--base-filters", "4", "--threads", "1",
            "--root", str(tmp_path / "run"), "--date", "2026-11-23"]
    result = CliRunner().invoke(train_command, args)
    assert result.exit_code == 0, result.output
    # 10 slices: 2 held out for validation (20%), 8 trained on
    assert result.stdout.strip().endswith("scans_32x16x1/unet_2d_mdice_AdaDelta_scans_32x16x1_N8_E1_L2_FBL4.csv")
