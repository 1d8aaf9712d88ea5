import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path


import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

import histkit.train.loop as loop  # noqa: E402
from histkit.files import locked  # noqa: E402
from histkit.train import TrainConfig, TrainError, train  # noqa: E402
from histkit.train.checkpoint import COLUMNS, load_checkpoint  # noqa: E402
from histkit.train.precision import native_bf16  # noqa: E402

HEADER = ",".join(COLUMNS)
TINY = dict(shape="32x16x1", n_train=8, n_val=2, levels=2, base_filters=4, epochs=3,
            batch_size=4, date="2026-11-23", threads=1, progress=False)


def _cfg(root, **kw):
    return TrainConfig(root=str(root), **{**TINY, **kw})


def _rows(path):
    lines = Path(path).read_text().splitlines()
    assert lines[0] == HEADER
    return [line.split(",") for line in lines[1:]]


def _values(path):
    """Every column but the timings, as floats."""
    keep = [i for i, c in enumerate(COLUMNS) if c not in ("epoch_time_s", "peak_mem_mb")]
    return [float(r[i]) for r in _rows(path) for i in keep]


def test_history_csv_has_the_keras_columns_and_zero_based_epochs(tmp_path):
    path = train(_cfg(tmp_path, model="linknet", loss="bce25dice75", optimizer="Adam"))
    assert path == tmp_path / "2026-11-23" / "linknet_2d_bce25dice75" / "fat_32x16x1" / \
        "linknet_2d_bce25dice75_Adam_fat_32x16x1_N8_E3_L2_FBL4.csv"
    rows = _rows(path)
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert all(len(r) == len(COLUMNS) for r in rows)
    first = dict(zip(COLUMNS, map(float, rows[0])))
    assert first["lr"] == pytest.approx(1e-3)
    assert 0 < first["val_sdice"] < 1 and first["epoch_time_s"] > 0 and first["peak_mem_mb"] > 10
    assert first["sdice"] == pytest.approx(
        (first["background_dice"] + first["vsat_dice"] + first["scat_dice"]) / 3, rel=1e-5)
    ckpt = load_checkpoint(path.with_suffix(".ckpt"))
    assert ckpt["epoch"] == 2 and ckpt["finished"] and len(ckpt["rows"]) == 3


def test_training_learns_the_phantom(tmp_path):
    path = train(_cfg(tmp_path, epochs=6, optimizer="Adam", lr=0.01))
    values = _values(path)
    width = len(values) // 6
    assert values[-width + 1] < values[1]  # training loss falls
    assert values[-width + 2] > values[2]  # sdice rises


def test_mdice_loss_is_one_minus_sdice(tmp_path):
    path = train(_cfg(tmp_path, epochs=1))
    row = dict(zip(COLUMNS, map(float, _rows(path)[0])))
    assert row["val_loss"] == pytest.approx(1 - row["val_sdice"], abs=1e-5)


def test_resume_after_crash_between_checkpoint_and_row_matches_an_unbroken_run(tmp_path, monkeypatch):
    # one fixed layout: the two layouts' convolutions round differently
    monkeypatch.setitem(TINY, "memory_format", "contiguous")
    reference = train(_cfg(tmp_path / "a", epochs=4, dropout=0.2))
    real_append = loop.append_row

    class Crash(Exception):
        pass

    def append_then_crash(path, row):
        if row[0] == 1:
            raise Crash  # checkpoint of epoch 1 written, its row not
        real_append(path, row)

    monkeypatch.setattr(loop, "append_row", append_then_crash)
    with pytest.raises(Crash):
        train(_cfg(tmp_path / "b", epochs=4, dropout=0.2))
    broken = tmp_path / "b" / reference.relative_to(tmp_path / "a")
    assert [r[0] for r in _rows(broken)] == ["0"]
    monkeypatch.setattr(loop, "append_row", real_append)
    logs = []
    assert train(_cfg(tmp_path / "b", epochs=4, dropout=0.2), log=logs.append) == broken
    assert logs[0] == f"resuming {broken.stem} after epoch 1"
    import json

    side = json.loads(broken.with_suffix(".json").read_text())
    assert len(side["resumed"]) == 1 and side["started"] <= side["resumed"][0]
    assert [m.split(" - ")[0] for m in logs[1:]] == ["epoch 3/4", "epoch 4/4"]
    assert [r[0] for r in _rows(broken)] == ["0", "1", "2", "3"]
    assert _values(broken) == pytest.approx(_values(reference), rel=1e-5, abs=1e-6)


