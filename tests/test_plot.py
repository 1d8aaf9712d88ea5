import polars as pl
import pytest
from conftest import write_history
from plotnine import ggplot, labs

from histkit.errors import HistkitWarning, OptionError
from histkit.readers import read_history, to_history
from histkit.render.plot import facet_levels, plot_history, plot_overlay, plot_telemetry, save_plot
from histkit.analysis.stops import early_stoppings


@pytest.fixture
def hist(tmp_path):
    return to_history(read_history(write_history(tmp_path / "h.csv", epochs=8)))


def test_facet_levels_are_exactly_the_lookup_unless_all_metrics():
    lookup = {"c": "C!", "a": "A!", "zz": "Z"}
    order, labels = facet_levels(["a", "b", "c", "d"], lookup)
    assert order == ["c", "a"] and labels == {"c": "C!", "a": "A!"}
    order, labels = facet_levels(["a", "b", "c", "d"], lookup, all_metrics=True)
    assert order == ["c", "a", "b", "d"]
    assert labels == {"c": "C!", "a": "A!", "b": "b", "d": "d"}
    assert facet_levels(["a", "b"], {})[0] == ["a", "b"]


def test_lookup_with_none_of_the_metrics_draws_all_and_says_so():
    with pytest.warns(HistkitWarning, match="none of the labelled metrics"):
        order, _ = facet_levels(["a", "b"], {"x": "X"})
    assert order == ["a", "b"]


def test_telemetry_is_no_facet_and_has_its_own_figure(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("epoch,loss,val_loss,lr,epoch_time_s,peak_mem_mb,my_clock\n"
                 "0,1,2,0.1,3,500,7\n1,0.5,1,0.1,3.1,510,8\n")
    wide = read_history(p)
    facets = plot_history(wide).data["metric"].cat.categories
    assert list(facets) == ["loss", "my_clock"]
    assert list(plot_history(wide, telemetry="my_clock").data["metric"].cat.categories) == [
        "loss"]
    tele = plot_telemetry(wide, telemetry=["my_clock"])
    assert list(tele.data["metric"].cat.categories) == ["lr", "epoch_time_s", "peak_mem_mb",
                                                        "my_clock"]
    assert save_plot(tele, tmp_path / "t.png", dpi=30).read_bytes().startswith(b"\x89PNG")
    with pytest.raises(OptionError, match="no telemetry"):
        plot_telemetry(wide.select("epoch", "loss"))
    # asked for by name, a telemetry series is drawn
    assert list(plot_history(wide, metrics=["lr"]).data["metric"].cat.categories) == ["lr"]


def test_seed_lookup_draws_five_facets_with_telemetry_present(tmp_path, labels_file):
    p = write_history(tmp_path / "h.csv", epochs=4)
    wide = read_history(p).with_columns(lr=pl.lit(1.0), epoch_time_s=pl.lit(2.0),
                                        peak_mem_mb=pl.lit(600.0), extra_score=pl.lit(0.5))
    assert plot_history(wide, labels_file).data["metric"].nunique() == 5
    allm = plot_history(wide, labels_file, all_metrics=True).data["metric"]
    assert list(allm.cat.categories)[5:] == ["extra_score"]


def test_plot_history_layout(hist, labels_file):
    stops = early_stoppings(hist)
    p = plot_history(hist, labels_file, stops, base_size=12)
    assert isinstance(p, ggplot)
    assert list(p.data["metric"].cat.categories) == [
        "Multilabel Balanced Dice Loss", "Multilabel Dice Score", "Background Dice Score",
        "VAT Dice Score", "SAT Dice Score"]
    assert p.facet.__class__.__name__ == "facet_wrap" and p.facet.free["y"]
    kinds = [type(layer.geom).__name__ for layer in p.layers]
    assert kinds == ["geom_line", "geom_point", "geom_vline"]
    vline = p.layers[2]
    assert vline.geom.aes_params["linetype"] == "dashed"
    assert len(vline._data) == stops.height
    assert type(p.theme).__name__ == "theme_bw"
    assert p.theme.themeables.property("text", "size") == 12


def test_plot_without_segments_or_lookup(hist):
    p = plot_history(hist)
    assert [type(layer.geom).__name__ for layer in p.layers] == ["geom_line", "geom_point"]
    assert list(p.data["metric"].cat.categories)[0] == "background_dice"


def test_bad_segments(hist):
    with pytest.raises(OptionError, match="segments need the columns"):
        plot_history(hist, segments=pl.DataFrame({"x": [1]}))


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                           (".svg", b"<?xml")])
def test_save_formats_atomically(tmp_path, hist, suffix, magic):
    out = save_plot(plot_history(hist) + labs(caption="cap"), tmp_path / f"sub/f{suffix}", dpi=40)
    assert out.read_bytes().startswith(magic)
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp left over


def test_unknown_suffix(tmp_path, hist):
    with pytest.raises(OptionError, match=r"suffix should be one of .png, .pdf, .svg; got '.jpg'"):
        save_plot(plot_history(hist), tmp_path / "f.jpg")
    assert not (tmp_path / "f.jpg").exists()


