"""histkit.rapi: the plain-dict boundary the R package talks to through reticulate."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from histkit import early_stoppings, rapi, read_history, read_probes, to_history
from histkit.probes import probes_dir
from conftest import RUN, run_path, write_history


def _r_table(frame: pl.DataFrame) -> dict:
    """What r/R/convert.R's .encode_frame() sends: R vectors (scalars when of
    length 1), placeholders at the NA positions."""
    out = {"names": list(frame.columns), "columns": {}, "types": {}, "na": {}}
    for name in frame.columns:
        s = frame[name]
        kind = {pl.Float64: "double", pl.Int64: "integer", pl.Boolean: "logical"}.get(
            s.dtype, "character")
        na = s.is_null().arg_true().to_list()
        values = s.to_list()
        for i in na:  # what reticulate would make of R's NA
            values[i] = {"double": math.nan, "integer": -2147483648, "character": "NA",
                         "logical": True}[kind]
        out["columns"][name] = values[0] if len(values) == 1 else values
        out["types"][name] = kind
        out["na"][name] = na[0] if len(na) == 1 else na
    return out


def test_decode_restores_nulls_over_reticulate_odd_values():
    frame = pl.DataFrame({"i": [1, None, 3], "f": [0.5, None, 1.5], "s": ["a", None, "c"],
                          "b": [True, None, False]})
    back = rapi.decode(_r_table(frame))
    assert back.equals(frame)
    assert back["i"].null_count() == 1 and -2147483648 not in back["i"].to_list()


def test_decode_takes_scalars_from_length_one_vectors():
    back = rapi.decode({"names": "loss", "columns": {"loss": 0.5}, "types": {"loss": "double"},
                        "na": {"loss": []}})
    assert back.to_dict(as_series=False) == {"loss": [0.5]}


def test_encode_marks_missing_values_and_keeps_types():
    frame = pl.DataFrame({"epoch": [0, 1], "value": [float("nan"), None],
                          "metric": pl.Series(["a", None]), "big": [2**40, 1]})
    enc = rapi.encode(frame, {"metric": ["a"]})
    assert enc["types"] == {"epoch": "integer", "value": "double", "metric": "character",
                            "big": "double"}
    assert enc["na"] == {"epoch": [], "value": [0, 1], "metric": [1], "big": []}
    assert enc["columns"]["metric"] == ["a", ""]
    assert enc["levels"] == {"metric": ["a"]}
    # nothing but builtins crosses the boundary
    assert all(type(v) in (int, float, str) for col in enc["columns"].values() for v in col)


def test_to_history_matches_the_library_with_keras_factor_levels(tmp_path):
    path = write_history(run_path(tmp_path), epochs=6)
    wide = read_history(path)
    res = rapi.to_history(_r_table(wide.with_columns(pl.col("epoch").cast(pl.Float64))))
    assert res["error"] is None
    got = rapi.decode({**res["value"]})
    assert got.equals(to_history(wide))
    assert res["value"]["levels"]["metric"] == ["background_dice", "loss", "scat_dice",
                                                "sdice", "vsat_dice"]
    assert res["value"]["levels"]["data"] == ["training", "validation"]
    tested = wide.with_columns(test_loss=pl.lit(None, pl.Float64)).with_columns(
        pl.when(pl.col("epoch") == pl.col("epoch").max()).then(0.3).alias("test_loss"))
    res = rapi.to_history(_r_table(tested.with_columns(pl.col("epoch").cast(pl.Float64))))
    assert res["value"]["levels"]["data"] == ["training", "validation", "test"]


def test_text_columns_of_numbers_and_nan_become_numbers():
    table = _r_table(pl.DataFrame({"epoch": [0.0, 1.0, 2.0], "loss": ["0.5", "nan", ""]}))
    res = rapi.to_history(table)
    assert res["error"] is None
    assert rapi.decode(res["value"])["value"].to_list() == [0.5, None, None]
    bad = rapi.to_history(_r_table(pl.DataFrame({"epoch": [0.0], "loss": ["high"]})))
    assert bad["value"] is None and "column 'loss' is not numeric" in bad["error"]


def test_early_stoppings_matches_the_library(tmp_path):
    wide = read_history(write_history(run_path(tmp_path), epochs=24))
    long = to_history(wide)
    res = rapi.early_stoppings(_r_table(long), 0.005, False, None)
    assert rapi.decode(res["value"]).equals(early_stoppings(long, 0.005))
    rel = rapi.early_stoppings(_r_table(long), 0.01, True, {"loss": "max"})
    assert rapi.decode(rel["value"]).equals(
        early_stoppings(long, 0.01, relative=True, mode={"loss": "max"}))
    assert "tolerance must be a positive number" in rapi.early_stoppings(
        _r_table(long), 0)["error"]


def test_keras_stop_is_a_plain_dict():
    table = _r_table(pl.DataFrame({"epoch": [0.0, 1.0, 2.0, 3.0],
                                   "val_loss": [1.0, 0.8, 0.9, 0.95]}))
    res = rapi.keras_stop(table, "val_loss", 0, 1, None, 0, "auto")
    assert res["value"] == {"monitor": "val_loss", "stopped": True, "stop_epoch": 2,
                            "restore_epoch": 1, "best_value": 0.8, "epochs_run": 3}


def test_facet_levels_takes_a_named_list_or_a_file(labels_file):
    res = rapi.facet_levels(["sdice", "loss", "lr"], {"loss": "Loss", "sdice": "Dice"})
    # exactly the lookup's metrics, in its order
    assert res["value"] == {"order": ["loss", "sdice"], "labels": ["Loss", "Dice"]}
    from_file = rapi.facet_levels("loss", str(labels_file))["value"]
    assert from_file == {"order": ["loss"], "labels": ["Multilabel Balanced Dice Loss"]}


SERIES = ["background_dice", "loss", "scat_dice", "sdice", "vsat_dice", "iou", "lr",
          "epoch_time_s", "peak_mem_mb"]


def _telemetry_wide(epochs: int = 6) -> pl.DataFrame:
    e = list(range(epochs))
    cols = {"epoch": [float(i) for i in e]}
    for m in SERIES:
        cols[m] = [1.0 / (i + 2) if m == "loss" else 0.1 * (i + 1) for i in e]
        if m not in ("lr", "epoch_time_s", "peak_mem_mb"):
            cols[f"val_{m}"] = [v + 0.01 for v in cols[m]]
    return pl.DataFrame(cols)


def test_facet_levels_are_plot_historys_facets(labels_file):
    """R's plot_history() gets from rapi.facet_levels exactly the facets
    Python's plot_history() draws, whatever the options."""
    from histkit.render.plot import plot_history

    wide = _telemetry_wide()
    lookup = str(labels_file)
    for kwargs in ({}, {"all_metrics": True}, {"telemetry": ["iou"]},
                   {"telemetry": ["iou", "scat_dice"], "all_metrics": True},
                   {"metrics": ["lr", "sdice", "loss"]}):
        for lk in (None, lookup):
            python = list(plot_history(wide, lk, **kwargs).data["metric"].cat.categories)
            res = rapi.facet_levels(SERIES, lk, kwargs.get("all_metrics", False),
                                    kwargs.get("telemetry"), kwargs.get("metrics"))
            assert res["error"] is None
            assert res["value"]["labels"] == python, (kwargs, lk)
    # the seed's lookup: exactly its five; all_metrics adds iou, never telemetry
    seed = rapi.facet_levels(SERIES, lookup)["value"]["order"]
    assert seed == ["loss", "sdice", "background_dice", "vsat_dice", "scat_dice"]
    assert rapi.facet_levels(SERIES, lookup, True)["value"]["order"] == [*seed, "iou"]
    # R sends one name as a scalar; "a,b" is split as on the command line
    assert rapi.facet_levels(SERIES, None, False, "iou,scat_dice")["value"]["order"] == [
        "background_dice", "loss", "sdice", "vsat_dice"]
    assert rapi.facet_levels(SERIES, None, False, None, "lr")["value"]["order"] == ["lr"]


