"""Losses and Dice metrics on logits (N, K, H, W) and one-hot targets (N, K, H, W).

``mdice`` is the multilabel balanced Dice loss of seeds/001::

    dice_k = 2 * sum(y * p) / (sum(y * y + p * p) + eps)   over H, W
    loss   = 1 - mean over classes and batch of dice_k

``dice`` is the plain (unbalanced) soft Dice over every voxel and class;
``bce`` is binary cross-entropy per class; ``ce`` is softmax cross-entropy from
logits. Mixes such as ``bce25dice75`` weight their parts by percent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..names import loss_weights

__all__ = ["mdice_loss", "dice_loss", "class_dice", "make_loss", "probabilities"]


def class_dice(y: torch.Tensor, p: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Per-image, per-class balanced Dice (N, K), the seed-001 formula."""
    inter = (y * p).sum(dim=(2, 3))
    union = (y * y + p * p).sum(dim=(2, 3))
    return 2 * inter / (union + eps)


def mdice_loss(y: torch.Tensor, p: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """1 - mean over batch and classes of :func:`class_dice`."""
    return 1 - class_dice(y, p, eps).mean()


def dice_loss(y: torch.Tensor, p: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """1 - 2 sum(y p) / (sum(y) + sum(p)) over the whole batch."""
    return 1 - 2 * (y * p).sum() / (y.sum() + p.sum() + eps)


def probabilities(logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Softmax for cross-entropy, per-class sigmoid (multilabel head) otherwise."""
    return logits.softmax(dim=1) if loss == "ce" else torch.sigmoid(logits)


def make_loss(loss: str):
    """``loss(logits, y) -> scalar`` for a loss token (mdice, dice, bce, ce, bce25dice75...)."""
    weights = loss_weights(loss)

    def fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if loss == "ce":
            return F.cross_entropy(logits, y.argmax(dim=1))
        p = torch.sigmoid(logits)
        total = logits.new_zeros(())
        for part, w in weights.items():
            if part == "mdice":
                total = total + w * mdice_loss(y, p)
            elif part == "dice":
                total = total + w * dice_loss(y, p)
            elif part == "bce":
                total = total + w * F.binary_cross_entropy_with_logits(logits, y)
            else:
                raise ValueError(f"unknown loss part {part!r}")
        return total

    return fn
