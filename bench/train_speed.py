"""Training and inference speed and peak memory: histkit's UNets against MONAI's.

    .venv/bin/python bench/train_speed.py [--threads 2] [--repeats 5] [--steps 3] [--shapes 1x192x384,1x384x768]
                                          [--precision fp32|bf16] [--layout ...] [--compile]
                                          [--monai-layout contiguous|channels_last|auto]

Pairs (batch 2, CPU): our UNet (levels 5, base filters 24) vs MONAI BasicUNet
(features=(24, 48, 96, 192, 384, 24)); our attention UNet (levels 4, base
filters 24) vs MONAI AttentionUnet (channels=(24, 48, 96, 192)). Speed: the two
models of a pair step in turn in one process, so load from other processes
hits both alike; ``--repeats`` groups of ``--steps`` such steps each give a
ratio (of median step times), and the ratios print as the median and range
over the repeats, with a warning where the range is wide (a busy machine). Peak RSS: every (model, shape) in a fresh
process (two training steps and one inference step). Ours trains in the memory
format `histkit train` picks (--layout auto: the faster of channels_last and
contiguous on this machine, timed in a separate process) and infers with
conv+BN folded; MONAI runs as shipped (contiguous), or in the layout
``--monai-layout`` names (auto: probed as ours is; on an AVX-512 Xeon
channels_last made AttentionUnet 13-45% faster, BasicUNet no faster). The FLOPs
of a training step are counted on the meta device, so speed can also be read
per unit of work (MONAI's AttentionUnet has one 3x3 convolution per decoder
level where the classic UNet, ours, has two; its gates work at the skip's
resolution, ours at the coarser level's, as Oktay et al. do). ``--compile``
trains ours through torch.compile and, interleaved with it, uncompiled, and
prints the compiled/uncompiled ratio too (the trainer does not compile: on our
CPUs it gained 0-2%). ``--precision bf16`` runs both sides under bfloat16
autocast (``histkit train --precision bf16``) and, interleaved with ours, ours
in fp32, printing what mixed precision gains. Prints a table with ratios and
writes bench/out/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# no torch here: the parent measures memory first
from histkit.train.config import MEMORY_FORMATS, PRECISIONS

WIDE = 0.15  # a range of per-repeat ratios wider than this share of the median is flagged
MODELS = ("ours_unet", "monai_basicunet", "ours_attention", "monai_attentionunet")
PAIRS = (("ours_unet", "monai_basicunet"), ("ours_attention", "monai_attentionunet"))


def build(name: str):
    if name == "ours_unet":
        from histkit.train.unet import UNet
        return UNet(1, 3, levels=5, base_filters=24)
    if name == "ours_attention":
        from histkit.train.unet import UNet
        return UNet(1, 3, levels=4, base_filters=24, attention=True)
    if name == "monai_basicunet":
        from monai.networks.nets import BasicUNet
        return BasicUNet(spatial_dims=2, in_channels=1, out_channels=3,
                         features=(24, 48, 96, 192, 384, 24))
    if name == "monai_attentionunet":
        from monai.networks.nets import AttentionUnet
        return AttentionUnet(spatial_dims=2, in_channels=1, out_channels=3,
                             channels=(24, 48, 96, 192), strides=(2, 2, 2))
    raise ValueError(name)


def _batch(shape: tuple[int, int, int], batch: int):
    import torch

    c, h, w = shape
    x = torch.rand(batch, c, h, w)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (batch, h, w)), 3).permute(0, 3, 1, 2)
    return x, y.float().contiguous()


def probe_layout(name: str, shape, batch: int, precision: str) -> str:
    """The memory format ``histkit train --memory-format auto`` would pick here."""
    import torch

    from histkit.train.layout import choose_memory_format
    from histkit.train.losses import make_loss

    torch.manual_seed(0)
    return choose_memory_format(build(name), *_batch(shape, batch), make_loss("mdice"),
                                precision=precision)[0]


def _setup(name: str, shape: tuple[int, int, int], batch: int, layout: str, compile_: bool,
           precision: str):
    """(train_step, infer_step) closures for one model on a fixed random batch;
    ``layout`` and ``precision`` apply to either side."""
    import torch

    from histkit.train.layout import FORMATS
    from histkit.train.losses import make_loss
    from histkit.train.models import fuse_for_inference
    from histkit.train.precision import forward

    torch.manual_seed(0)
    ours = name.startswith("ours")
    fmt = FORMATS[layout]
    model = build(name).to(memory_format=fmt)
    x, y = (t.contiguous(memory_format=fmt) for t in _batch(shape, batch))
    loss_fn = make_loss("mdice")
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    step_model = torch.compile(model) if (ours and compile_) else model
    fused = {}

    def train_step():
        model.train()
        loss = loss_fn(forward(step_model, x, precision), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer_step():
        if "model" not in fused:  # fold BN after training steps changed its statistics
            fused["model"] = fuse_for_inference(model) if ours else model.eval()
        with torch.inference_mode():
            forward(fused["model"], x, precision)

    return train_step, infer_step, sum(p.numel() for p in model.parameters())


def train_gflop(name: str, shape, batch: int) -> float:
    """Floating-point work of one training step (forward + backward), counted on
    the meta device, so nothing is computed."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from histkit.train.losses import make_loss

    c, h, w = shape
    with torch.device("meta"):
        model = build(name)
        x, y = torch.rand(batch, c, h, w), torch.rand(batch, 3, h, w)
        with FlopCounterMode(display=False) as counter:
            make_loss("mdice")(model(x), y).backward()
    return counter.get_total_flops() / 1e9