def test_auto_layout_is_measured_once_on_a_training_batch_and_kept_on_resume(tmp_path, monkeypatch):
    probes = []

    def channels_last_wins(model, x, y, loss_fn, precision):
        probes.append((tuple(x.shape), precision))
        return "channels_last", {"channels_last": 0.1, "contiguous": 0.2}

    monkeypatch.setattr(loop, "choose_memory_format", channels_last_wins)
    cfg = _cfg(tmp_path, epochs=2)
    logs = []
    train(cfg, log=logs.append)
    assert probes == [((4, 1, 32, 16), "fp32")]
    assert logs[0] == "memory format: channels_last (a training step took 0.1 s in " \
                      "channels_last, 0.2 s in contiguous)"
    state = load_checkpoint(cfg.checkpoint_path)
    weight = state["model"]["down.1.0.weight"]
    assert state["memory_format"] == "channels_last"
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    state["finished"], state["epoch"], state["rows"] = False, 0, state["rows"][:1]
    torch.save(state, cfg.checkpoint_path)
    logs.clear()
    train(_cfg(tmp_path, epochs=2), log=logs.append)
    assert len(probes) == 1 and not any("memory format" in m for m in logs)
    weight = load_checkpoint(cfg.checkpoint_path)["model"]["down.1.0.weight"]
    assert not weight.is_contiguous()  # the resumed epoch trained in channels_last too


def test_runs_differ_by_name_or_are_refused_with_the_settings_that_differ(tmp_path):
    cfg = _cfg(tmp_path, epochs=2)
    path = train(cfg)
    state = load_checkpoint(cfg.checkpoint_path)
    assert state["config"]["batch_size"] == 4 and state["config"]["lr"] == 1.0  # AdaDelta's
    # batch size, lr and seed are in the name: other values are another run
    other = train(_cfg(tmp_path, epochs=2, batch_size=2, lr=0.5, seed=1))
    assert other != path and other.stem == path.stem + "_BS2_LR5e-1_S1"
    assert train(_cfg(tmp_path, epochs=2, lr=1.0)) == path  # the default spelled out
    before = path.read_bytes()
    # a finished run with another unnamed setting is refused, never called complete
    with pytest.raises(TrainError, match=r"exists \(finished\) trained with --plateau-patience "
                                         r"None \(now 3\); train with the same settings, or use "
                                         r"--force to replace it"):
        train(_cfg(tmp_path, epochs=2, plateau_patience=3))
    # and without its checkpoint (a fresh clone of run/): its sidecar says how it trained
    cfg.checkpoint_path.unlink()
    with pytest.raises(TrainError, match=r"--momentum 0.9 \(now 0.5\)") as err:
        train(_cfg(tmp_path, epochs=2, momentum=0.5))
    assert err.value.path == str(path.with_suffix(".json"))
    # a partial run as well
    train(_cfg(tmp_path, epochs=2, force=True))
    state = load_checkpoint(cfg.checkpoint_path)
    state["finished"], state["epoch"], state["rows"] = False, 0, state["rows"][:1]
    torch.save(state, cfg.checkpoint_path)
    # (not --precision bf16: a CPU without bf16 refuses that first, whatever the run)
    with pytest.raises(TrainError, match=r"exists \(partial\) trained with --plateau-patience "
                                         r"None \(now 3\)"):
        train(_cfg(tmp_path, epochs=2, plateau_patience=3))
    train(_cfg(tmp_path, epochs=2, memory_format="contiguous", threads=2))  # these may change
    assert [r[0] for r in _rows(path)] == ["0", "1"]
    assert path.read_bytes() != before  # trained again with --force, then resumed


