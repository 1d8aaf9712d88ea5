"""``unnormalized_input``: input whose scale the network cannot use (probes)."""

from __future__ import annotations

from ..probe_features import g3
from ..registry import rule
from ..thresholds import Thresholds


@rule("unnormalized_input", severity="warning", probes=True,
      thresholds=("input_squeezed", "input_large"),
      advice="normalise the input: clip outliers (e.g. to the 1st-99th percentile) and "
             "z-score each image; a few extreme pixels or raw intensities leave the network "
             "a tiny or a huge range")
def unnormalized_input(f: dict, t: Thresholds) -> list[tuple]:
    """What it detects: on the probes' fixed images as the network sees
    them, the 1st-99th percentile span is under ``input_squeezed`` of the
    whole range (a few extreme pixels squeeze the image), or the 1st or 99th
    percentile lies beyond +-``input_large`` (raw intensities).

    Why it matters: batch normalisation copes with much, but a hot pixel
    that squeezes the tissue into 0.2% of the range, or values in the
    thousands, leave the first layers a signal they can hardly use.

    Example: images with one hot pixel: "98% of the input values lie within
    0.00185 (1st to 99th percentile, 1.24e-05 to 0.00186) of a range of 1
    (0 to 1): a few extreme values squeeze the image".
    """
    if "input_spread" not in f:
        return []
    spread, whole = f["input_spread"], f["input_range"]
    big = max(abs(f["input_p01"]), abs(f["input_p99"]))
    if whole > 0 and spread < t.input_squeezed * whole:
        return [(f["input_epoch"], "input percentiles",
                 f"98% of the input values lie within {g3(spread)} (1st to 99th percentile, "
                 f"{g3(f['input_p01'])} to {g3(f['input_p99'])}) of a range of {g3(whole)} "
                 f"({g3(f['input_min'])} to {g3(f['input_max'])}): a few extreme values "
                 "squeeze the image")]
    if big > t.input_large:
        return [(f["input_epoch"], "input percentiles",
                 f"the input is not scaled: its 1st to 99th percentile run from "
                 f"{g3(f['input_p01'])} to {g3(f['input_p99'])} (mean {g3(f['input_mean'])}, "
                 f"standard deviation {g3(f['input_std'])})")]
    return []
