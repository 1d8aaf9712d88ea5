"""``vanishing_gradients``: gradient norms that died away (probes)."""

from __future__ import annotations

from ..probe_features import g3
from ..registry import rule
from ..thresholds import Thresholds


@rule("vanishing_gradients", severity="warning", probes=True, thresholds=("vanish_grad",),
      advice="the gradients died away: look for dead ReLUs and saturated outputs (below), "
             "lower a learning rate that blew the weights up, or use LeakyReLU")
def vanishing_gradients(f: dict, t: Thresholds) -> list[tuple]:
    """What it detects: an epoch's gradient norm (all layers, the mean over
    the epoch's steps) falls to ``vanish_grad`` of the first epoch's or less.

    Why it matters: without gradient the weights stop moving: the run is
    over whatever its loss says, usually after a step that killed the ReLUs
    or saturated the output.

    Example: SGD at learning rate 1e4: "the gradient norm fell from 2.96e+05
    (epoch 0) to 0.129 (epoch 1), 4.3e-07x; smallest 0.121 (epoch 10)".
    """
    series = f.get("grad_series", [])
    first = f.get("grad_first", float("nan"))
    if not first > 0:
        return []
    hit = next(((e, g) for e, g in series if g <= t.vanish_grad * first), None)
    if hit is None:
        return []
    return [(hit[0], "grad_norm",
             f"the gradient norm fell from {g3(first)} (epoch {f['grad_first_epoch']}) "
             f"to {g3(hit[1])} (epoch {hit[0]}), {hit[1] / first:.2g}x; smallest "
             f"{g3(f['grad_min'])} (epoch {f['grad_min_epoch']})")]
