"""plotnine figures of the probes ``histkit train`` writes beside a history.

Each function takes a :class:`histkit.probes.RunProbes` (from
:func:`histkit.read_probes`) and returns a plain plotnine ``ggplot``:

- :func:`plot_norms`: weight norm, gradient norm and update ratio |dw|/|w| of
  each layer over epochs, on log scales, coloured from the first layer to the
  last;
- :func:`plot_histograms`: weight and gradient histograms over epochs as
  ridgelines (TensorBoard's offset view: one ridge per epoch, the oldest at
  the back) for a few representative layers;
- :func:`plot_activations`: per ReLU block the fraction of zeros (dead units),
  mean and standard deviation, and the share of saturated output
  probabilities;
- :func:`plot_shares`: predicted against true class shares on the validation
  set.

The layers drawn are the weights of convolutions and linear layers
(:func:`main_layers`): a normalisation layer's weight has as many values as
its bias and is left out, as are biases. A figure with nothing to draw raises
:class:`histkit.errors.OptionError`. plotnine and pandas are imported inside
the functions.
"""

from __future__ import annotations

import math

import polars as pl

from ..errors import OptionError

__all__ = ["main_layers", "representative_layers", "plot_norms", "plot_histograms",
           "plot_activations", "plot_shares", "histogram_size", "FIGURE_SIZES", "MAX_RIDGES"]

#: width and height in inches of each figure, for :func:`histkit.render.plot.save_plot`
FIGURE_SIZES = {"norms": (11.0, 3.6), "activations": (11.0, 3.4), "shares": (6.5, 3.4)}
MAX_RIDGES = 25  # more epochs than this: that many ridges, evenly spread
_CLASS_COLOURS = {"background": "#444444", "vat": "#E69F00", "sat": "#56B4E9"}
_QUANTITIES = {"weight_norm": "weight norm", "grad_norm": "gradient norm (mean over steps)",
               "update_ratio": "update ratio |dw| / |w|"}


def _theme(base_size: float):
    from plotnine import element_blank, theme, theme_bw

    return theme_bw(base_size=base_size) + theme(axis_title_y=element_blank(),
                                                 legend_position="bottom")


