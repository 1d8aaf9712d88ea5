"""What probes cost: the same training with probes on and off, in one process.

Trains the demo study's size (fat2 phantom, 256x128, 96 slices, UNet L4
FBL16, batch 4) for ``--epochs`` epochs, probes on and off alternating,
``--repeats`` times each, and prints the median and range of each wall time
and the probes' share of an epoch: (wall_on - wall_off) / epochs divided by
the median epoch time without probes. Images are written every epoch here,
the most expensive setting (the demo study writes them every 12 epochs).

    python bench/probes_cost.py                  # 3 repeats of 3 epochs
    python bench/probes_cost.py --threads 2 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="unet")
    args = ap.parse_args(argv)

    import platform

    import polars as pl
    import torch

    from histkit.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, torch threads "
          f"{args.threads}; {args.model}, 256x128, 96 slices, {args.epochs} epochs")
    walls: dict[bool, list[float]] = {True: [], False: []}
    epoch_s: list[float] = []
    for i in range(args.repeats):
        for probes in ((True, False) if i % 2 == 0 else (False, True)):
            with tempfile.TemporaryDirectory() as root:
                cfg = TrainConfig(model=args.model, dataset="fat2", shape="256x128x1", n_train=96,
                                  epochs=args.epochs, levels=4, base_filters=16, batch_size=4,
                                  root=root, date="2026-12-02", threads=args.threads,
                                  memory_format="channels_last", progress=False,
                                  probes=probes, probe_every=1)
                t0 = time.perf_counter()
                path = train(cfg)
                walls[probes].append(time.perf_counter() - t0)
                if not probes:
                    epoch_s += pl.read_csv(path)["epoch_time_s"].to_list()
    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    epoch = statistics.median(epoch_s)
    for label, ts in (("probes on ", walls[True]), ("probes off", walls[False])):
        print(f"{label}: median {statistics.median(ts):.2f} s (range {min(ts):.2f}-"
              f"{max(ts):.2f}, {len(ts)} runs)")
    print(f"epoch without probes: median {epoch:.2f} s")
    print(f"probes: {(on - off) / args.epochs:.3f} s an epoch = "
          f"{(on - off) / args.epochs / epoch:.1%} of the epoch time")
    ratios = sorted(a / b for a, b in zip(walls[True], walls[False]))
    print(f"whole run, on / off (paired by repeat): median {statistics.median(ratios):.3f}x "
          f"(range {ratios[0]:.3f}-{ratios[-1]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
