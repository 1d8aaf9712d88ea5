"""The thresholds of the diagnosis rules, in one place."""

from __future__ import annotations

import dataclasses

__all__ = ["Thresholds", "THRESHOLDS"]


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The numbers behind each rule: each rule names those it reads
    (``histkit diagnose --explain RULE`` prints them with their values).
    Chosen on the labelled development set of bench/diagnose_devset.py and
    scored by bench/diagnose_eval.py."""

    explode_ratio: float = 10.0      # diverged: a loss above 10x its running minimum ...
    jump_ratio: float = 1000.0       # ... or 1000x apart from one epoch to the next,
    absurd_ratio: float = 1000.0     # ... or a maximum 1000x its median and
    absurd_level: float = 100.0      # ... above 100 (no segmentation loss gets there);
    recover_ratio: float = 3.0       # ... and not back under 3x what it was before at the end
    chance_blowup: float = 10.0      # ... or a loss of known chance 10x above it (epoch 0 too)
    stuck_drop: float = 0.02         # stuck: best loss within 2% of the first
    stuck_drop_ce: float = 0.25      # ... 25% for a cross-entropy that starts near ln K
    near_ln_k: float = 0.15          # "near ln K": within 15%
    floor_slack: float = 0.01        # double_softmax: never more than 1% below the floor,
    floor_flat: float = 0.02         # ... flat within 2% over the last 20% of epochs
    collapse_background: float = 0.8  # collapse: background score at least 0.8 ...
    collapse_foreground: float = 0.1  # ... every foreground score at most 0.1
    class_collapse_best: float = 0.2  # class_collapse: a class's score reached 0.2 ...
    class_collapse_low: float = 0.05  # ... then ended at most 0.05, while the loss and
    class_collapse_hold: float = 0.10  # ... another class stayed within 10% of their
                                       # values at its best (the other above 0.1)
    overfit_rise: float = 0.10       # overfitting: validation loss 10% above its minimum
    overfit_epochs: int = 3          # ... for at least 3 epochs after it,
    overfit_scale: float = 0.05      # ... and by 5% of the training loss's improvement
    oscillation_rebound: float = 0.10  # oscillating: the validation loss bounces up by
    oscillation_peaks: int = 3         # 10% of the training loss's improvement, 3 times,
    oscillation_big: float = 0.30      # ... once by 30% of it (real runs: healthy noise
                                       # bounced at most 20%, LR faults 49-75%)
    slow_tail: float = 0.05          # too_slow: the last 20% of epochs give 5% of the gain
    wasted_within: float = 0.02      # wasted: within 2% of the improvement of the best
    wasted_fraction: float = 0.5     # ... in the first half of the run ...
    wasted_epochs: int = 10          # ... and at least 10 epochs before the end
    val_better: float = 0.40         # val_better_than_train: 40% lower loss ...
    val_better_share: float = 0.5    # ... in half of the epochs or more
    min_epochs: int = 3              # no trend rule on fewer epochs
    # rules on probes
    one_class_share: float = 0.99    # one_class_predictions: one class holds 99% of the
    one_class_true: float = 0.95     # ... predicted pixels but at most 95% of the true ones
    explode_grad: float = 100.0      # exploding_gradients: an epoch's gradient norm at 100
                                     # or more (healthy runs: at most 1.5), or 100x its first
    vanish_grad: float = 1e-3        # vanishing_gradients: at most 1/1000 of its first
    dead_zeros: float = 0.95         # dead_relu: a block zero on 95% of its values
    saturated: float = 0.95          # saturated: 95% of the output within 1e-3 of 0 or 1 ...
    saturated_gap: float = 0.03      # ... while a class share is 3 points off the truth
    input_squeezed: float = 0.05     # unnormalized_input: the 1st-99th percentile span
                                     # under 5% of the whole range (spikes), or ...
    input_large: float = 20.0        # ... a 1st or 99th percentile beyond +-20 (raw values)


THRESHOLDS = Thresholds()
