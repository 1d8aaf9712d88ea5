"""``dead_relu``: a ReLU block that outputs zero everywhere (probes)."""

from __future__ import annotations

from ..registry import rule
from ..thresholds import Thresholds


@rule("dead_relu", severity="warning", probes=True, thresholds=("dead_zeros",),
      advice="a ReLU block outputs zero everywhere, usually after too large a step: lower "
             "the learning rate, use LeakyReLU, or train again from a fresh initialisation")
def dead_relu(f: dict, t: Thresholds) -> list[tuple]:
    """What it detects: at the last epoch a ReLU block outputs zero on
    ``dead_zeros`` of its values or more (on the probes' fixed validation
    images). The finding's epoch is the first from which that block has
    stayed at that level.

    Why it matters: a dead ReLU passes no gradient, so nothing before it
    learns any more; it rarely comes back.

    Example: Adam at learning rate 3: "ReLU merge.0.6 outputs zero on 99.5%
    of its values (fixed validation images, epoch 14); 1 of 10 blocks are
    at 99% or more".
    """
    if f.get("dead_zeros", 0) < t.dead_zeros:
        return []
    return [(f["dead_since"], "activation zeros",
             f"ReLU {f['dead_block']} outputs zero on {f['dead_zeros']:.1%} of its values "
             f"(fixed validation images, epoch {f['dead_epoch']}); {f['dead_blocks']} of "
             f"{f['relu_blocks']} blocks are at 99% or more")]
