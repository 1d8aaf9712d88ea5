"""Diagnosis rules that read a run's probes (histkit's trainer only).

The history says that a run failed; the probes often say where: gradients
that vanish or explode, ReLUs that output zero on every pixel, outputs
pinned at 0 or 1 while wrong, input whose scale the network cannot use, and
predictions that hold one class only. Each rule here turns one run's
:class:`~histkit.probes.RunProbes` into findings with the columns of
:func:`histkit.diagnosis.diagnose` (whose :data:`~histkit.diagnosis.RULES`
holds their severity and advice); ``data`` is ``probes``. The tables are
small (layers x epochs), so the rules are plain Python over them.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["PROBE_RULES", "probe_findings", "probe_features"]

#: the rules of this module, in :data:`histkit.diagnosis.RULES` order
PROBE_RULES = ("one_class_predictions", "exploding_gradients", "vanishing_gradients",
               "dead_relu", "saturated", "unnormalized_input")


def _g(x: float) -> str:
    return f"{x:.3g}"


def probe_features(probes) -> dict:
    """The numbers the probe rules read, per run (also what bench/ prints to
    choose thresholds): the total gradient norm per epoch against the first
    epoch's, the share of zeros of the deadest ReLU block, the output's
    saturation, the input's percentiles, and the predicted
    against the true class shares at the last epoch."""
    f: dict = {}
    s = probes.scalars
    if s.height and "grad_norm" in s.columns:
        total = (s.group_by("epoch").agg(g=(pl.col("grad_norm") ** 2).sum().sqrt())
                 .sort("epoch"))
        g, e = total["g"].to_list(), total["epoch"].to_list()
        finite = [(x, ep) for x, ep in zip(g, e) if math.isfinite(x)]
        f["grad_epochs"] = len(g)
        f["grad_series"] = list(zip(e, g))
        f["grad_first"], f["grad_first_epoch"] = (g[0], e[0]) if g else (math.nan, None)
        f["grad_nonfinite_epoch"] = next((ep for x, ep in zip(g, e)
                                          if not math.isfinite(x)), None)
        if finite:
            hi = max(finite)
            lo = min(finite)
            f["grad_max"], f["grad_max_epoch"] = hi
            f["grad_min"], f["grad_min_epoch"] = lo
            f["grad_last"] = finite[-1][0]
    a = probes.activations
    if a.height and "block" in a.columns:
        last = a.filter(pl.col("epoch") == a["epoch"].max())
        relu = last.filter(~pl.col("block").is_in(["input", "output"]))
        if relu.height:
            worst = relu.sort("zeros", descending=True, maintain_order=True).row(0, named=True)
            f["dead_block"], f["dead_zeros"] = worst["block"], worst["zeros"]
            f["dead_epoch"] = int(worst["epoch"])
            f["relu_blocks"] = relu.height
            f["dead_blocks"] = relu.filter(pl.col("zeros") >= 0.99).height
            # the first epoch from which the worst block stays at its level
            series = a.filter(pl.col("block") == worst["block"]).sort("epoch")
            below = series.filter(pl.col("zeros") < min(worst["zeros"], 0.99))
            later = series.filter(pl.col("epoch") > (below["epoch"].max() if below.height
                                                     else -1))
            f["dead_since"] = int(later["epoch"].min()) if later.height else f["dead_epoch"]
        out = a.filter(pl.col("block") == "output").sort("epoch")
        if out.height:
            f["saturated"] = out["saturated"][-1]
            f["saturated_epoch"] = int(out["epoch"][-1])
    inp = probes.input
    if inp.height and "p99" in inp.columns:
        first = inp.sort("epoch").row(0, named=True)
        f.update({f"input_{k}": first[k] for k in ("mean", "std", "min", "p01", "p50", "p99",
                                                    "max")})
        f["input_epoch"] = int(first["epoch"])
        f["input_spread"] = first["p99"] - first["p01"]
        f["input_range"] = first["max"] - first["min"]
    sh = probes.shares
    if sh.height and "predicted" in sh.columns:
        last_e = sh["epoch"].max()
        last = sh.filter(pl.col("epoch") == last_e)
        top = last.sort("predicted", descending=True, maintain_order=True).row(0, named=True)
        f["top_class"], f["top_predicted"], f["top_true"] = (top["class"], top["predicted"],
                                                            top["true"])
        f["shares_epoch"] = int(last_e)
        # the largest gap between a predicted and a true share (confidently wrong)
        f["share_gap"] = float((last["predicted"] - last["true"]).abs().max())
        per_epoch = (sh.group_by("epoch").agg(
            one=(pl.col("predicted").max() >= 0.99)).sort("epoch"))
        not_one = per_epoch.filter(~pl.col("one"))
        f["one_class_since"] = int(per_epoch.filter(
            pl.col("epoch") > (not_one["epoch"].max() if not_one.height else -1))["epoch"].min()
            if per_epoch["one"][-1] else last_e)
    return f


def probe_findings(probes, thresholds, chosen) -> list[tuple]:
    """``(rule, epoch, metric, data, evidence)`` of one run's probes, for the
    rules in ``chosen``."""
    t = thresholds
    f = probe_features(probes)
    found = []

    def add(rule, epoch, metric, evidence):
        if rule in chosen:
            found.append((rule, epoch, metric, "probes", evidence))

    if "top_predicted" in f and f["top_predicted"] >= t.one_class_share \
            and f["top_true"] <= t.one_class_true:
        add("one_class_predictions", f["one_class_since"], "predicted share",
            f"the network predicts {f['top_class']} on {f['top_predicted']:.1%} of the "
            f"validation pixels (true share {f['top_true']:.1%}) at epoch {f['shares_epoch']}")
    series = f.get("grad_series", [])
    first = f.get("grad_first", math.nan)
    if f.get("grad_nonfinite_epoch") is not None:
        add("exploding_gradients", f["grad_nonfinite_epoch"], "grad_norm",
            f"the gradient norm is NaN or infinite at epoch {f['grad_nonfinite_epoch']}")
    elif (hit := next(((e, g) for e, g in series if g >= t.explode_grad
                       or (first > 0 and g >= t.explode_grad * first)), None)) is not None:
        e, g = hit
        grew = (f"{g / first:.3g}x its first, {_g(first)} at epoch {f['grad_first_epoch']}"
                if first > 0 and g >= t.explode_grad * first
                else "a network with batch normalisation trains at about 0.01-2")
        add("exploding_gradients", e, "grad_norm",
            f"the gradient norm (mean over the epoch's steps) is {_g(g)} at epoch {e}, "
            f"{grew}; largest {_g(f['grad_max'])} (epoch {f['grad_max_epoch']})")
    if first > 0 and (hit := next(((e, g) for e, g in series
                                   if g <= t.vanish_grad * first), None)) is not None:
        add("vanishing_gradients", hit[0], "grad_norm",
            f"the gradient norm fell from {_g(first)} (epoch {f['grad_first_epoch']}) "
            f"to {_g(hit[1])} (epoch {hit[0]}), {hit[1] / first:.2g}x; smallest "
            f"{_g(f['grad_min'])} (epoch {f['grad_min_epoch']})")
    if f.get("dead_zeros", 0) >= t.dead_zeros:
        add("dead_relu", f["dead_since"], "activation zeros",
            f"ReLU {f['dead_block']} outputs zero on {f['dead_zeros']:.1%} of its values "
            f"(fixed validation images, epoch {f['dead_epoch']}); {f['dead_blocks']} of "
            f"{f['relu_blocks']} blocks are at 99% or more")
    if f.get("saturated", 0) >= t.saturated and f.get("share_gap", 0) >= t.saturated_gap:
        add("saturated", f["saturated_epoch"], "output saturated",
            f"{f['saturated']:.1%} of the output probabilities are within 1e-3 of 0 or 1 "
            f"while a predicted class share is {f['share_gap']:.1%} off the true one "
            f"(epoch {f['saturated_epoch']})")
    if "input_spread" in f:
        spread, whole = f["input_spread"], f["input_range"]
        big = max(abs(f["input_p01"]), abs(f["input_p99"]))
        if whole > 0 and spread < t.input_squeezed * whole:
            add("unnormalized_input", f["input_epoch"], "input percentiles",
                f"98% of the input values lie within {_g(spread)} (1st to 99th percentile, "
                f"{_g(f['input_p01'])} to {_g(f['input_p99'])}) of a range of {_g(whole)} "
                f"({_g(f['input_min'])} to {_g(f['input_max'])}): a few extreme values "
                "squeeze the image")
        elif big > t.input_large:
            add("unnormalized_input", f["input_epoch"], "input percentiles",
                f"the input is not scaled: its 1st to 99th percentile run from "
                f"{_g(f['input_p01'])} to {_g(f['input_p99'])} (mean {_g(f['input_mean'])}, "
                f"standard deviation {_g(f['input_std'])})")
    return found
