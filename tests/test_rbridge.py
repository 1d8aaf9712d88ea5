"""histkit.rbridge (tables to and from R), readers.rds (R keras histories) and
render.r_plot (the R rendering).

Needs rpy2 (extra [r]) and, for the rendering, the R package installed with
``R CMD INSTALL r`` (``make test`` does both)."""

from __future__ import annotations

import struct

import polars as pl
import pytest

pytest.importorskip("rpy2.robjects")

from histkit import early_stoppings, read_history, to_history  # noqa: E402
from histkit import rbridge  # noqa: E402
from histkit.readers import rds  # noqa: E402
from histkit.render import r_plot  # noqa: E402
from histkit.errors import HistoryError, OptionError  # noqa: E402
from conftest import run_path, write_history  # noqa: E402

LABELS = {"loss": "Multilabel Balanced Dice Loss", "sdice": "Multilabel Dice Score",
          "background_dice": "Background Dice Score", "vsat_dice": "VAT Dice Score",
          "scat_dice": "SAT Dice Score"}


@pytest.fixture
def ro():
    import rpy2.robjects as ro

    return ro


@pytest.fixture
def r_package():
    try:
        return rbridge.r_package()
    except rbridge.RBridgeError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def hist(tmp_path):
    path = write_history(run_path(tmp_path), epochs=12)
    return to_history(read_history(path))


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_to_r_types_missing_values_and_factors(ro):
    frame = pl.DataFrame({
        "epoch": [0, 1, None], "value": [0.5, None, float("nan")], "metric": ["a", None, "c"],
        "ok": [True, None, False], "big": [2**40, 0, 1],
        "data": pl.Series(["validation", "training", None],
                          dtype=pl.Enum(["training", "validation"])),
    })
    df = rbridge.to_r(frame)
    r = ro.r
    assert list(r["sapply"](df, "class")) == ["integer", "numeric", "character", "logical",
                                              "numeric", "factor"]
    assert list(r["is.na"](df.rx2("value"))) == [False, True, True]
    assert list(r["is.na"](df.rx2("metric"))) == [False, True, False]
    assert list(r["levels"](df.rx2("data"))) == ["training", "validation"]
    assert list(df.names) == list(frame.columns)


def test_from_r_round_trip(ro):
    frame = pl.DataFrame({"epoch": [0, 1, None], "value": [0.5, None, 2.0],
                          "metric": ["a", None, "c"], "ok": [True, None, False]})
    assert rbridge.from_r(rbridge.to_r(frame)).equals(frame)
    made_in_r = ro.r('data.frame(m = factor(c("x", NA, "y")), v = c(1L, NA, 3L), '
                     'w = c(NaN, 2, NA), check.names = FALSE)')
    back = rbridge.from_r(made_in_r)
    assert back.to_dict(as_series=False) == {"m": ["x", None, "y"], "v": [1, None, 3],
                                             "w": [None, 2.0, None]}
    with pytest.raises(rbridge.RBridgeError, match="expected an R data.frame"):
        rbridge.from_r(ro.r("1:3"))


def test_read_rds_keras_history(ro, tmp_path):
    path = tmp_path / "history.rds"
    ro.r(f'''saveRDS(structure(list(
        params = list(epochs = 4, metrics = c("loss", "acc", "val_loss", "val_acc")),
        metrics = list(loss = c(0.9, 0.5, 0.4), acc = c(0.5, 0.7, 0.8),
                       val_loss = c(1.0, 0.6, NA), val_acc = c(0.4, 0.6, 0.7))),
        class = "keras_training_history"), "{path}")''')
    wide = rds.read(str(path))
    assert wide.columns == ["epoch", "loss", "acc", "val_loss", "val_acc"]
    assert wide["epoch"].to_list() == [1, 2, 3]  # R keras numbers epochs from 1
    assert wide["val_loss"].to_list() == [1.0, 0.6, None]
    long = to_history(wide)
    assert long["metric"].unique(maintain_order=True).to_list() == ["loss", "acc"]
    stops = early_stoppings(long, 0.05)
    assert stops.filter(pl.col("metric") == "loss", pl.col("data") == "validation")[
        "epoch"].item() == 2


