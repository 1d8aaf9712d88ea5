"""Logs written again from the start, resumed, or given a value after the
training, on files the frameworks wrote themselves (tests/fixtures/sources,
make_fixtures.py's last part of each section; the README there says what each
file holds): how many runs the readers make of them, under which names, with
which values, and what they warn."""

import csv
import io
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import polars as pl
import pytest

from histkit import readers as sources
from histkit.errors import HistoryError
from histkit.readers import find_histories, read_histories, read_history, to_history

FIX = Path(__file__).parent / "fixtures" / "sources"
FASTAI = FIX / "fastai/append/history.csv"
KERAS_APPEND = FIX / "keras/append.csv"
KERAS_RESUMED = FIX / "keras/resumed.csv"
TB_TWO = FIX / "tensorboard/two_runs"
TB_ITER = FIX / "tensorboard/per_iteration"
MLFLOW = FIX / "mlflow/restarts"
TESTED = FIX / "lightning/tested/lightning_logs/version_0/metrics.csv"

# every file here is read with a warning; the tests that check it record it (quiet, batch_of)
pytestmark = pytest.mark.filterwarnings("ignore::histkit.errors.HistkitWarning")


def quiet(path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wide = read_history(path, **kw)
    return wide, [str(w.message) for w in caught]


def batch_of(paths):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batch = read_histories([str(p) for p in paths])
    return batch, [str(w.message) for w in caught]


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text().splitlines()))


def mlflow_run(name: str) -> str:
    """The locator of the run called ``name`` in mlflow/restarts (its ids are random)."""
    runs = {sources.run_name(loc): loc for loc in find_histories([MLFLOW])}
    assert set(runs) == {"two_trainings", "final_at_step0"}
    return runs[name]


def metric_lines(run: str, key: str) -> list[tuple[int, float]]:
    """``(step, value)`` of each line of an MLflow file-store metric, in file order."""
    out = []
    for line in (Path(run) / "metrics" / key).read_text().splitlines():
        _, value, step = line.split()
        out.append((int(step), float(value)))
    return out


def event_scalars(path: Path) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard's own reading of one event file or run directory."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path))
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def histkit(*args):
    return subprocess.run([sys.executable, "-m", "histkit", *map(str, args)],
                          capture_output=True, text=True, env=dict(os.environ))


def cli_csv(res) -> pl.DataFrame:
    assert res.returncode == 0, res.stderr
    return pl.read_csv(io.StringIO(res.stdout))


# ---------------------------------------------------------------------------
# fastai: CSVLogger(append=True) over fine_tune (two fits) and one more fit


def test_fastai_file_has_a_header_per_fit():
    rows = csv_rows(FASTAI)
    headers = [i for i, r in enumerate(rows) if r[0] == "epoch"]
    assert headers == [0, 2, 5]
    assert rows[0] == rows[2] == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert rows[5] == ["epoch", "train_loss", "valid_loss", "accuracy", "error_rate", "time"]
    assert [r[0] for r in rows if r[0] != "epoch"] == ["0", "0", "1", "0", "1"]


def test_fastai_fits_are_one_run_with_epochs_numbered_on():
    wide, said = quiet(FASTAI)
    assert wide.columns == ["epoch", "loss", "val_loss", "val_accuracy", "time", "val_error_rate"]
    assert wide["epoch"].to_list() == [0, 1, 2, 3, 4]
    assert wide["loss"].to_list() == [0.7261244654655457, 0.6676256060600281, 0.6485627889633179,
                                      0.6113252639770508, 0.5900795459747314]
    assert wide["val_loss"].to_list() == [0.6721201539039612, 0.6509108543395996,
                                          0.6323333978652954, 0.6057276725769043,
                                          0.5869474411010742]
    assert wide["val_accuracy"].to_list() == [0.65625, 0.6875, 0.75, 0.75, 0.71875]
    # the metric added for the third fit: empty before it
    assert wide["val_error_rate"].to_list() == [None, None, None, 0.25, 0.28125]
    assert wide["time"].to_list() == [0.0] * 5
    # every data row of the file, in file order, is one epoch of the run
    data = [r for r in csv_rows(FASTAI) if r[0] != "epoch"]
    assert wide["loss"].to_list() == [float(r[1]) for r in data]
    assert len(said) == 1
    assert "holds 3 fits appended to one log (lines 4, 7 start again)" in said[0]
    assert "read as one run, the epochs of each fit numbered on from the last" in said[0]