def test_facet_levels_errors_are_plot_historys():
    assert rapi.facet_levels(SERIES, None, False, None, ["acc"])["error"].startswith(
        "metric 'acc' is not in the history; it has background_dice, loss")
    assert rapi.facet_levels(["lr", "step"])["error"] == (
        "nothing to plot: the history has no metric rows")
    assert rapi.facet_levels([], None)["error"] == (
        "nothing to plot: the history has no metric rows")


def test_early_stoppings_gives_telemetry_no_stop():
    long = to_history(_telemetry_wide())
    table = _r_table(long.with_columns(pl.col("metric").cast(pl.String),
                                       pl.col("data").cast(pl.String)))
    stops = rapi.decode(rapi.early_stoppings(table, 0.005, False, None)["value"])
    assert stops["metric"].unique(maintain_order=True).to_list() == SERIES[:6]
    user = rapi.decode(rapi.early_stoppings(table, 0.005, False, None, ["iou"])["value"])
    assert user.equals(early_stoppings(long, 0.005, telemetry=["iou"]))
    assert "iou" not in user["metric"].to_list()
    scalar = rapi.decode(rapi.early_stoppings(table, 0.005, False, None, "iou,loss")["value"])
    assert set(scalar["metric"]) == {"background_dice", "scat_dice", "sdice", "vsat_dice"}


