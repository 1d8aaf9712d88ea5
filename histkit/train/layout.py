"""Pick the faster memory format (channels_last or contiguous) for a model by
timing a few training steps in each, as ``cudnn.benchmark`` picks algorithms.

Which one wins depends on the machine more than on the model: channels_last
on the AVX-512 CPUs measured so far, contiguous tensors on an AVX2-only AMD
EPYC, whose oneDNN NHWC weight-gradient kernel is the slower one
(bench/fast_paths.py; the figures are in bench/README.md).
"""

from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from .precision import forward

__all__ = ["FORMATS", "choose_memory_format", "is_channels_last"]

FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` is laid out channels_last and not also plain contiguous (as a
    tensor with one channel or one pixel is): the case our fast paths serve."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def choose_memory_format(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                         loss_fn: Callable, *, rounds: int = 2, precision: str = "fp32"
                         ) -> tuple[str, dict[str, float]]:
    """(name of the faster format, {name: best seconds per step}) for forward +
    backward of ``model`` on the batch ``x, y``; names are the keys of FORMATS.

    ``precision`` is the trainer's (fp32 or bf16): the faster layout may differ.
    Runs on a copy of the model with the RNG state restored afterwards, so the
    training run that follows is the same whichever format wins. One warm-up
    step per format, then ``rounds`` timed steps in turn; the best time counts.
    """
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if x.is_cuda else None
    steps = {name: _step(model, x, y, loss_fn, fmt, precision) for name, fmt in FORMATS.items()}
    best = {name: float("inf") for name in steps}
    try:
        for r in range(rounds + 1):
            for name, step in steps.items():
                seconds = step()
                if r:
                    best[name] = min(best[name], seconds)
    finally:
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
    return min(best, key=best.get), best


def _step(model, x, y, loss_fn, fmt, precision: str) -> Callable[[], float]:
    probe = copy.deepcopy(model).to(memory_format=fmt).train()
    x, y = x.contiguous(memory_format=fmt), y.contiguous(memory_format=fmt)

    def step() -> float:
        _sync(x)
        t0 = time.perf_counter()
        loss_fn(forward(probe, x, precision), y).backward()
        _sync(x)
        probe.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    return step


def _sync(t: torch.Tensor) -> None:
    if t.is_cuda:
        torch.cuda.synchronize(t.device)