def test_fastai_fits_are_one_run_in_a_batch():
    batch, said = batch_of([FASTAI])
    assert batch.ok and batch.paths == [str(FASTAI)]
    assert batch.name(str(FASTAI)) == "append"
    assert batch.histories["path"].n_unique() == 1
    assert any("holds 3 fits" in s for s in said)
    with pytest.raises(HistoryError, match="holds one training, so there is no #2"):
        read_history(f"{FASTAI}#2")


# ---------------------------------------------------------------------------
# Keras: CSVLogger(append=True) over two fresh models, and over a resume


def test_keras_append_file_has_one_header_and_epochs_from_0_twice():
    rows = csv_rows(KERAS_APPEND)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4", "0", "1", "2"]


def test_keras_append_is_two_runs():
    batch, said = batch_of([KERAS_APPEND])
    first, second = str(KERAS_APPEND), f"{KERAS_APPEND}#2"
    assert batch.ok and batch.paths == [first, second]
    assert [batch.name(p) for p in batch.paths] == ["append", "append#2"]
    assert len(said) == 1
    assert "holds 2 trainings (epochs start again at line 7)" in said[0]
    assert "read as 2 runs, the first under the log's own name, the others as '#2'" in said[0]

    one, _ = quiet(first)
    assert one.columns == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert one["epoch"].to_list() == [0, 1, 2, 3, 4]
    assert one["loss"].to_list() == [0.9009832143783569, 0.8060011267662048, 0.7383261919021606,
                                     0.6841365694999695, 0.6334335803985596]
    assert one["val_loss"].to_list() == [0.9437187314033508, 0.8448104858398438,
                                         0.7635195255279541, 0.7033737897872925,
                                         0.6560094952583313]
    two, _ = quiet(second)
    assert two["epoch"].to_list() == [0, 1, 2]
    assert two["loss"].to_list() == [0.6854296922683716, 0.6230958700180054, 0.5748965740203857]
    assert two["val_loss"].to_list() == [0.5898980498313904, 0.556668221950531,
                                         0.5280349254608154]
    assert two["val_accuracy"].to_list() == [0.703125, 0.71875, 0.703125]
    # the long table: each run its own rows
    per_run = batch.histories.group_by("path", maintain_order=True).agg(
        pl.col("epoch").unique().sort())
    assert per_run["path"].to_list() == [first, second]
    assert per_run["epoch"].to_list() == [[0, 1, 2, 3, 4], [0, 1, 2]]
    with pytest.raises(HistoryError, match="holds 2 trainings, so there is no #3"):
        read_history(f"{KERAS_APPEND}#3")


def test_keras_append_first_run_is_the_fit_of_training_log():
    # the same seeded fit as keras/training.log.csv (written on another machine:
    # equal to float32 rounding, see the fixtures' README)
    one = read_history(KERAS_APPEND)
    ref = read_history(FIX / "keras/training.log.csv")
    assert one.columns == ref.columns and one["epoch"].equals(ref["epoch"])
    for col in ("accuracy", "loss", "val_accuracy", "val_loss"):
        assert one[col].to_list() == pytest.approx(ref[col].to_list(), abs=1e-7)


def test_keras_resumed_keeps_the_later_row_of_the_repeated_epoch():
    rows = csv_rows(KERAS_RESUMED)
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "2", "3", "4"]
    batch, said = batch_of([KERAS_RESUMED])
    assert batch.ok and batch.paths == [str(KERAS_RESUMED)]
    assert batch.name(str(KERAS_RESUMED)) == "resumed"
    wide, said = quiet(KERAS_RESUMED)
    assert wide["epoch"].to_list() == [0, 1, 2, 3, 4]
    # epoch 2 is the second fit's row (the 4th pass), not the first fit's 0.7383261919021606
    assert wide["loss"].to_list() == [0.9009832143783569, 0.8060011267662048, 0.6841365694999695,
                                      0.6334335803985596, 0.5943867564201355]
    assert wide["val_loss"].to_list() == [0.9437187314033508, 0.8448104858398438,
                                          0.7033737897872925, 0.6560094952583313,
                                          0.6136698722839355]
    assert wide["accuracy"].to_list() == [0.4140625, 0.4765625, 0.59375, 0.6796875, 0.71875]
    assert wide.filter(pl.col("epoch") == 2).row(0) == tuple(
        [2] + [float(x) for x in rows[4][1:]])
    assert said == [f"{KERAS_RESUMED}: 1 repeated epoch row(s) (a resumed log?); kept the last "
                    "row of each epoch"]


