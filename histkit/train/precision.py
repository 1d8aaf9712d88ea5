"""Mixed precision: bfloat16 autocast for the forward pass, fp32 for the rest.

With ``bf16`` the convolutions and matrix products of the forward pass (and so
of the backward) run in bfloat16; weights, optimizer state, batch-norm
statistics, the loss and the metrics stay fp32. Unlike fp16, bfloat16 has
fp32's exponent range, so no loss scaling is needed. It pays only where the
hardware multiplies bfloat16: CPUs with AMX or AVX512-BF16, and Ampere or newer
GPUs. Elsewhere it is emulated and a training step takes several times longer
than in fp32 (bench/README.md), so :func:`check_precision` refuses it there.
"""

from __future__ import annotations

import torch

from .errors import TrainError

__all__ = ["forward", "check_precision", "native_bf16"]


def forward(model: torch.nn.Module, x: torch.Tensor, precision: str) -> torch.Tensor:
    """fp32 output of ``model(x)``, the forward pass autocast to bfloat16 for ``bf16``."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        out = model(x)
    return out.float()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware (what oneDNN may use on
    CPUs, so ``ONEDNN_MAX_CPU_ISA`` counts)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse ``bf16`` where it would be emulated and much slower than fp32."""
    if precision == "bf16" and not native_bf16(device):
        need, this = (("an Ampere or newer GPU", "GPU") if device.type == "cuda" else
                      ("a CPU with AMX or AVX512-BF16", "CPU"))
        raise TrainError(f"--precision bf16 needs {need}; this {this} would emulate "
                         f"bfloat16, several times slower than fp32 (use --precision fp32)")