def test_the_sidecar_records_settings_versions_device_and_times(tmp_path):
    import json

    cfg = _cfg(tmp_path, epochs=2, optimizer="Adam", momentum=0.8)
    path = train(cfg)
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["run"] == path.stem
    assert side["settings"]["momentum"] == 0.8 and side["settings"]["learning_rate"] == 1e-3
    assert side["settings"]["n_val_used"] == 2 and "root" not in side["settings"]
    assert side["versions"]["torch"] == torch.__version__ and side["versions"]["histkit"]
    assert side["device"]["type"] == "cpu" and side["device"]["threads"] == 1
    assert side["memory_format"] in ("channels_last", "contiguous")
    assert side["started"] <= side["finished"] and side["resumed"] == []
    assert side["epochs_logged"] == 2 and side["stopped"] is None
    assert path.with_suffix(".json").stat().st_mode & 0o777 == 0o644 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.skipif(not native_bf16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_bf16_run_trains_keeps_fp32_weights_and_resumes_only_in_bf16(tmp_path):
    cfg = _cfg(tmp_path, epochs=2, precision="bf16", attention=True, optimizer="Adam", lr=0.01)
    path = train(cfg)
    state = load_checkpoint(cfg.checkpoint_path)
    assert state["config"]["precision"] == "bf16"
    assert all(t.dtype == torch.float32 for t in state["model"].values() if t.is_floating_point())
    first, last = (dict(zip(COLUMNS, map(float, r))) for r in _rows(path))
    assert last["loss"] < first["loss"] and 0 < last["val_sdice"] < 1
    state["finished"], state["epoch"], state["rows"] = False, 0, state["rows"][:1]
    torch.save(state, cfg.checkpoint_path)
    with pytest.raises(TrainError, match=r"trained with --precision 'bf16' \(now 'fp32'\)"):
        train(_cfg(tmp_path, epochs=2, attention=True, optimizer="Adam", lr=0.01))


def test_a_fixed_layout_is_not_measured(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "choose_memory_format", None)  # calling it would fail
    cfg = _cfg(tmp_path, epochs=1, memory_format="contiguous")
    train(cfg)
    assert load_checkpoint(cfg.checkpoint_path)["model"]["down.1.0.weight"].is_contiguous()


def test_partial_last_row_is_dropped_on_resume(tmp_path):
    cfg = _cfg(tmp_path, epochs=2)
    path = train(cfg)
    state = load_checkpoint(cfg.checkpoint_path)
    state["finished"], state["epoch"], state["rows"] = False, 0, state["rows"][:1]
    torch.save(state, cfg.checkpoint_path)
    with open(path, "a") as f:
        f.write("1,0.43,0.5")  # killed mid-line
    train(_cfg(tmp_path, epochs=2))
    assert [r[0] for r in _rows(path)] == ["0", "1"]
    assert all(len(r) == len(COLUMNS) for r in _rows(path))


def test_finished_run_is_not_trained_again_unless_forced(tmp_path):
    path = train(_cfg(tmp_path, epochs=1))
    before = path.read_bytes()
    logs = []
    train(_cfg(tmp_path, epochs=1), log=logs.append)
    assert "is complete (1/1 epochs)" in logs[0]
    assert path.read_bytes() == before
    # a finished history without its checkpoint (as committed under run/) is complete too
    path.with_suffix(".ckpt").unlink()
    logs.clear()
    train(_cfg(tmp_path, epochs=1), log=logs.append)
    assert "is complete" in logs[0] and path.read_bytes() == before
    train(_cfg(tmp_path, epochs=1, force=True))
    assert path.read_bytes() != before


def test_corrupt_checkpoint_is_a_clear_error_and_history_is_untouched(tmp_path):
    cfg = _cfg(tmp_path, epochs=2)
    path = train(cfg)
    before = path.read_bytes()
    cfg.checkpoint_path.write_bytes(cfg.checkpoint_path.read_bytes()[:200])
    with pytest.raises(TrainError, match="checkpoint is corrupt or unreadable.*--force"):
        train(_cfg(tmp_path, epochs=2))
    assert path.read_bytes() == before


def test_checkpoint_loads_with_weights_only_and_holds_the_full_state(tmp_path):
    cfg = _cfg(tmp_path, epochs=1, plateau_patience=1)
    train(cfg)
    state = torch.load(cfg.checkpoint_path, weights_only=True)
    assert {"model", "optimizer", "scheduler", "rng", "epoch", "rows"} <= set(state)
    assert state["scheduler"] and isinstance(state["rng"]["torch"], torch.Tensor)
    assert not list(cfg.checkpoint_path.parent.glob(".*.tmp*"))


def test_partial_history_without_checkpoint_is_refused(tmp_path):
    cfg = _cfg(tmp_path, epochs=3)
    path = train(_cfg(tmp_path, epochs=3))
    cfg.checkpoint_path.unlink()
    path.write_text("\n".join(path.read_text().splitlines()[:2]) + "\n")
    with pytest.raises(TrainError, match="1 of 3 epochs but no checkpoint"):
        train(cfg)


def test_early_stopping_uses_the_keras_rule(tmp_path):
    pytest.importorskip("histkit.analysis.stops")
    logs = []
    path = train(_cfg(tmp_path, epochs=6, early_stop_patience=1, early_stop_min_delta=10.0),
                 log=logs.append)
    # min_delta 10 means no epoch improves: Keras stops after patience + 1 epochs
    assert [r[0] for r in _rows(path)] == ["0", "1"]
    assert logs[-1] == "early stopping after epoch 1"
    logs.clear()
    train(_cfg(tmp_path, epochs=6, early_stop_patience=1, early_stop_min_delta=10.0),
          log=logs.append)
    assert "is complete (2/6 epochs)" in logs[0]


def test_plateau_schedule_lowers_the_learning_rate(tmp_path):
    path = train(_cfg(tmp_path, epochs=4, optimizer="SGD", lr=50.0, plateau_patience=0))
    lrs = [float(r[COLUMNS.index("lr")]) for r in _rows(path)]
    assert lrs[0] == 50.0 and lrs[-1] < lrs[0]
    assert set(lrs) <= {50.0 * 0.5 ** k for k in range(4)}  # halved, never other values


def _check_history(path, ckpt):
    """Epochs 0..k-1 each exactly once, every row complete, never ahead of the checkpoint."""
    if not path.exists():
        return 0
    text = path.read_text()
    assert text.startswith(HEADER + "\n")
    assert text.endswith("\n"), "partial row"
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert all(len(r) == len(COLUMNS) for r in rows)
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    if rows:
        assert load_checkpoint(ckpt)["epoch"] >= len(rows) - 1
    return len(rows)


def test_kill_9_at_random_moments_never_loses_or_repeats_an_epoch(tmp_path):
    epochs = 14
    args = [sys.executable, "-m", "histkit.train", "--shape", "64x32x1", "--n-train", "16",
            "--n-val", "4", "--epochs", str(epochs), "--levels", "3", "--base-filters", "6",
            "--batch-size", "4", "--threads", "1", "--root", str(tmp_path), "--date", "2026-11-23"]
    cfg = TrainConfig(root=str(tmp_path), shape="64x32x1", n_train=16, n_val=4, epochs=epochs,
                      levels=3, base_filters=6, date="2026-11-23").validate()
    path, ckpt = cfg.history_path, cfg.checkpoint_path
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(0)
    kills, seen = 0, []
    for _ in range(6):
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # wait for a random number of logged epochs, then a random moment of the
        # next one: kills land mid-run however fast this machine trains
        target, deadline = rng.randrange(0, epochs - 1), time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and (
                not path.exists() or len(path.read_text().splitlines()) - 1 < target):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate()
        seen.append(_check_history(path, ckpt))
    (path.parent / f".{ckpt.stem}.x1y2z3w4.tmp{ckpt.suffix}").write_bytes(
        b"half a checkpoint")  # what a kill in save_checkpoint leaves
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(path)
    assert kills >= 3
    assert any(0 < n < epochs for n in seen), seen  # some kills landed mid-run
    assert _check_history(path, ckpt) == epochs
    probes = path.with_suffix(".probes")
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [path.name, ckpt.name, probes.name, path.with_suffix(".json").name,
         f".{path.stem}.lock"])  # the lock, released by each kill, kept for the next trainer
    # every epoch's probes exactly once, none left half-written by a kill
    for table in ("scalars", "histograms", "activations", "shares", "input"):
        assert sorted(p.name for p in (probes / table).iterdir()) == \
            [f"{e:04d}.parquet" for e in range(epochs)], table
    assert not list(probes.rglob(".*.tmp*"))
    from histkit import read_probes
    got = read_probes(path)
    assert sorted(got.scalars["epoch"].unique()) == list(range(epochs))