# ---------------------------------------------------------------------------
# TensorBoard: two writers into one directory; per-iteration beside per-epoch


def test_tensorboard_two_runs_directory_holds_two_event_files():
    files = sorted(TB_TWO.glob("events.out.tfevents.*"))
    assert len(files) == 2
    first, second = (event_scalars(f) for f in files)
    assert set(first) == set(second) == {"loss/train", "loss/val"}
    assert [s for s, _ in first["loss/train"]] == [0, 1, 2, 3, 4]
    assert [s for s, _ in second["loss/train"]] == [0, 1, 2, 3]


def test_tensorboard_two_runs_are_split():
    batch, said = batch_of([TB_TWO])
    first, second = str(TB_TWO), f"{TB_TWO}#2"
    assert batch.ok and batch.paths == [first, second]
    assert [batch.name(p) for p in batch.paths] == ["two_runs", "two_runs#2"]
    assert len(said) == 1
    assert "holds 2 trainings ('loss/train' starts again at step 0)" in said[0]
    assert "read as 2 runs" in said[0]
    files = sorted(TB_TWO.glob("events.out.tfevents.*"))
    for loc, f in zip((first, second), files):
        wide, _ = quiet(loc)
        ref = event_scalars(f)
        assert wide.columns == ["epoch", "loss", "val_loss"]
        assert wide["epoch"].to_list() == [s for s, _ in ref["loss/train"]]
        assert wide["loss"].to_list() == [v for _, v in ref["loss/train"]]
        assert wide["val_loss"].to_list() == [v for _, v in ref["loss/val"]]
    one, two = read_history(first), read_history(second)
    assert one["loss"].to_list() == [0.5710245370864868, 0.4278585910797119, 0.3724248707294464,
                                     0.3434385359287262, 0.325359046459198]
    assert two["val_loss"].to_list() == [0.6179845333099365, 0.5590843558311462,
                                         0.5287470817565918, 0.5098624229431152]
    # the same trainings as tensorboard/writer (seed 0) and tags_1based (seed 1, from step 1)
    writer = read_history(FIX / "tensorboard/writer")
    assert one["val_loss"].to_list() == pytest.approx(writer["val_loss"].to_list(), abs=1e-7)
    tags = read_history(FIX / "tensorboard/tags_1based")
    assert two["loss"].to_list() == pytest.approx(tags["loss"].to_list(), abs=1e-7)


def test_tensorboard_per_iteration_is_spread_over_the_epochs():
    ref = event_scalars(TB_ITER)
    assert [s for s, _ in ref["iter/loss"]] == list(range(60))
    assert [s for s, _ in ref["loss/train"]] == list(range(6))
    assert ref["test_accuracy"] == [(59, 0.9375)]
    wide, said = quiet(TB_ITER)
    assert wide.columns == ["epoch", "iter/loss", "loss", "val_loss", "test_accuracy"]
    assert wide["epoch"].to_list() == [0, 1, 2, 3, 4, 5]
    # steps 10e..10e+9 are epoch e: the mean of its 10 iterations
    per_epoch = [sum(v for _, v in ref["iter/loss"][10 * e:10 * e + 10]) / 10 for e in range(6)]
    assert wide["iter/loss"].to_list() == pytest.approx(per_epoch, rel=1e-12)
    assert wide["loss"].to_list() == [v for _, v in ref["loss/train"]]
    assert wide["val_loss"].to_list() == [v for _, v in ref["loss/val"]]
    assert wide["val_loss"].to_list() == [0.41054585576057434, 0.35708296298980713,
                                          0.3320022523403168, 0.3153606951236725,
                                          0.30499717593193054, 0.2974015772342682]
    # the epoch's loss/train is that mean too (rounded to float32 by the writer)
    assert wide["iter/loss"].to_list() == pytest.approx(wide["loss"].to_list(), abs=1e-7)
    # logged at step 59, past the 6 epochs: put on the last one
    assert wide["test_accuracy"].to_list() == [None] * 5 + [0.9375]
    assert any(f"{TB_ITER}: 'iter/loss' (60 values over steps 0-59) logged per iteration beside "
               "series logged per epoch (steps 0-5): spread evenly over those 6 epochs" in s
               for s in said)
    assert any("per-step values reduced to one per epoch by their mean: 'iter/loss' (up to 10 "
               "values)" in s for s in said)
    long = to_history(wide)
    test = long.filter(pl.col("data") == "test").drop_nulls("value")
    assert test.rows() == [(5, 0.9375, "accuracy", "test")]