def test_read_rds_data_frame_and_errors(ro, tmp_path):
    long_path = tmp_path / "long.rds"
    ro.r(f'saveRDS(data.frame(epoch = 1:2, value = c(0.5, NA), metric = factor("loss"), '
         f'data = factor(c("training", "training"))), "{long_path}")')
    long = rds.read(str(long_path))
    assert long.columns == ["epoch", "value", "metric", "data"]
    assert long["value"].to_list() == [0.5, None]
    other = tmp_path / "other.rds"
    ro.r(f'saveRDS(list(a = 1), "{other}")')
    with pytest.raises(HistoryError, match="class list; expected a keras training history"):
        rds.read(str(other))
    with pytest.raises(HistoryError, match="no such file"):
        rds.read(str(tmp_path / "missing.rds"))
    text = tmp_path / "text.rds"
    text.write_text("epoch,loss\n")
    with pytest.raises(HistoryError, match="not an R data file"):
        rds.read(str(text))


def test_plot_r_is_the_r_package_figure(ro, r_package, hist):
    p = r_plot.plot_r(hist, LABELS, early_stoppings(hist), base_size=12)
    r = ro.r
    assert list(r("function(p) levels(p$data$metric)")(p)) == list(LABELS.values())
    assert list(r("function(p) vapply(p$layers, function(l) class(l$geom)[1], '')")(p)) == [
        "GeomLine", "GeomPoint", "GeomVline"]
    assert r("function(p) p$theme$text$size")(p)[0] == 12
    assert r("function(p) p$facet$params$free$y")(p)[0]
    # exactly the labelled metrics
    p2 = r_plot.plot_r(hist, {"sdice": "Dice"})
    assert list(r("function(p) levels(p$data$metric)")(p2)) == ["Dice"]


def test_render_r_writes_the_figure_without_starting_python_in_r(ro, r_package, hist,
                                                                  tmp_path):
    out = r_plot.render_r(hist, LABELS, early_stoppings(hist), 12, title="T",
                           subtitle="S", caption="C", path=tmp_path / "fig.png", dpi=20)
    # 5 facets -> 3 x 2 grid -> (3.2*3 + 1.2) x (2.6*2 + 1.6) inches, as save_plot sizes it
    assert png_size(out) == (round(10.8 * 20), round(6.8 * 20))
    sized = r_plot.render_r(hist, path=tmp_path / "fig.pdf", width=4, height=3)
    assert sized.read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically
    assert not ro.r("reticulate::py_available(initialize = FALSE)")[0]


def test_render_r_errors(r_package, hist, tmp_path):
    with pytest.raises(OptionError, match="suffix should be one of"):
        r_plot.render_r(hist, path=tmp_path / "fig.jpg")
    with pytest.raises(OptionError, match="metric 'acc' is not in the history"):
        r_plot.render_r(hist, path=tmp_path / "fig.png", metrics=["acc"])
    with pytest.raises(OptionError, match="segments need the columns"):
        r_plot.render_r(hist, segments=pl.DataFrame({"epoch": [1]}),
                         path=tmp_path / "fig.png")
    with pytest.raises(rbridge.RBridgeError, match="R failed while drawing"):
        r_plot.render_r(hist, path=tmp_path / "fig.png", dpi=0)
    assert not (tmp_path / "fig.png").exists()


def test_cli_plot_engine_r(r_package, tmp_path):
    """`histkit plot --engine r` (skips until cli.py has the option)."""
    from click.testing import CliRunner

    from histkit.cli import main

    if not any(p.name == "engine" for p in main.get_command(None, "plot").params):
        pytest.skip("histkit plot has no --engine option yet")
    path = write_history(run_path(tmp_path), epochs=8)
    out = tmp_path / "fig.png"
    res = CliRunner().invoke(main, ["plot", str(path), "--engine", "r", "-o", str(out),
                                    "--dpi", "20"])
    assert res.exit_code == 0, res.output
    assert png_size(out) == (round(10.8 * 20), round(6.8 * 20))
    res = CliRunner().invoke(main, ["plot", str(path), "--engine", "r", "--overlay"])
    assert res.exit_code == 2 and "--engine r draws one figure per run" in res.output
