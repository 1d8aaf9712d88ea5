"""LinkNet (Chaurasia & Culurciello 2017): ResNet-style encoder blocks and a
decoder whose outputs are added (not concatenated) to the encoder features.

``levels`` counts resolutions as in :class:`~histkit.train.unet.UNet`.
"""

from __future__ import annotations

import torch
from torch import nn


__all__ = ["LinkNet"]


class _StridedPointwise(nn.Conv2d):
    """A strided 1x1 convolution computed as subsampling then a 1x1 convolution:
    the same result and parameters, but not oneDNN's strided 1x1 weight-gradient
    kernel, which writes out of bounds for channels_last inputs with fewer channels
    than its SIMD block (uxlfoundation/oneDNN#6035: heap corruption or wrong
    gradients on AVX2 CPUs)."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__(cin, cout, 1, bias=False)
        self.step = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x[:, :, ::self.step, ::self.step])


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, relu: bool = True) -> nn.Sequential:
    conv = (_StridedPointwise(cin, cout, stride) if k == 1 and stride > 1
            else nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False))
    layers = [conv, nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class _Residual(nn.Module):
    """ResNet basic block; strided with a 1x1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dropout: float = 0.0):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, stride=stride),
                                  nn.Dropout2d(dropout) if dropout else nn.Identity(),
                                  _conv_bn(cout, cout, relu=False))
        self.skip = (nn.Identity() if stride == 1 and cin == cout
                     else _conv_bn(cin, cout, k=1, stride=stride, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class _Decoder(nn.Sequential):
    """1x1 reduce -> 3x3 transposed conv (x2) -> 1x1 expand."""

    def __init__(self, cin: int, cout: int):
        mid = max(cin // 4, 1)
        super().__init__(
            _conv_bn(cin, mid, k=1),
            nn.ConvTranspose2d(mid, mid, 3, stride=2, padding=1, output_padding=1, bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            _conv_bn(mid, cout, k=1))


class LinkNet(nn.Module):
    """LinkNet: in (N, C, H, W) -> logits (N, classes, H, W)."""

    def __init__(self, in_channels: int = 1, classes: int = 3, levels: int = 4,
                 base_filters: int = 24, dropout: float = 0.0):
        super().__init__()
        widths = [base_filters * 2 ** i for i in range(levels)]
        self.stem = _conv_bn(in_channels, widths[0])
        self.encoders = nn.ModuleList(
            nn.Sequential(_Residual(a, b, stride=2, dropout=dropout), _Residual(b, b, dropout=dropout))
            for a, b in zip(widths[:-1], widths[1:]))
        self.decoders = nn.ModuleList(_Decoder(b, a) for a, b in zip(widths[:-1], widths[1:]))
        self.head = nn.Sequential(_conv_bn(widths[0], widths[0]), nn.Conv2d(widths[0], classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.stem(x)]
        for enc in self.encoders:
            feats.append(enc(feats[-1]))
        x = feats.pop()
        for dec in reversed(self.decoders):
            x = dec(x) + feats.pop()
        return self.head(x)