def test_tensorboard_per_iteration_is_one_run():
    batch, _ = batch_of([TB_ITER])
    assert batch.ok and batch.paths == [str(TB_ITER)]
    assert batch.name(str(TB_ITER)) == "per_iteration"
    h = batch.histories
    assert sorted(h.filter(pl.col("data") == "test").drop_nulls("value")["value"]) == [0.9375]
    assert sorted(h["epoch"].unique()) == [0, 1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------
# MLflow: two trainings into one run; a final value logged again at step 0


def test_mlflow_metric_files_log_step_0_twice():
    two = mlflow_run("two_trainings")
    assert [s for s, _ in metric_lines(two, "loss")] == [0, 1, 2, 3, 4, 0, 1, 2, 3]
    final = mlflow_run("final_at_step0")
    assert [s for s, _ in metric_lines(final, "val_accuracy")] == [0, 1, 2, 3, 4, 0]
    assert metric_lines(final, "test_loss") == [(0, 0.39935144782066345)]


def test_mlflow_two_trainings_in_one_run_are_split():
    two = mlflow_run("two_trainings")
    final = mlflow_run("final_at_step0")
    batch, said = batch_of(find_histories([MLFLOW]))
    assert batch.ok
    assert sorted(batch.paths) == sorted([two, f"{two}#2", final])
    assert batch.paths.index(f"{two}#2") == batch.paths.index(two) + 1
    assert sorted(batch.name(p) for p in batch.paths) == ["final_at_step0", "two_trainings",
                                                          "two_trainings#2"]
    assert batch.name(f"{two}#2") == "two_trainings#2"
    assert any(s.startswith(f"{two}: holds 2 trainings ('loss' starts again at step 0); read "
                            "as 2 runs") for s in said)

    lines = metric_lines(two, "loss")
    val = metric_lines(two, "val_loss")
    one, _ = quiet(two)
    assert one.columns == ["epoch", "loss", "val_loss"]
    assert one["epoch"].to_list() == [0, 1, 2, 3, 4]
    assert one["loss"].to_list() == [v for _, v in lines[:5]]
    assert one["val_loss"].to_list() == [v for _, v in val[:5]]
    assert one["loss"].to_list() == [0.5710245271523794, 0.4278586010138194, 0.3724248707294464,
                                     0.3434385259946187, 0.3253590563933055]
    second, _ = quiet(f"{two}#2")
    assert second["epoch"].to_list() == [0, 1, 2, 3]
    assert second["loss"].to_list() == [v for _, v in lines[5:]]
    assert second["val_loss"].to_list() == [0.6179845333099365, 0.5590843558311462,
                                            0.5287470817565918, 0.5098624229431152]
    with pytest.raises(HistoryError, match="holds 2 trainings, so there is no #3"):
        read_history(f"{two}#3")
    # the same trainings as logreg_seed0 and logreg_seed1 (another machine: float32 rounding)
    runs = {sources.run_name(loc): loc for loc in find_histories([FIX / "mlflow/mlruns"])}
    seed0, seed1 = read_history(runs["logreg_seed0"]), read_history(runs["logreg_seed1"])
    assert one["val_loss"].to_list() == pytest.approx(seed0["val_loss"].to_list(), abs=1e-7)
    assert second["loss"].to_list() == pytest.approx(seed1["loss"].to_list()[:4], abs=1e-7)


def test_mlflow_value_logged_again_at_step_0_is_left_out():
    final = mlflow_run("final_at_step0")
    wide, said = quiet(final)
    assert wide.columns == ["epoch", "loss", "val_accuracy", "val_loss", "test_loss"]
    assert wide["epoch"].to_list() == [0, 1, 2, 3, 4]
    # the training's values, not the 0.875 logged at step 0 after it
    assert wide["val_accuracy"].to_list() == [0.625, 0.75, 0.8125, 0.8125, 0.8125]
    assert wide["val_accuracy"].to_list() == [v for _, v in metric_lines(final, "val_accuracy")[:5]]
    assert wide["val_loss"].to_list() == [v for _, v in metric_lines(final, "val_loss")]
    assert wide["loss"].to_list() == [0.6819574137528738, 0.481013759970665, 0.4042555590470632,
                                      0.3635303129752477, 0.3391008526086807]
    # test_loss, logged once (at step 0, MLflow's default), is the training's
    # result: a test value on the last epoch
    assert wide["test_loss"].to_list() == [None, None, None, None, 0.39935144782066345]
    assert any(s == f"{final}: values logged again at an earlier step after the training "
                    "(final or test values?) were left out: 'val_accuracy' at step 0 (0.875)"
               for s in said)
    long = to_history(wide).drop_nulls("value")
    assert long.filter(pl.col("data") == "test").rows() == [
        (4, 0.39935144782066345, "loss", "test")]
    assert 0.875 not in long["value"].to_list()
    batch, _ = batch_of([final])
    assert batch.paths == [final] and batch.name(final) == "final_at_step0"


# ---------------------------------------------------------------------------
# Lightning: trainer.test after trainer.fit, into the same CSVLogger


def test_lightning_test_row_is_a_test_value():
    rows = csv_rows(TESTED)
    assert rows[0] == ["epoch", "step", "test_loss", "train_loss", "val_acc", "val_loss"]
    assert rows[-1] == ["4", "16", "0.5208631753921509", "", "", ""]
    wide, said = quiet(TESTED)
    assert wide.columns == ["epoch", "val_acc", "val_loss", "loss", "test_loss"] and not said
    # the test row's epoch 4 is one past the fit's last: put on the last epoch
    assert wide["epoch"].to_list() == [0, 1, 2, 3]
    assert wide["test_loss"].to_list() == [None, None, None, 0.5208631753921509]
    # the fit is the `epoch` fixture's, value for value
    fit = read_history(FIX / "lightning/epoch/lightning_logs/version_0/metrics.csv")
    assert wide.drop("test_loss").equals(fit)
    long = to_history(wide).drop_nulls("value")
    assert long.filter(pl.col("data") == "test").rows() == [
        (3, 0.5208631753921509, "loss", "test")]
    batch, _ = batch_of([TESTED])
    assert batch.ok and batch.paths == [str(TESTED)] and batch.name(str(TESTED)) == "version_0"


# ---------------------------------------------------------------------------
# the command line shows the '#2' runs


def test_cli_runs_lists_the_second_trainings():
    res = histkit("runs", KERAS_APPEND, TB_TWO, MLFLOW, FASTAI, "-f", "csv")
    table = cli_csv(res)
    runs = table["run"].to_list()
    assert sorted(runs) == ["append", "append", "append#2", "final_at_step0", "two_runs",
                            "two_runs#2", "two_trainings", "two_trainings#2"]
    for name in ("append", "two_runs", "two_trainings"):  # a second training follows its first
        assert runs[runs.index(f"{name}#2") - 1] == name
    by = {(p, r): n for p, r, n in zip(table["path"], table["run"], table["epochs_logged"])}
    two = mlflow_run("two_trainings")
    assert by[(str(KERAS_APPEND), "append")] == 5
    assert by[(f"{KERAS_APPEND}#2", "append#2")] == 3
    assert by[(str(TB_TWO), "two_runs")] == 5
    assert by[(f"{TB_TWO}#2", "two_runs#2")] == 4
    assert by[(two, "two_trainings")] == 5
    assert by[(f"{two}#2", "two_trainings#2")] == 4
    assert by[(mlflow_run("final_at_step0"), "final_at_step0")] == 5
    assert by[(str(FASTAI), "append")] == 5  # the fastai fits: one run
    best = dict(zip(table["path"], table["best_val_loss"]))
    assert best[f"{KERAS_APPEND}#2"] == 0.5280349254608154
    assert best[f"{TB_TWO}#2"] == 0.5098624229431152
    assert "holds 2 trainings" in res.stderr and "holds 3 fits" in res.stderr


def test_cli_stops_gives_each_training_its_rows():
    res = histkit("stops", KERAS_APPEND, TB_TWO, MLFLOW, "-f", "csv")
    table = cli_csv(res)
    assert set(table["run"]) == {"append", "append#2", "two_runs", "two_runs#2",
                                 "two_trainings", "two_trainings#2", "final_at_step0"}
    val = table.filter((pl.col("metric") == "loss") & (pl.col("data") == "validation"))
    last = dict(zip(val["run"], zip(val["epoch"], val["value"])))
    assert last["append"] == (4, 0.6560094952583313)
    assert last["append#2"] == (2, 0.5280349254608154)
    assert last["two_runs#2"] == (3, 0.5098624229431152)
    assert last["two_trainings#2"] == (3, 0.5098624229431152)
    assert "test" not in set(table["data"])
    assert "holds 2 trainings" in res.stderr
    assert "'val_accuracy' at step 0 (0.875)" in res.stderr


def test_a_later_training_has_its_own_probes_and_sidecar_names(tmp_path):
    # the log's probes and settings are not those of a training appended later
    from histkit.probes import has_probes, probes_dir
    from histkit.sidecar import read_sidecar, sidecar_path

    log = tmp_path / "append.csv"
    shutil.copy(FIX / "keras" / "append.csv", log)
    (tmp_path / "append.probes").mkdir()
    (tmp_path / "append.json").write_text('{"settings": {"lr": 0.1}}')
    assert has_probes(log) and read_sidecar(log) is not None
    assert probes_dir(f"{log}#2") == tmp_path / "append#2.probes"
    assert not has_probes(f"{log}#2")
    assert sidecar_path(f"{log}#2") == tmp_path / "append#2.json"
    assert read_sidecar(f"{log}#2") is None


def test_one_training_of_a_log_is_named_on_the_command_line(tmp_path):
    log = tmp_path / "append.csv"
    shutil.copy(FIX / "keras" / "append.csv", log)
    out = histkit("stops", f"{log}#2", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert {r["run"] for r in rows} == {"append#2"}
    assert {r["epoch"] for r in rows} <= {"0", "1", "2"}
    out = histkit("stops", f"{log}#3")
    assert out.returncode == 2
    assert out.stderr.strip().endswith("append.csv: holds 2 trainings, so there is no #3")


def test_a_report_has_a_page_for_each_training_of_a_log(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(FIX / "keras" / "append.csv", logs / "append.csv")
    out = histkit("report", logs, "-o", tmp_path / "report", "-j", "1")
    assert out.returncode == 0, out.stderr
    pages = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "report" / "runs").glob("*.html"))
    assert pages == ["append", "append_2"]
    summary = pl.read_csv(tmp_path / "report" / "summary.csv")
    assert sorted(summary["run"].to_list()) == ["append", "append#2"]


def test_test_values_are_shown_in_the_runs_table_and_never_a_stop_or_a_curve(tmp_path):
    from histkit.analysis.stops import early_stoppings
    from histkit.diagnosis import diagnose
    from histkit.render.plot import facets

    metrics = FIX / "lightning" / "tested" / "lightning_logs" / "version_0" / "metrics.csv"
    table = cli_csv(histkit("runs", metrics.parent, "--format", "csv", "--no-cache",
                           "--columns", "run,test"))
    assert table["test"].to_list() == ["loss=0.5209"]
    long = to_history(read_history(metrics))
    assert "test" in set(long["data"])
    assert "test" not in set(early_stoppings(long)["data"])
    assert "test" not in set(facets(long, None)[0]["data"])
    # an infinite test value is no divergence: test values are no diagnosis input
    found = diagnose(long.with_columns(pl.when(pl.col("data") == "test")
                                       .then(float("inf")).otherwise(pl.col("value"))
                                       .alias("value")), run="r")
    assert "diverged" not in found["rule"].to_list() and "test" not in set(found["data"])