def test_telemetry_names_in_order_with_a_users_own():
    assert rapi.telemetry_names(SERIES)["value"] == ["lr", "epoch_time_s", "peak_mem_mb"]
    assert rapi.telemetry_names(SERIES, "iou")["value"] == [
        "iou", "lr", "epoch_time_s", "peak_mem_mb"]
    assert rapi.telemetry_names("lr", None)["value"] == ["lr"]
    assert rapi.telemetry_names(["loss"], [])["value"] == []


def test_read_history_forces_a_source():
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "sources"
    json = str(fixtures / "keras" / "history.json")
    res = rapi.read_history(json, "keras")
    assert rapi.decode(res["value"]).equals(read_history(json))
    fastai = str(fixtures / "fastai" / "history.csv")
    assert rapi.read_history(fastai)["error"] is None
    assert "non-numeric value '00:00'" in rapi.read_history(fastai, "keras")["error"]
    bad = rapi.read_history(json, "kerass")
    assert bad["value"] is None and "\n" not in bad["error"]
    assert "should be one of keras, lightning" in bad["error"] and "'kerass'" in bad["error"]


def test_parse_run_name_rows_warnings_and_strict(tmp_path):
    path = str(run_path(tmp_path, f"{RUN}_DR40", "2021-03-02"))
    res = rapi.parse_run_name([RUN, path, "final"])
    table = rapi.decode(res["value"])
    assert table["date"].to_list() == [None, "2021-03-02", None]
    assert table["dropout"].to_list() == [0.0, 0.4, None]
    assert table["valid"].to_list() == [True, True, False]
    assert table["height"].dtype == pl.Int64
    assert len(res["warnings"]) == 1 and "'final' does not follow" in res["warnings"][0]
    strict = rapi.parse_run_name("final", True)
    assert strict["value"] is None and "does not follow the grammar" in strict["error"]


def test_runs_returns_table_and_problems(tmp_path):
    write_history(run_path(tmp_path), epochs=5)
    bad = run_path(tmp_path, f"{RUN}_DR10")
    bad.write_text("epoch,loss\n0,oops\n")
    res = rapi.runs(str(tmp_path / "run"))
    table = rapi.decode(res["value"]["table"])
    assert table.height == 2
    assert sorted(table["epochs_logged"].to_list()) == [0, 5]
    assert len(res["value"]["problems"]) == 1 and "oops" in res["value"]["problems"][0]


def test_info_names_python_and_version():
    import histkit

    assert rapi.info()["value"]["histkit"] == histkit.__version__


def test_diagnose_matches_the_library_and_errors_are_one_line(tmp_path):
    from histkit.diagnosis import diagnose

    wide = read_history(write_history(run_path(tmp_path), epochs=12))
    # the loss explodes halfway: at least one finding whatever the thresholds
    blown = wide.with_columns(pl.when(pl.col("epoch") >= 6).then(pl.col("loss") * 1e9)
                              .otherwise(pl.col("loss")).alias("loss"))
    for frame in (wide, blown):
        res = rapi.diagnose(_r_table(frame.with_columns(pl.col("epoch").cast(pl.Float64))),
                            3.0, None, None, "r1")  # R's 3 is a double
        assert res["error"] is None
        assert rapi.decode(res["value"]).equals(diagnose(frame, 3, run="r1"))
        assert res["value"]["types"]["epoch"] == "integer"
    assert rapi.decode(rapi.diagnose(_r_table(blown))["value"]).height > 0
    # a long table keyed by run; "1", "2" (dplyr's .id) stay names, not numbers
    long = pl.concat([to_history(f).with_columns(pl.col("metric", "data").cast(pl.String),
                                                 run=pl.lit(n))
                      for n, f in (("1", wide), ("2", blown))])
    res = rapi.diagnose(_r_table(long), None, ["diverged", "stuck"], None)
    found = rapi.decode(res["value"])
    assert found.equals(diagnose(long, rules=["diverged", "stuck"]))
    assert set(found["run"]) <= {"1", "2"} and found.height > 0
    # one rule id crosses as a scalar; an empty list is no rule at all
    assert rapi.decode(rapi.diagnose(_r_table(blown), None, "diverged")["value"]).equals(
        diagnose(blown, rules=["diverged"]))
    assert rapi.decode(rapi.diagnose(_r_table(blown), None, [])["value"]).height == 0
    bad = rapi.diagnose(_r_table(wide), None, ["stuck", "nope"])
    assert bad["value"] is None and "\n" not in bad["error"]
    assert bad["error"].startswith("unknown rule 'nope'")
    assert "classes must be a whole number" in rapi.diagnose(_r_table(wide), 1.0)["error"]
    assert "classes must be a whole number" in rapi.diagnose(_r_table(wide), 2.5)["error"]