def _epoch_axis():
    """Whole epochs on x (a short run would get ticks at 0.5 otherwise)."""
    from plotnine import scale_x_continuous

    def breaks(limits):
        lo, hi = max(0, math.ceil(limits[0])), math.floor(limits[1])
        step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 10**9)
                    if (hi - lo) / s <= 6)
        return list(range(-(-lo // step) * step, hi + 1, step))

    return scale_x_continuous(breaks=breaks)


def _layer_order(probes) -> list[str]:
    """Every layer, in model order (the order the trainer writes them)."""
    order = probes.scalars["layer"].unique(maintain_order=True).to_list() \
        if "layer" in probes.scalars.columns else []
    if "layer" in probes.histograms.columns:
        order += [x for x in probes.histograms["layer"].unique(maintain_order=True).to_list()
                  if x not in order]
    return order


def main_layers(probes) -> list[str]:
    """The weights of convolutions and linear layers, in model order.

    A ``*.weight`` whose ``*.bias`` holds as many values (counted in the
    weight histograms) is a normalisation layer's and is left out; without
    histograms every ``*weight`` is kept."""
    order = [x for x in _layer_order(probes) if x.endswith("weight")]
    h = probes.histograms
    if not {"layer", "kind", "count", "epoch"} <= set(h.columns) or h.is_empty():
        return order
    first = h.filter((pl.col("kind") == "weight") & (pl.col("epoch") == pl.col("epoch").min()))
    sizes = dict(first.group_by("layer").agg(pl.col("count").sum()).iter_rows())
    keep = []
    for layer in order:
        bias = layer[: -len("weight")] + "bias"
        if bias in sizes and sizes.get(layer) == sizes[bias]:
            continue
        keep.append(layer)
    return keep or order


def representative_layers(probes, n: int = 3) -> list[str]:
    """``n`` of :func:`main_layers` spread from the first to the last."""
    layers = [x for x in main_layers(probes)
              if x in set(probes.histograms["layer"].to_list())] \
        if "layer" in probes.histograms.columns else []
    if len(layers) <= n:
        return layers
    picks = sorted({round(i * (len(layers) - 1) / (n - 1)) for i in range(n)})
    return [layers[i] for i in picks]


def _depth_scale(aesthetic: str, names: list[str]):
    """A viridis colour bar from the first layer (or block) to the last."""
    from plotnine import guide_colorbar, scale_colour_cmap

    n = len(names)
    breaks = [0, n - 1] if n > 1 else [0]
    labels = [names[0], names[-1]] if n > 1 else names[:1]
    return scale_colour_cmap("viridis", breaks=breaks, labels=labels,
                             limits=(0, max(n - 1, 1)), name=aesthetic,
                             guide=guide_colorbar())


def plot_norms(probes, base_size: float = 11, *, layers: list[str] | None = None):
    """Weight norm, gradient norm and update ratio per layer over epochs (log y).

    ``layers``: which to draw (default :func:`main_layers`). Values that are
    zero, negative or not finite cannot sit on a log scale and are left out."""
    from plotnine import (aes, facet_wrap, geom_line, geom_point, ggplot, labs,
                          scale_y_log10, theme)

    s = probes.scalars
    if s.is_empty() or "layer" not in s.columns:
        raise OptionError("the probes have no per-layer norms")
    layers = layers or main_layers(probes)
    depth = {name: i for i, name in enumerate(layers)}
    long = (s.filter(pl.col("layer").is_in(layers))
            .unpivot(list(_QUANTITIES), index=["epoch", "layer"], variable_name="quantity")
            .filter(pl.col("value").is_finite() & (pl.col("value") > 0))
            .with_columns(depth=pl.col("layer").replace_strict(depth, return_dtype=pl.Int64)))
    if long.is_empty():
        raise OptionError("the probes have no positive norms to draw")
    df = _categorical(long, "quantity", [_QUANTITIES[q] for q in _QUANTITIES], _QUANTITIES)
    return (ggplot(df, aes("epoch", "value", colour="depth", group="layer"))
            + geom_line(alpha=0.8) + geom_point(size=0.8)
            + facet_wrap("quantity", scales="free_y", nrow=1) + scale_y_log10() + _epoch_axis()
            + _depth_scale("layer", layers)
            + labs(x="epoch", caption=f"{len(layers)} layers (weights of convolutions and "
                                      "linear layers), first to last")
            + _theme(base_size) + theme(legend_key_width=120))


def _categorical(frame: pl.DataFrame, column: str, order: list[str], names: dict):
    import pandas as pd

    df = frame.to_pandas()
    df[column] = pd.Categorical(df[column].map(names), categories=order, ordered=True)
    return df


def _edge_label(value: float) -> str:
    if value == 0:
        return "0"
    exp = math.log10(abs(value))
    sign = "-" if value < 0 else ""
    if abs(exp - round(exp)) < 1e-6:
        e = int(round(exp))
        return f"{sign}{10 ** e:g}" if -1 <= e <= 1 else f"{sign}1e{e}"
    return f"{value:.2g}"


def plot_histograms(probes, base_size: float = 11, *, layers: list[str] | None = None,
                    overlap: float = 2.5, max_ridges: int = MAX_RIDGES):
    """Weight and gradient histograms over epochs as ridgelines.

    One row per layer (default: :func:`representative_layers`: the first,
    middle and last), weights left and gradients right; one ridge per epoch,
    the oldest at the top and back, the newest at the bottom and front, as
    TensorBoard's offset view draws them. x is the trainer's fixed bins
    (signed powers of ten); heights are counts scaled to the largest bin of
    the panel, so ridges of one panel compare. ``overlap``: how many epoch
    steps the tallest ridge spans. A run of more than ``max_ridges`` epochs
    draws that many, evenly spread, the first and last included."""
    import pandas as pd
    from plotnine import (aes, element_text, facet_wrap, geom_ribbon, ggplot, labs,
                          scale_fill_gradient, scale_x_continuous, scale_y_continuous, theme)

    h = probes.histograms
    if h.is_empty() or "layer" not in h.columns:
        raise OptionError("the probes have no histograms")
    layers = layers or representative_layers(probes)
    h = h.filter(pl.col("layer").is_in(layers))
    if h.is_empty():
        raise OptionError("the probes have no histograms of these layers")
    epochs = sorted(h["epoch"].unique().to_list())
    if len(epochs) > max_ridges > 1:
        step = (len(epochs) - 1) / (max_ridges - 1)
        epochs = sorted({epochs[round(i * step)] for i in range(max_ridges)})
        h = h.filter(pl.col("epoch").is_in(epochs))
    rank = {e: i for i, e in enumerate(epochs)}
    top = len(epochs) - 1
    edges = dict(zip(h["bin"].to_list(), h["lo"].to_list()))
    edges.update({b + 1: hi for b, hi in zip(h["bin"].to_list(), h["hi"].to_list())})
    edges = {b: v for b, v in edges.items() if math.isfinite(v)}

    frames = []
    for (layer, kind), part in h.group_by("layer", "kind", maintain_order=True):
        lo, hi = int(part["bin"].min()) - 1, int(part["bin"].max()) + 1
        peak = float(part["count"].max()) or 1.0
        grid = pl.DataFrame({"bin": list(range(lo, hi + 1))})
        for epoch, ep in part.group_by("epoch"):
            e = epoch[0]
            offset = float(top - rank[e])
            filled = grid.join(ep.select("bin", "count"), on="bin", how="left").fill_null(0)
            frames.append(filled.select(
                x=pl.col("bin").cast(pl.Float64) + 0.5,
                ymin=pl.lit(offset),
                ymax=pl.lit(offset) + pl.col("count") / peak * overlap,
                epoch=pl.lit(e), layer=pl.lit(layer),
                kind=pl.lit("weights" if kind == "weight" else "gradients")))
    ridges = pl.concat(frames).sort("epoch", descending=False)
    df = ridges.to_pandas()
    df["panel"] = df["layer"] + ": " + df["kind"]
    panels = [f"{x}: {k}" for x in layers for k in ("weights", "gradients")]
    df["panel"] = pd.Categorical(df["panel"], categories=[p for p in panels
                                                          if p in set(df["panel"])],
                                 ordered=True)
    df["ridge"] = df["epoch"].astype(str)

    def breaks(limits):
        lo, hi = limits
        decades = [b for b, v in sorted(edges.items())
                   if lo <= b <= hi and (v == 0 or abs(math.log10(abs(v)) % 1) < 1e-6)]
        step = max(1, math.ceil(len(decades) / 5))
        zero = [b for b in decades if edges[b] == 0]
        anchor = decades.index(zero[0]) if zero else 0
        return [b for i, b in enumerate(decades) if (i - anchor) % step == 0]

    every = max(1, math.ceil(len(epochs) / 8))  # the newest labelled, then every few
    ybreaks = [float(top - rank[e]) for i, e in enumerate(epochs) if (top - i) % every == 0]
    ylabels = [str(epochs[top - int(y)]) for y in ybreaks]
    return (ggplot(df, aes("x", ymin="ymin", ymax="ymax", group="ridge", fill="epoch"))
            + geom_ribbon(colour="#333333", size=0.25, alpha=0.9)
            + facet_wrap("panel", ncol=2, scales="free_x")
            + scale_x_continuous(breaks=breaks,
                                 labels=lambda bs: [_edge_label(edges.get(b, 0)) for b in bs])
            + scale_y_continuous(breaks=ybreaks, labels=ylabels)
            + scale_fill_gradient(low="#fde0c5", high="#c2410c")
            + labs(x="value (bins of signed powers of ten)", y="epoch",
                   caption="one ridge per epoch, newest in front; heights scaled per panel")
            + _theme(base_size)
            + theme(axis_text_x=element_text(rotation=45, ha="right"),
                    axis_title_y=element_text(rotation=90), legend_position="none"))


def histogram_size(probes, layers: list[str] | None = None) -> tuple[float, float]:
    """Width and height in inches that fit :func:`plot_histograms`."""
    n = len(layers or representative_layers(probes)) or 1
    ridges = (min(probes.histograms["epoch"].n_unique(), MAX_RIDGES)
              if probes.histograms.height else 1)
    return 9.0, 1.4 + (1.8 + 0.05 * ridges) * n


def plot_activations(probes, base_size: float = 11):
    """Per ReLU block over epochs: the fraction of zeros (dead units), mean
    and standard deviation; and the fraction of output probabilities within
    1e-3 of 0 or 1 (saturated), in black."""
    from plotnine import (aes, facet_wrap, geom_blank, geom_line, geom_point, ggplot, labs,
                          theme)

    a = probes.activations
    if a.is_empty() or "block" not in a.columns:
        raise OptionError("the probes have no activation statistics")
    blocks = [b for b in a["block"].unique(maintain_order=True).to_list() if b != "output"]
    stats = {"zeros": "fraction of zeros (dead ReLUs)", "mean": "mean", "std": "std"}
    order = [*stats.values(), "output: saturated fraction"]
    relu = (a.filter(pl.col("block") != "output")
            .unpivot(list(stats), index=["epoch", "block"], variable_name="stat")
            .with_columns(depth=pl.col("block").replace_strict(
                {b: i for i, b in enumerate(blocks)}, return_dtype=pl.Int64)))
    out = (a.filter(pl.col("block") == "output")
           .select("epoch", "block", pl.lit("saturated").alias("stat"),
                   pl.col("saturated").alias("value")))
    p = None
    if relu.height:
        df = _categorical(relu, "stat", order, stats)
        p = (ggplot(df, aes("epoch", "value")) + geom_line(aes(colour="depth", group="block"))
             + geom_point(aes(colour="depth"), size=0.8) + _depth_scale("block", blocks))
    if out.height:
        od = _categorical(out, "stat", order, {"saturated": order[-1]})
        p = (p if p is not None else ggplot(od, aes("epoch", "value")))
        p = (p + geom_line(data=od, colour="black")
             + geom_point(data=od, colour="black", size=0.8))
    if p is None:
        raise OptionError("the probes have no activation statistics")
    # fractions are drawn on 0..1, so a constant 0 does not look like a swing
    span = pl.DataFrame({"epoch": [0, 0, 0, 0], "value": [0.0, 1.0, 0.0, 1.0],
                         "stat": ["zeros", "zeros", "saturated", "saturated"]})
    if not relu.height:
        span = span.filter(pl.col("stat") == "saturated")
    if not out.height:
        span = span.filter(pl.col("stat") == "zeros")
    names = {**stats, "saturated": order[-1]}
    p += geom_blank(data=_categorical(span, "stat", order, names))
    return (p + facet_wrap("stat", scales="free_y", nrow=1, drop=True) + _epoch_axis()
            + labs(x="epoch", caption=f"{len(blocks)} ReLU blocks, first to last; "
                                      "output: predicted probabilities")
            + _theme(base_size) + theme(legend_key_width=120))


def plot_shares(probes, base_size: float = 11):
    """Predicted (solid) and true (dashed) share of each class on the
    validation set over epochs: a network that predicts one class only shows
    one line at 1 and the rest at 0."""
    from plotnine import (aes, geom_line, geom_point, ggplot, labs, scale_colour_manual,
                          scale_y_continuous)

    s = probes.shares
    if s.is_empty() or "class" not in s.columns:
        raise OptionError("the probes have no class shares")
    classes = s["class"].unique(maintain_order=True).to_list()
    long = s.unpivot(["predicted", "true"], index=["epoch", "class"], variable_name="share")
    df = long.to_pandas()
    import pandas as pd

    df["class"] = pd.Categorical(df["class"], categories=classes, ordered=True)
    df["share"] = pd.Categorical(df["share"], categories=["predicted", "true"], ordered=True)
    p = (ggplot(df, aes("epoch", "value", colour="class", linetype="share"))
         + geom_line() + geom_point(data=df[df["share"] == "predicted"], size=1)
         + scale_y_continuous(limits=(0, 1)) + _epoch_axis())
    if set(classes) <= set(_CLASS_COLOURS):  # the colours of the trainer's masks
        p += scale_colour_manual(values={c: _CLASS_COLOURS[c] for c in classes})
    return (p
            + labs(x="epoch", y="share of pixels", colour="class", linetype="")
            + _theme(base_size))
