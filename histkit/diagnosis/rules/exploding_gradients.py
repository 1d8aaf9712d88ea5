"""``exploding_gradients``: gradient norms far too large (probes)."""

from __future__ import annotations

from ..probe_features import g3
from ..registry import rule
from ..thresholds import Thresholds


@rule("exploding_gradients", severity="warning", probes=True, thresholds=("explode_grad",),
      advice="clip gradients (torch.nn.utils.clip_grad_norm_), lower the learning rate, keep "
             "batch normalisation")
def exploding_gradients(f: dict, t: Thresholds) -> list[tuple]:
    """What it detects: an epoch's gradient norm (all layers, the mean over
    the epoch's steps) is not finite, or is ``explode_grad`` or more, or
    ``explode_grad`` times the first epoch's or more. A network with batch
    normalisation trains at about 0.01-2 (the healthy runs of the
    development set: at most 1.5).

    Why it matters: steps that large throw the weights far from where the
    loss was going down; the loss jumps or turns NaN soon after.

    Example: SGD at learning rate 1e4: "the gradient norm (mean over the
    epoch's steps) is 2.96e+05 at epoch 0, a network with batch
    normalisation trains at about 0.01-2".
    """
    series = f.get("grad_series", [])
    first = f.get("grad_first", float("nan"))
    if f.get("grad_nonfinite_epoch") is not None:
        return [(f["grad_nonfinite_epoch"], "grad_norm",
                 f"the gradient norm is NaN or infinite at epoch {f['grad_nonfinite_epoch']}")]
    hit = next(((e, g) for e, g in series if g >= t.explode_grad
                or (first > 0 and g >= t.explode_grad * first)), None)
    if hit is None:
        return []
    e, g = hit
    grew = (f"{g / first:.3g}x its first, {g3(first)} at epoch {f['grad_first_epoch']}"
            if first > 0 and g >= t.explode_grad * first
            else "a network with batch normalisation trains at about 0.01-2")
    return [(e, "grad_norm",
             f"the gradient norm (mean over the epoch's steps) is {g3(g)} at epoch {e}, "
             f"{grew}; largest {g3(f['grad_max'])} (epoch {f['grad_max_epoch']})")]