def test_checkpoint_of_another_architecture_is_a_clear_error_and_history_is_untouched(tmp_path):
    # what resuming a checkpoint saved by a histkit whose model differed looks like
    cfg = _cfg(tmp_path, epochs=2)
    path = train(cfg)
    state = torch.load(cfg.checkpoint_path, weights_only=True)
    state.update(finished=False, epoch=0, rows=state["rows"][:1])
    state["model"]["head.weight"] = torch.zeros(3, 5, 1, 1)
    torch.save(state, cfg.checkpoint_path)
    before = path.read_bytes()
    with pytest.raises(TrainError, match=r"does not fit .*head\.weight.*--force"):
        train(_cfg(tmp_path, epochs=2))
    assert path.read_bytes() == before


def test_a_run_that_diverges_stops_after_writing_that_epoch(tmp_path):
    messages = []
    path = train(_cfg(tmp_path, epochs=4, loss="ce", optimizer="SGD", lr=1e30),
                 log=messages.append)
    rows = _rows(path)
    assert len(rows) == 1 and rows[0][COLUMNS.index("loss")] == "nan"
    said = [m for m in messages if m.startswith("diverged (epoch 0)")]
    assert said and "loss is nan" in said[0] and "lower the learning rate" in said[0]
    assert load_checkpoint(path.with_suffix(".ckpt"))["finished"]
    # a rerun (a resume) does not train the diverged run on
    again = []
    train(_cfg(tmp_path, epochs=4, loss="ce", optimizer="SGD", lr=1e30), log=again.append)
    assert any("is complete (1/4 epochs)" in m for m in again) and len(_rows(path)) == 1
    from histkit import read_history
    from histkit.diagnosis import diagnose
    assert diagnose(read_history(path), run=path.stem)["rule"][0] == "diverged"