def peak_memory(name: str, shape, batch: int, layout: str, compile_: bool,
                precision: str) -> dict:
    """Peak RSS of a fresh process after two training steps and one inference step."""
    train_step, infer_step, params = _setup(name, shape, batch, layout, compile_, precision)
    with open("/proc/self/statm") as f:  # resident pages after imports and model build
        before_mb = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    train_step()
    train_step()
    infer_step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": name, "peak_rss_mb": peak, "work_rss_mb": peak - before_mb, "params": params}


def interleaved_speed(names, shape, batch: int, steps: int, repeats: int, layouts: dict,
                      compile_: bool, precision: str) -> dict:
    """Images/s per model and repeat (median step time of the repeat), the
    models' steps interleaved so that load from other processes falls on both
    alike: ``{name: {"train_ips": [...], "infer_ips": [...]}}``, one entry per
    repeat. Our models also step without what ``compile_`` and ``precision``
    add, as "<name>/eager" (not compiled) and "<name>/fp32", so each gain is
    measured against the same baseline."""
    import statistics

    setups = {n: _setup(n, shape, batch, layouts[n], compile_, precision) for n in names}
    ours = [n for n in names if n.startswith("ours")]
    if compile_:
        setups.update({f"{n}/eager": _setup(n, shape, batch, layouts[n], False, precision)
                       for n in ours})
    if precision != "fp32":
        setups.update({f"{n}/fp32": _setup(n, shape, batch, layouts[n], compile_, "fp32")
                       for n in ours})
    names = list(setups)
    out = {n: {"train_ips": [], "infer_ips": []} for n in names}
    for phase, key in ((0, "train_ips"), (1, "infer_ips")):
        for n in names:  # warm up
            setups[n][phase]()
        for _ in range(repeats):
            times = {n: [] for n in names}
            for _ in range(steps):
                for n in names:
                    t0 = time.perf_counter()
                    setups[n][phase]()
                    times[n].append(time.perf_counter() - t0)
            for n in names:
                out[n][key].append(batch / statistics.median(times[n]))
    return out