def _probe_table(enc: dict) -> pl.DataFrame:
    """An encoded probe table back as a frame, NaN kept apart from nulls (as
    R's .decode_frame() does: NaN crosses as itself, a null at its position)."""
    dtypes = {"integer": pl.Int64, "double": pl.Float64, "character": pl.String,
              "logical": pl.Boolean}
    cols = []
    for name in enc["names"]:
        values = list(enc["columns"][name])
        for i in enc["na"][name]:
            values[i] = None
        cols.append(pl.Series(name, values, dtype=dtypes[enc["types"][name]]))
    return pl.DataFrame(cols)


def _write_probes(history: Path, tables: dict[str, pl.DataFrame]) -> None:
    for name, frame in tables.items():
        (probes_dir(history) / name).mkdir(parents=True, exist_ok=True)
        frame.write_parquet(probes_dir(history) / name / "0000.parquet")


def test_read_probes_matches_the_library_on_a_trained_run(tmp_path):
    pytest.importorskip("torch")
    from histkit.train import train

    path = train(root=str(tmp_path), shape="32x16x1", n_train=8, n_val=4, levels=2,
                 base_filters=4, epochs=3, batch_size=4, date="2026-11-23", threads=1,
                 progress=False)
    res = rapi.read_probes(str(path))
    assert res["error"] is None and res["warnings"] == []
    got, want = res["value"], read_probes(path)
    assert list(got) == ["scalars", "histograms", "activations", "shares", "input", "images"]
    for name, enc in got.items():
        frame = getattr(want, name)
        assert frame.height > 0, name
        assert _probe_table(enc).equals(frame), name
        assert all(type(v) in (int, float, str) for col in enc["columns"].values() for v in col)
    assert got["scalars"]["types"]["epoch"] == "integer"
    assert got["histograms"]["types"]["count"] == "integer"
    assert sorted(set(got["images"]["columns"]["epoch"])) == [0, 1, 2]
    # the .probes directory itself reads the same
    again = rapi.read_probes(str(probes_dir(path)))["value"]
    assert all(_probe_table(again[k]).equals(_probe_table(got[k])) for k in got)


def test_read_probes_keeps_nan_and_inf_apart_from_nulls(tmp_path):
    history = write_history(run_path(tmp_path), epochs=2)
    _write_probes(history, {
        "scalars": pl.DataFrame({"epoch": [0, 1], "layer": ["a.bias", None],
                                 "weight_norm": [0.0, 1.5], "grad_norm": [None, 0.25],
                                 "update_ratio": [math.nan, 0.01]}),
        "histograms": pl.DataFrame({"epoch": [0, 0, 5], "layer": ["a", "a", "a"],
                                    "kind": ["weight"] * 3, "bin": [0, 38, 1],
                                    "lo": [-math.inf, 10.0, -10.0],
                                    "hi": [-10.0, math.inf, -3.16], "count": [1, 2, 3]})})
    enc = rapi._value(rapi.read_probes(str(history)))
    ratio = enc["scalars"]["columns"]["update_ratio"]
    assert math.isnan(ratio[0]) and enc["scalars"]["na"]["update_ratio"] == []
    assert enc["scalars"]["na"] == {"epoch": [], "layer": [1], "weight_norm": [],
                                    "grad_norm": [0], "update_ratio": []}
    assert enc["histograms"]["columns"]["lo"][0] == -math.inf
    assert enc["histograms"]["columns"]["hi"][1] == math.inf
    assert enc["histograms"]["columns"]["epoch"] == [0, 0]  # epoch 5 is not in the history
    # tables the run does not have cross as an epoch column and no rows
    assert enc["shares"] == {"names": ["epoch"], "columns": {"epoch": []},
                             "types": {"epoch": "integer"}, "na": {"epoch": []}, "levels": {}}
    assert enc["images"]["names"] == ["epoch", "kind", "index", "path"]


def test_read_probes_errors_are_one_line(tmp_path):
    history = write_history(run_path(tmp_path), epochs=2)
    res = rapi.read_probes(str(history))
    assert res["value"] is None and "\n" not in res["error"]
    assert "no probes beside this history" in res["error"] and history.name in res["error"]
    missing = rapi.read_probes(str(tmp_path / "nope.csv"))
    assert missing["error"] == f"{tmp_path / 'nope.csv'}: no such file or directory"


def test_compare_runs_encodes_the_three_tables(tmp_path):
    write_history(run_path(tmp_path), epochs=6)
    write_history(run_path(tmp_path, RUN + "_DR20"), epochs=6, rate=3)
    res = rapi.compare_runs(str(tmp_path / "run"), "loss")
    assert res["error"] is None
    got = res["value"]
    assert got["metric"] == "val_loss" and got["higher_is_better"] is False
    assert got["effects"]["columns"]["pairs"] == [1]
    assert got["importance"]["columns"]["factor"] == ["dropout"]
    assert rapi.compare_runs(str(tmp_path / "run"), "iou")["error"].startswith(
        "no series 'iou'")
