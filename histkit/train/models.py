"""Build the network a :class:`TrainConfig` names; fuse conv+BN for inference."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .config import N_CLASSES, TrainConfig
from .linknet import LinkNet
from .unet import UNet

__all__ = ["build_model", "fuse_for_inference"]


def build_model(config: TrainConfig) -> nn.Module:
    """UNet (optionally with attention gates) or LinkNet, returning logits."""
    channels = config.hwc[2]
    if config.model == "linknet":
        return LinkNet(channels, N_CLASSES, config.levels, config.base_filters, config.dropout)
    return UNet(channels, N_CLASSES, config.levels, config.base_filters, config.dropout,
                attention=config.attention)


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy with every Conv2d -> BatchNorm2d pair folded into one conv."""
    model = copy.deepcopy(model).eval()

    def fold(module: nn.Module) -> None:
        children = list(module.named_children())
        for (name, child), (next_name, nxt) in zip(children, children[1:]):
            if isinstance(child, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
                setattr(module, name, torch.nn.utils.fusion.fuse_conv_bn_eval(child, nxt))
                setattr(module, next_name, nn.Identity())
        for _, child in module.named_children():
            fold(child)

    with torch.no_grad():
        fold(model)
    return model
