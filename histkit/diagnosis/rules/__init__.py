"""The diagnosis rules, one module each (:mod:`histkit.diagnosis.registry`
explains the contract). Importing this package registers them all."""

from ..registry import fill
from . import (class_collapse, collapse_to_background, dead_relu, diverged,  # noqa: F401
               double_softmax, exploding_gradients, one_class_predictions, oscillating,
               overfitting, saturated, stuck, too_slow, unnormalized_input,
               val_better_than_train, vanishing_gradients, wasted_epochs)

fill()
