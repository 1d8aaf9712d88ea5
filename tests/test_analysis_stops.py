"""histkit.analysis.stops: early stops within a tolerance, and the Keras replay."""

import math

import pandas as pd
import polars as pl
import pytest

from histkit.errors import OptionError
from histkit.readers import to_history
from histkit.analysis.stops import early_stoppings, keras_stop, stops_at_last_epoch
from histkit.metrics import is_loss_like

WIDE = pl.DataFrame({
    "epoch": [0, 1, 2, 3, 4, 5],
    "loss": [1.0, 0.5, 0.303, 0.30, 0.30, 0.31],
    "background_dice": [0.5, 0.9, 0.96, 0.964, 0.9641, None],
    "val_loss": [1.2, 0.7, 0.6, 0.61, 0.6, 0.65],
})


def stop_of(table, metric, data="training"):
    return table.filter((pl.col("metric") == metric) & (pl.col("data") == data)).row(0, named=True)


def test_columns_and_order():
    out = early_stoppings(to_history(WIDE))
    assert out.columns == ["metric", "data", "epoch", "value", "best_epoch", "best_value"]
    assert out.select("metric", "data").rows() == [
        ("loss", "training"), ("loss", "validation"), ("background_dice", "training")]


def test_first_epoch_within_tolerance_minimise():
    s = stop_of(early_stoppings(WIDE, tolerance=0.005), "loss")
    assert (s["epoch"], s["value"], s["best_epoch"], s["best_value"]) == (2, 0.303, 3, 0.30)


def test_maximise_non_loss_and_skip_missing():
    s = stop_of(early_stoppings(WIDE, tolerance=0.005), "background_dice")
    assert (s["epoch"], s["best_epoch"], s["best_value"]) == (2, 4, 0.9641)


def test_ties_on_best_go_to_first_epoch():
    s = stop_of(early_stoppings(WIDE, tolerance=0.001), "loss", "validation")
    assert s["best_epoch"] == 2 and s["epoch"] == 2


def test_relative_tolerance():
    # 1% of 0.30 is 0.003: 0.303 is just inside
    assert stop_of(early_stoppings(WIDE, 0.01, relative=True), "loss")["epoch"] == 2
    assert stop_of(early_stoppings(WIDE, 0.009, relative=True), "loss")["epoch"] == 3


def test_mode_override_and_bad_mode():
    s = stop_of(early_stoppings(WIDE, 0.005, mode={"loss": "max"}), "loss")
    assert s["best_epoch"] == 0 and s["best_value"] == 1.0
    with pytest.raises(OptionError, match="one of 'min', 'max'"):
        early_stoppings(WIDE, mode={"loss": "up"})


def test_order_of_rows_does_not_matter_and_pandas_is_accepted():
    shuffled = to_history(WIDE).sample(fraction=1.0, shuffle=True, seed=3).to_pandas()
    a = early_stoppings(shuffled).sort("metric", "data")
    b = early_stoppings(WIDE).sort("metric", "data")
    assert a.equals(b)


def test_by_columns_keep_runs_apart():
    long = pl.concat([to_history(WIDE).with_columns(run=pl.lit(r)) for r in ("a", "b")])
    long = long.with_columns(pl.when(pl.col("run") == "b").then(pl.col("value") * 2)
                             .otherwise(pl.col("value")).alias("value"))
    out = early_stoppings(long)
    assert out.columns[0] == "run" and out.height == 6
    assert out.filter(pl.col("run") == "b")["best_value"][0] == 0.60


@pytest.mark.parametrize("tol", [0, -1, "abc", float("nan"), math.inf, None])
def test_bad_tolerance(tol):
    with pytest.raises(OptionError, match="tolerance must be a positive number"):
        early_stoppings(WIDE, tolerance=tol)


@pytest.mark.parametrize("name, loss_like", [
    ("loss", True), ("val_loss", True), ("binary_crossentropy", True), ("mae", True),
    ("background_dice", False), ("sdice", False), ("lossy", False), ("acc", False)])
