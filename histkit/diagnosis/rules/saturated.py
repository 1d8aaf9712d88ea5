"""``saturated``: outputs pinned at 0 or 1 while wrong (probes)."""

from __future__ import annotations

from ..registry import rule
from ..thresholds import Thresholds


@rule("saturated", severity="warning", probes=True, thresholds=("saturated", "saturated_gap"),
      advice="the outputs are pinned at 0 or 1 while wrong, so the sigmoid or softmax passes "
             "no gradient: lower the learning rate and check that the loss gets logits and "
             "right labels")
def saturated(f: dict, t: Thresholds) -> list[tuple]:
    """What it detects: at the last epoch ``saturated`` of the output
    probabilities or more are within 1e-3 of 0 or 1, while a predicted class
    share is ``saturated_gap`` or more off the true one.

    Why it matters: a saturated sigmoid or softmax passes almost no
    gradient; confidently wrong outputs then stay wrong.

    Example: SGD at learning rate 1e4: "100.0% of the output probabilities
    are within 1e-3 of 0 or 1 while a predicted class share is 19.0% off
    the true one (epoch 19)".
    """
    if f.get("saturated", 0) < t.saturated or f.get("share_gap", 0) < t.saturated_gap:
        return []
    return [(f["saturated_epoch"], "output saturated",
             f"{f['saturated']:.1%} of the output probabilities are within 1e-3 of 0 or 1 "
             f"while a predicted class share is {f['share_gap']:.1%} off the true one "
             f"(epoch {f['saturated_epoch']})")]
