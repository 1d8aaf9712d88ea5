"""Ingest benchmark: load, reshape and find early stops for a whole tree of
histories with histkit, against a straightforward per-file pandas loop.

Both sides run in fresh subprocesses on the same generated files, so each
peak RSS is its own. Prints times, ratios and peak memory.

    python bench/ingest.py                 # 10,000 histories (issue 3's anchor)
    python bench/ingest.py --files 500     # quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METRICS = ("background_dice", "loss", "scat_dice", "sdice", "vsat_dice")
TOLERANCE = 0.005


def generate(root: Path, n: int, seed: int = 0) -> None:
    """n Keras-CSVLogger-like files: 24 to 200 epochs, 10 metric columns."""
    rng = np.random.default_rng(seed)
    cols = sorted([*METRICS, *(f"val_{m}" for m in METRICS)])
    header = ",".join(["epoch", *cols])
    for i in range(n):
        epochs = int(rng.integers(24, 201))
        e = np.arange(epochs)[:, None]
        rate = rng.uniform(3, 30, size=len(cols))
        decay = np.exp(-e / rate)
        noise = rng.normal(0, 0.01, size=(epochs, len(cols)))
        values = np.where([c.endswith("loss") for c in cols], decay, 1 - 0.9 * decay) + noise
        d = root / f"{i % 100:02d}"
        d.mkdir(exist_ok=True)
        body = np.column_stack([e, values])
        np.savetxt(d / f"unet_2d_mdice_AdaDelta_fat_96x48x1_N32_E{epochs}_L3_FBL8_seed{i}.csv",
                   body, delimiter=",", header=header, comments="",
                   fmt=["%d"] + ["%.6f"] * len(cols))


def run_histkit(root: Path) -> int:
    from histkit import early_stoppings, find_histories, read_histories

    batch = read_histories(find_histories([root]))
    stops = early_stoppings(batch.histories, TOLERANCE)
    assert not batch.problems
    return stops.height


def run_pandas(root: Path) -> int:
    import pandas as pd

    from histkit.stopping import is_loss_like

    rows = []
    for f in sorted(root.rglob("*.csv")):
        df = pd.read_csv(f)
        long = df.melt(id_vars="epoch", var_name="column", value_name="value")
        long["data"] = np.where(long["column"].str.startswith("val_"), "validation", "training")
        long["metric"] = long["column"].str.removeprefix("val_")
        for (metric, data), g in long.dropna(subset=["value"]).groupby(["metric", "data"],
                                                                       sort=False):
            if is_loss_like(metric):
                best = g["value"].min()
                ok = g["value"] <= best + TOLERANCE
            else:
                best = g["value"].max()
                ok = g["value"] >= best - TOLERANCE
            first = g[ok].iloc[0]
            rows.append((str(f), metric, data, first["epoch"], first["value"],
                         g.loc[g["value"] == best, "epoch"].iloc[0], best))
    return len(pd.DataFrame(rows))


def child(mode: str, root: str) -> None:
    start = time.perf_counter()
    n = (run_histkit if mode == "histkit" else run_pandas)(Path(root))
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": elapsed, "peak_mb": peak, "stops": n}))


def measure(mode: str, root: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(root)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--child", nargs=2, metavar=("MODE", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        generate(root, args.files)
        print(f"generated {args.files} histories in {time.perf_counter() - t0:.1f} s")
        measure("histkit", root)  # warm the page cache for both sides
        hk, pd_ = measure("histkit", root), measure("pandas", root)
    assert hk["stops"] == pd_["stops"], (hk, pd_)
    print(f"{'':10} {'seconds':>9} {'peak MB':>9}")
    for r in (hk, pd_):
        print(f"{r['mode']:10} {r['seconds']:9.2f} {r['peak_mb']:9.0f}")
    print(f"speed-up histkit vs pandas loop: {pd_['seconds'] / hk['seconds']:.1f}x "
          f"(bar 10x, aim 20x); peak memory ratio {hk['peak_mb'] / pd_['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