def _spread(values: list[float]) -> str:
    """'median (range lo-hi)' of per-repeat ratios, flagged when wide."""
    import statistics

    med, lo, hi = statistics.median(values), min(values), max(values)
    flag = "  WARNING: wide range, the machine was busy" if hi - lo > WIDE * med else ""
    return f"{med:.2f}x (range {lo:.2f}-{hi:.2f}){flag}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="interleaved steps per repeat")
    ap.add_argument("--repeats", type=int, default=5,
                    help="repeats; ratios are given as the median and range over them")
    ap.add_argument("--shapes", default="1x192x384,1x384x768", help="CxHxW, comma separated")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--layout", choices=MEMORY_FORMATS, default="auto",
                    help="memory format of our models (auto: what histkit train picks)")
    ap.add_argument("--monai-layout", choices=MEMORY_FORMATS, default="contiguous",
                    help="memory format of MONAI's models (default: as shipped)")
    ap.add_argument("--compile", action="store_true", help="torch.compile our models")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp32",
                    help="autocast both sides (bf16 needs AMX/AVX512-BF16)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--probe", help=argparse.SUPPRESS)
    args = ap.parse_args()
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]

    if args.one or args.probe:
        name, shape = (args.one or args.probe).split("@")
        shape = tuple(int(v) for v in shape.split("x"))
        if args.probe:
            print(probe_layout(name, shape, args.batch, args.precision))
        else:
            print(json.dumps(peak_memory(name, shape, args.batch, args.layout, args.compile,
                                         args.precision)))
        return

    # memory first: a child inherits the parent's peak RSS across fork+exec, so the
    # parent must not have imported torch yet
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    names = args.models.split(",")
    memory, layouts = {}, {}
    for shape in shapes:
        s = "x".join(map(str, shape))
        for name in names:
            common = ["--threads", str(args.threads), "--batch", str(args.batch),
                      "--precision", args.precision]
            layout = args.layout if name.startswith("ours") else args.monai_layout
            if layout == "auto":
                out = subprocess.run([sys.executable, __file__, "--probe", f"{name}@{s}", *common],
                                     capture_output=True, text=True, env=env, check=True)
                layout = out.stdout.split()[-1]
            layouts[name, s] = layout
            cmd = [sys.executable, __file__, "--one", f"{name}@{s}", *common, "--layout", layout]
            cmd += ["--compile"] if args.compile else []
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            memory[name, s] = {**json.loads(out.stdout.strip().splitlines()[-1]), "layout": layout}

    import statistics

    import torch
    torch.set_num_threads(args.threads)
    results, ratios = [], []
    for shape in shapes:
        s = "x".join(map(str, shape))
        for pair in PAIRS:
            pair = [n for n in pair if n in names]
            speed = interleaved_speed(pair, shape, args.batch, args.steps, args.repeats,
                                      {n: layouts[n, s] for n in pair}, args.compile,
                                      args.precision)
            for name in pair:
                for variant, gain in (("eager", "compiled"), ("fp32", args.precision)):
                    if f"{name}/{variant}" in speed:
                        base, now = speed[f"{name}/{variant}"], speed[name]
                        per = [a / b for a, b in zip(now["train_ips"], base["train_ips"])]
                        inf = [a / b for a, b in zip(now["infer_ips"], base["infer_ips"])]
                        print(f"{s:>10} {name:<20} {gain}/{variant}: training {_spread(per)}, "
                              f"inference {_spread(inf)}", flush=True)
                res = {**memory[name, s], "shape": s,
                       "train_ips": statistics.median(speed[name]["train_ips"]),
                       "infer_ips": statistics.median(speed[name]["infer_ips"]),
                       "train_ips_repeats": speed[name]["train_ips"],
                       "infer_ips_repeats": speed[name]["infer_ips"],
                       "train_gflop": train_gflop(name, shape, args.batch)}
                results.append(res)
                print(f"{s:>10} {name:<20} train {res['train_ips']:7.2f} img/s  "
                      f"infer {res['infer_ips']:7.2f} img/s  peak RSS {res['peak_rss_mb']:5.0f} MB "
                      f"(+{res['work_rss_mb']:4.0f} MB over imports+model)  "
                      f"params {res['params']:,}  {res['layout']}  "
                      f"{res['train_gflop']:.1f} GFLOP/step", flush=True)
            if len(pair) == 2:
                ours, theirs = pair
                a, b = results[-2], results[-1]
                train = [x / y for x, y in zip(speed[ours]["train_ips"],
                                               speed[theirs]["train_ips"])]
                infer = [x / y for x, y in zip(speed[ours]["infer_ips"],
                                               speed[theirs]["infer_ips"])]
                r = {"shape": s, "ours": ours, "monai": theirs,
                     "train": statistics.median(train), "train_range": [min(train), max(train)],
                     "infer": statistics.median(infer), "infer_range": [min(infer), max(infer)],
                     "rss": a["peak_rss_mb"] / b["peak_rss_mb"],
                     "work_rss": a["work_rss_mb"] / b["work_rss_mb"],
                     "work": a["train_gflop"] / b["train_gflop"],
                     "train_text": _spread(train), "infer_text": _spread(infer)}
                r["per_flop"] = r["train"] * r["work"]
                ratios.append(r)

    print(f"\nratios (ours / MONAI), median and range over {args.repeats} repeats of "
          f"{args.steps} interleaved steps: training img/s, inference img/s; peak RSS; work is "
          "the GFLOP of a training step, per FLOP the training ratio times the work ratio")
    for r in ratios:
        print(f"{r['shape']:>10} {r['ours']:<15} vs {r['monai']:<20} train {r['train_text']}  "
              f"infer {r['infer_text']}  RSS {r['rss']:.2f}x  "
              f"RSS over imports {r['work_rss']:.2f}x  work {r['work']:.2f}x  "
              f"per FLOP {r['per_flop']:.2f}x")
    out_dir = Path(__file__).with_name("out")
    out_dir.mkdir(exist_ok=True)
    (out_dir / "train_speed.json").write_text(json.dumps(
        {"settings": vars(args), "results": results, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
