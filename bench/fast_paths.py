"""What the special path of histkit's trainer gains on this machine.

    .venv/bin/python bench/fast_paths.py [--repeats 5] [--steps 6] [--threads 2]
    ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python bench/fast_paths.py   # an AVX2-only CPU

Each path is switched off in a copy of the model, and the two models (path on,
path off) take training steps in turn in one process, so load from other
processes falls on both alike. A repeat is ``--steps`` steps of each after one
warm-up; the ratio of a repeat is off/on of the median step times (above 1: the
path is faster). Prints, per path and model, the median ratio over repeats and
its range, and warns when the range is wide. The models are ``histkit train``'s
at the demo's shape (batch 2, 1x192x384): the UNet with 5 levels and the
attention UNet with 4, 24 base filters, Multilabel Dice loss, Adadelta.

The one path left is the memory-format probe: channels_last against
contiguous tensors, which ``histkit train`` decides by timing a step of each
when a run starts. The batch-norm channels_last backward, the split merge
convolution and glibc's mallopt were measured here too and removed, their
gains within the noise (bench/README.md, "What each special path gains").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

PATHS = ("layout",)
MODELS = ("unet", "attention")
WIDE = 0.10  # warn when a range spans more than this


def _model(name: str):
    from histkit.train.unet import UNet

    if name == "unet":
        return UNet(1, 3, levels=5, base_filters=24)
    return UNet(1, 3, levels=4, base_filters=24, attention=True)


def _stepper(model, layout: str):
    import torch

    from histkit.train.losses import make_loss

    fmt = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}[layout]
    torch.manual_seed(1)
    x = torch.rand(2, 1, 192, 384).contiguous(memory_format=fmt)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 192, 384)), 3)
    y = y.permute(0, 3, 1, 2).float().contiguous(memory_format=fmt)
    model = model.to(memory_format=fmt).train()
    loss_fn = make_loss("mdice")
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)

    def step() -> float:
        t0 = time.perf_counter()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def _pair(path: str, name: str):
    """(step with the path on, step with it off)."""
    import copy

    import torch

    torch.manual_seed(0)
    on = _model(name)
    off = copy.deepcopy(on)
    return _stepper(on, "channels_last"), _stepper(off, "contiguous")


def _ratios(on, off, repeats: int, steps: int) -> list[float]:
    on(), off()  # warm up
    out = []
    for _ in range(repeats):
        t_on, t_off = [], []
        for _ in range(steps):
            t_on.append(on())
            t_off.append(off())
        out.append(statistics.median(t_off) / statistics.median(t_on))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "default")
    print(f"{args.threads} threads, oneDNN ISA {isa}, {args.repeats} repeats of {args.steps} "
          "steps; ratio = step time without the path / with it (above 1: the path pays)",
          flush=True)
    results = []
    for path in args.paths.split(","):
        for name in args.models.split(","):
            extra = ""
            ratios = _ratios(*_pair(path, name), args.repeats, args.steps)
            med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
            wide = hi - lo > WIDE
            results.append({"path": path, "model": name, "isa": isa, "median": med,
                            "min": lo, "max": hi, "ratios": ratios})
            print(f"{path:<12} {name:<10} {med:.3f}x  (range {lo:.3f}-{hi:.3f}){extra}"
                  + ("  WARNING: wide range, the machine was busy" if wide else ""), flush=True)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"fast_paths_{isa}.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