def test_a_second_trainer_of_a_run_in_training_stops_with_one_line(tmp_path):
    """Two trainers of one run would interleave rows and checkpoints: the
    second stops at once (exit 2, one line naming the history) and leaves the
    first's files alone; once the first is done the run can be trained."""
    args = [sys.executable, "-m", "histkit.train", "--shape", "64x32x1", "--n-train", "16",
            "--n-val", "4", "--epochs", "40", "--levels", "3", "--base-filters", "6",
            "--batch-size", "4", "--threads", "1", "--root", str(tmp_path), "--date", "2026-11-23"]
    cfg = TrainConfig(root=str(tmp_path), shape="64x32x1", n_train=16, n_val=4, epochs=40,
                      levels=3, base_filters=6, date="2026-11-23").validate()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while first.poll() is None and time.monotonic() < deadline and (
                not cfg.history_path.exists()
                or len(cfg.history_path.read_text().splitlines()) < 2):
            time.sleep(0.01)
        assert first.poll() is None, "the first trainer ended before the test could start another"
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert first.poll() is None  # still training: the second did not break it
    finally:
        first.kill()
        first.communicate()
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "another histkit train is training this run" in lines[0]
    assert str(cfg.history_path) in lines[0] and "Traceback" not in second.stderr
    with pytest.raises(TrainError, match="is training this run"):  # the library says it too
        with locked(cfg.history_path.with_name(f".{cfg.history_path.stem}.lock")):
            train(cfg)


def test_a_row_the_disk_refuses_leaves_no_half_line(tmp_path):
    # a file size limit stands in for a full disk (both refuse the write)
    import resource

    from histkit.errors import OutputError
    from histkit.train.checkpoint import append_row

    path = tmp_path / "run.csv"
    path.write_text("epoch,loss,val_loss\n0,0.5,0.6\n")
    before = path.read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) + 5, hard))
    try:
        with pytest.raises(OutputError, match="run.csv: cannot write it: file too large; the "
                                              "epoch's row was not kept; run the same command"):
            append_row(path, [1, 0.41234567, 0.51234567])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert path.read_bytes() == before
    append_row(path, [1, 0.4, 0.5])
    assert path.read_text().splitlines()[-1] == "1,0.4,0.5"
