import polars as pl
import pytest
from conftest import write_history
from plotnine import ggplot, labs

from histkit.errors import OptionError
from histkit.history import read_history, to_history
from histkit.plot import facet_levels, plot_history, plot_overlay, save_plot
from histkit.stopping import early_stoppings


@pytest.fixture
def hist(tmp_path):
    return to_history(read_history(write_history(tmp_path / "h.csv", epochs=8)))


def test_facet_levels_follow_lookup_then_file_order():
    order, labels = facet_levels(["a", "b", "c", "d"], {"c": "C!", "a": "A!", "zz": "Z"})
    assert order == ["c", "a", "b", "d"]
    assert labels == {"c": "C!", "a": "A!", "b": "b", "d": "d"}


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
    assert save_plot(plot_overlay(both, by="run", data=None), tmp_path / "o2.png", dpi=30)
    assert set(p.data["data"]) == {"validation"} and set(p.data["run"]) == {"a", "b"}
    assert p.mapping["color"] == "run"
    with pytest.raises(OptionError, match="cannot overlay by 'dropout'"):
        plot_overlay(both, by="dropout")


def test_metrics_keeps_some_facets(hist):
    p = plot_history(hist, metrics=["sdice", "loss"])
    assert list(p.data["metric"].cat.categories) == ["loss", "sdice"]
    with pytest.raises(OptionError, match="metric 'lr' is not in the history; it has"):
        plot_history(hist, metrics=["lr"])
