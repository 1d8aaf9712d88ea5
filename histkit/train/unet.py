"""UNet (Ronneberger et al. 2015) with optional additive attention gates
(Oktay et al. 2018) on the skip connections.

``levels`` counts resolutions: widths base_filters * 2**i for i < levels, so
there are ``levels - 1`` poolings. The model returns logits; the loss picks
the activation (sigmoid for Dice/BCE, softmax for cross-entropy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet", "ConvBlock", "AttentionGate"]


class ConvBlock(nn.Sequential):
    """(conv3x3 -> BN -> ReLU) x 2, dropout between the two convolutions."""

    def __init__(self, cin: int, cout: int, dropout: float = 0.0):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Dropout2d(dropout) if dropout else nn.Identity(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True))


class AttentionGate(nn.Module):
    """Additive attention gate of Oktay et al. 2018 (Fig. 2).

    The gating signal ``g`` comes from the coarser decoder level, at half the
    resolution of the skip features ``x``. ``x`` is brought to that resolution by
    a 2x2 stride-2 convolution (theta), ``g`` by a 1x1 one (phi); the coefficients
    sigmoid(psi(relu(theta x + phi g))) are resampled bilinearly to ``x``'s size
    and scale every channel of a pixel alike. As in the paper, the sum, ReLU and
    psi run on a quarter of the skip's pixels (MONAI's AttentionUnet gates at the
    skip's resolution).
    """

    def __init__(self, x_channels: int, g_channels: int, inter_channels: int):
        super().__init__()
        self.theta = nn.Conv2d(x_channels, inter_channels, 2, stride=2, bias=False)
        self.phi = nn.Conv2d(g_channels, inter_channels, 1)
        self.psi = nn.Conv2d(inter_channels, 1, 1)

    def coefficients(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Attention coefficients in (0, 1), shape (N, 1, H, W) of ``x``."""
        alpha = torch.sigmoid(self.psi(torch.relu(self.theta(x) + self.phi(g))))
        return F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return x * self.coefficients(x, g)


class UNet(nn.Module):
    """UNet: in (N, C, H, W) -> logits (N, classes, H, W); H, W divisible by 2**(levels-1)."""

    def __init__(self, in_channels: int = 1, classes: int = 3, levels: int = 4,
                 base_filters: int = 24, dropout: float = 0.0, attention: bool = False):
        super().__init__()
        widths = [base_filters * 2 ** i for i in range(levels)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(ConvBlock(cin, w, dropout))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.gates = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(2 * w, w, 2, stride=2))
            self.gates.append(AttentionGate(w, 2 * w, max(w // 2, 1)) if attention else nn.Identity())
            self.merge.append(ConvBlock(2 * w, w, dropout))
        self.head = nn.Conv2d(widths[0], classes, 1)
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, gate, merge in zip(self.up, self.gates, self.merge):
            skip = skips.pop()
            if self.attention:
                skip = gate(skip, x)  # gated by the coarser level, before upsampling
            x = merge(torch.cat([skip, up(x)], dim=1))
        return self.head(x)