def test_overlay_colours_runs(tmp_path, hist):
    both = pl.concat([hist.with_columns(run=pl.lit("a")), hist.with_columns(run=pl.lit("b"))])
    p = plot_overlay(both, by="run", segments=early_stoppings(both))
    assert save_plot(p, tmp_path / "o.png", dpi=30).stat().st_size > 0
    both_kinds = save_plot(plot_overlay(both, by="run", data=None), tmp_path / "o2.png", dpi=30)
    assert both_kinds == tmp_path / "o2.png" and both_kinds.read_bytes().startswith(b"\x89PNG")
    assert set(p.data["data"]) == {"validation"} and set(p.data["run"]) == {"a", "b"}
    assert p.mapping["color"] == "run"
    with pytest.raises(OptionError, match="cannot overlay by 'dropout'"):
        plot_overlay(both, by="dropout")


def test_metrics_keeps_some_facets(hist):
    p = plot_history(hist, metrics=["sdice", "loss"])
    assert list(p.data["metric"].cat.categories) == ["loss", "sdice"]
    with pytest.raises(OptionError, match="metric 'lr' is not in the history; it has"):
        plot_history(hist, metrics=["lr"])


_DOC_OF_SET = ("import inspect, matplotlib.lines, pandas\nfrom matplotlib.lines import Line2D\n"
               "print('drawstyle' in (Line2D.set.__doc__ or ''), "
               "'drawstyle' in inspect.signature(Line2D.set).parameters, "
               "Line2D([0], [0]).set(drawstyle='steps') == [None], "
               "pandas.Series(['a']).dtype != object)")


def test_cli_skips_artist_docstrings_and_draws_the_same_figure(history_file, labels_file,
                                                                 tmp_path):
    """`histkit plot` spares matplotlib's set() docstrings and signatures and
    has pandas make object strings (histkit/process.py); the PNG is byte for
    byte what a library user's process draws with pandas' own strings, and
    set() still sets."""
    import subprocess
    import sys

    cli_png, lib_png = tmp_path / "cli.png", tmp_path / "lib.png"
    cli = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom histkit.cli import main\ntry:\n    main(sys.argv[1:])\n"
         f"except SystemExit as e:\n    assert not e.code, e.code\n{_DOC_OF_SET}",
         "plot", str(history_file), "--labels", str(labels_file), "-o", str(cli_png)],
        capture_output=True, text=True, check=True)
    assert cli.stdout.splitlines()[-1] == "False False True False"
    lib = subprocess.run(
        [sys.executable, "-c",
         "import sys\nfrom histkit import read_history\n"
         "from histkit.render.plot import plot_run, save_plot\n"
         "save_plot(plot_run(read_history(sys.argv[1]), sys.argv[2], sys.argv[3]), sys.argv[4])\n"
         + _DOC_OF_SET, str(history_file), history_file.stem, str(labels_file), str(lib_png)],
        capture_output=True, text=True, check=True)
    assert lib.stdout.splitlines()[-1] == "True True True True"
    assert cli_png.read_bytes() == lib_png.read_bytes()


def test_save_plot_writes_what_plotnine_saves(hist, tmp_path):
    """save_plot writes what plotnine's own save writes (through a temporary
    file), PNG and SVG alike."""
    from histkit.render.plot import plot_run, save_plot

    fig = plot_run(hist, "run", {"loss": "Loss", "sdice": "Dice"})
    ours = save_plot(fig, tmp_path / "ours.png", width=6, height=4, dpi=72)
    fig.save(tmp_path / "plotnine.png", width=6, height=4, dpi=72, verbose=False)
    assert ours.read_bytes() == (tmp_path / "plotnine.png").read_bytes()
    assert save_plot(fig, tmp_path / "f.svg").read_bytes().lstrip().startswith(b"<?xml")


def test_a_very_long_history_is_drawn_thinned_with_its_spikes(tmp_path):
    import warnings as w

    from histkit.render.plot import DRAWN_RANGES

    n = 50_000
    loss = [1.0 / (1 + e / 1000) for e in range(n)]
    loss[31_337] = 9.0  # one spike: thinning keeps each range's highest value
    wide = pl.DataFrame({"epoch": list(range(n)), "loss": loss,
                         "val_loss": [v * 1.1 for v in loss]})
    with w.catch_warnings(record=True) as told:
        w.simplefilter("always")
        p = plot_history(wide)
    drawn = p.data
    assert len(drawn) <= 2 * 2 * DRAWN_RANGES
    assert drawn["value"].max() == pytest.approx(9.9) and 9.0 in set(drawn["value"])
    assert drawn["epoch"].min() == 0 and drawn["epoch"].max() == n - 1
    said = [str(x.message) for x in told if issubclass(x.category, HistkitWarning)]
    assert any(s.startswith("100,000 points drawn as ") for s in said), said
