"""The numbers the probe rules read, computed once per run from its probes.

The history says that a run failed; the probes (:mod:`histkit.probes`) often
say where: gradients that vanish or explode, ReLUs that output zero on every
pixel, outputs pinned at 0 or 1 while wrong, input whose scale the network
cannot use, predictions that hold one class only. The tables are small
(layers x epochs), so this is plain Python over them.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["probe_features", "g3"]


def g3(x: float) -> str:
    """A number as short text (3 significant digits)."""
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