def test_loss_like(name, loss_like):
    assert is_loss_like(name) is loss_like


# Keras' EarlyStopping replayed by hand: val_loss 1.0 .9 .95 .96 .8 .85 .86 .87
KERAS = pl.DataFrame({"epoch": list(range(8)),
                      "val_loss": [1.0, 0.9, 0.95, 0.96, 0.8, 0.85, 0.86, 0.87]})


@pytest.mark.parametrize("kwargs, stopped, stop, restore", [
    ({}, True, 2, 1),
    ({"patience": 2}, True, 3, 1),
    ({"patience": 3}, True, 7, 4),
    ({"patience": 10}, False, None, 4),
    ({"min_delta": 0.2}, True, 1, 0),
    ({"patience": 1, "baseline": 0.85}, True, 2, 1),
    ({"start_from_epoch": 3, "patience": 1}, True, 5, 4),
])
def test_keras_stop_replay(kwargs, stopped, stop, restore):
    k = keras_stop(KERAS, **kwargs)
    assert (k.stopped, k.stop_epoch, k.restore_epoch) == (stopped, stop, restore)


def test_keras_stop_on_long_tables_max_mode_and_missing_monitor():
    long = to_history(WIDE)
    assert keras_stop(long, "val_loss", patience=1).restore_epoch == 2
    k = keras_stop(pd.DataFrame({"acc": [0.1, 0.5, 0.4, 0.3]}), "acc", patience=1)
    assert (k.stopped, k.stop_epoch, k.restore_epoch, k.best_value) == (True, 3, 2, 0.5)
    with pytest.raises(OptionError, match="monitor 'val_acc' is not in the history"):
        keras_stop(WIDE, "val_acc")


def test_stops_at_last_epoch_is_the_trainers_question():
    # WIDE's val_loss is best at epoch 2; with patience 1 Keras stops after epoch 3
    assert stops_at_last_epoch(WIDE.head(4), patience=1)
    assert not stops_at_last_epoch(WIDE.head(3), patience=1)   # still improving
    assert not stops_at_last_epoch(WIDE, patience=1)           # fired before the last epoch
    assert not stops_at_last_epoch(WIDE.head(4), patience=2)
    # 0.7 -> 0.6 is no improvement by 0.2: stops after epoch 2, not 3
    assert stops_at_last_epoch(WIDE.head(3), patience=1, min_delta=0.2)
    assert not stops_at_last_epoch(WIDE.head(4), patience=1, min_delta=0.2)
    assert not stops_at_last_epoch(WIDE.drop("val_loss"), patience=1)   # nothing to monitor
    assert stops_at_last_epoch(WIDE.drop("epoch").head(4).to_pandas(), patience=1)


def test_nan_in_a_long_polars_table_is_missing():
    long = to_history(WIDE).with_columns(
        pl.when(pl.col("epoch") == 3).then(float("nan")).otherwise(pl.col("value"))
        .alias("value"))
    s = stop_of(early_stoppings(long, tolerance=0.005), "loss")
    assert (s["epoch"], s["best_epoch"], s["best_value"]) == (2, 4, 0.30)


def test_an_infinite_value_is_never_the_best_or_the_stop(tmp_path):
    # inf, -inf and 1e400 (inf once parsed) in a CSV: missing for the stops,
    # with a warning that names the epochs
    path = tmp_path / "inf.csv"
    path.write_text("epoch,loss,val_loss\n0,1,1\n1,0.5,1e400\n2,0.4,0.5\n3,-inf,0.6\n")
    from histkit.errors import HistkitWarning
    from histkit.readers import read_history, to_history

    with pytest.warns(HistkitWarning) as told:
        stops = early_stoppings(to_history(read_history(path)))
    rows = {(r["data"], r["epoch"], r["best_value"]) for r in stops.iter_rows(named=True)}
    assert rows == {("training", 2, 0.4), ("validation", 2, 0.5)}
    said = sorted(str(w.message) for w in told)
    assert said == ["training loss is infinite at epoch 3: left out of the stops",
                    "validation loss is infinite at epoch 1: left out of the stops"]
