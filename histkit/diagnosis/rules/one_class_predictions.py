"""``one_class_predictions``: the network predicts one class everywhere (probes)."""

from __future__ import annotations

from ..registry import rule
from ..thresholds import Thresholds


@rule("one_class_predictions", severity="error", probes=True,
      thresholds=("one_class_share", "one_class_true"),
      advice="the network predicts one class everywhere: check that the labels reach the "
             "loss (mask values 0..K-1), use a Dice or class-weighted loss, and lower the "
             "learning rate if it collapsed after a jump")
def one_class_predictions(f: dict, t: Thresholds) -> list[tuple]:
    """What it detects: at the last epoch one class holds
    ``one_class_share`` of the predicted validation pixels but at most
    ``one_class_true`` of the true ones (the probes' class shares). The
    finding's epoch is the first from which one class has held 99% or more.

    Why it matters: whatever the loss says, a segmentation that labels every
    pixel the same has learned nothing useful; it is how a collapse shows
    when no per-class score is logged.

    Example: Adam at learning rate 10: "the network predicts background on
    100.0% of the validation pixels (true share 81.0%) at epoch 19".
    """
    if "top_predicted" in f and f["top_predicted"] >= t.one_class_share \
            and f["top_true"] <= t.one_class_true:
        return [(f["one_class_since"], "predicted share",
                 f"the network predicts {f['top_class']} on {f['top_predicted']:.1%} of the "
                 f"validation pixels (true share {f['top_true']:.1%}) at epoch "
                 f"{f['shares_epoch']}")]
    return []
