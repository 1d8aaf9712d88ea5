"""Diagnosis of a whole study in one pass, against a per-file loop.

Generates N histories in histkit's columns with a mix of healthy and faulty
curves (decaying, stuck, diverging to NaN, overfitting, oscillating), then
times, in one process:

- histkit: ``read_histories`` of the tree, then one ``diagnose`` over it;
- the loop a user would write: for each file, ``read_history`` then
  ``diagnose`` (the same rules, one run at a time).

Prints the median and range of each side over ``--repeats`` (the loop runs
once unless asked: it is the slow side), the ratio of the medians, and
whether both give identical findings.

    python bench/diagnose_speed.py                   # 10,000 histories
    python bench/diagnose_speed.py --histories 1000  # quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

COLUMNS = ("loss", "sdice", "background_dice", "vsat_dice", "scat_dice")
KINDS = ("healthy", "healthy", "healthy", "stuck", "diverged", "overfit", "oscillating")


def curves(kind: str, epochs: int, rng) -> dict[str, np.ndarray]:
    """Training and validation series of one run of the given kind."""
    e = np.arange(epochs)
    rate = rng.uniform(3, 12)
    loss = 0.6 * np.exp(-e / rate) + 0.05 + rng.normal(0, 0.003, epochs)
    val = loss * rng.uniform(0.95, 1.05) + rng.normal(0, 0.003, epochs)
    if kind == "stuck":
        loss = 1.0986 + rng.normal(0, 0.001, epochs)
        val = loss + rng.normal(0, 0.001, epochs)
    elif kind == "overfit":
        val = val + np.clip(e - epochs // 3, 0, None) * 0.02
    elif kind == "oscillating":
        val = val + np.abs(np.sin(e * 1.7)) * 0.3 * (e > 2)
    out = {"loss": loss, "val_loss": val}
    for c in COLUMNS[1:]:
        score = np.clip(1 - loss + rng.normal(0, 0.01, epochs), 0, 1)
        out[c], out[f"val_{c}"] = score, np.clip(1 - val, 0, 1)
    if kind == "diverged":
        cut = int(rng.integers(epochs // 2, epochs))
        for v in out.values():
            v[cut:] = np.nan
    return out


def generate(root: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    names = [*COLUMNS, *(f"val_{c}" for c in COLUMNS)]
    for i in range(n):
        epochs = int(rng.integers(20, 81))
        kind = KINDS[i % len(KINDS)]
        cols = curves(kind, epochs, rng)
        d = root / f"{i % 100:02d}"
        d.mkdir(exist_ok=True)
        body = np.column_stack([np.arange(epochs), *(cols[c] for c in names)])
        np.savetxt(d / f"unet_2d_ce_Adam_fat_64x64x1_N32_E{epochs}_L3_FBL8_S{i}.csv", body,
                   delimiter=",", header=",".join(["epoch", *names]), comments="",
                   fmt=["%d"] + ["%.6f"] * len(names))


def one_pass(root: Path):
    from histkit import find_histories, read_histories
    from histkit.diagnosis import diagnose

    batch = read_histories(find_histories([root]))
    assert not batch.problems
    return diagnose(batch.histories, by=["path"])


def per_file(root: Path):
    import polars as pl

    from histkit import find_histories, read_history
    from histkit.diagnosis import diagnose

    found = []
    for path in find_histories([root]):
        out = diagnose(read_history(path), run=Path(path).stem)
        found.append(out.with_columns(path=pl.lit(path)))
    return pl.concat(found).select("path", *found[0].columns[:-1])


def _rows(frame) -> list[tuple]:
    import polars as pl

    return sorted(frame.with_columns(pl.col("path").cast(pl.String)).rows())


def timed(fn, root):
    t0 = time.perf_counter()
    out = fn(root)
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--histories", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the one-pass side")
    ap.add_argument("--loop-repeats", type=int, default=1, help="repeats of the per-file loop")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import platform

    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} CPUs; {args.histories} histories")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.histories)
        one_pass(root)  # warm the imports
        fast, slow = [], []
        for i in range(max(args.repeats, args.loop_repeats)):
            if i < args.repeats:
                t, batch = timed(one_pass, root)
                fast.append(t)
            if i < args.loop_repeats:
                t, loop = timed(per_file, root)
                slow.append(t)
    same = _rows(batch) == _rows(loop)
    for label, ts in (("one pass (read_histories + diagnose)", fast),
                      ("per-file loop (read_history + diagnose)", slow)):
        print(f"{label}: median {statistics.median(ts):.2f} s "
              f"(range {min(ts):.2f}-{max(ts):.2f}, {len(ts)} runs)")
    print(f"ratio: {statistics.median(slow) / statistics.median(fast):.1f}x")
    print(f"findings: {batch.height} rows; identical: {same}")
    counts = batch.group_by("rule").len().sort("rule").rows()
    print("by rule: " + ", ".join(f"{r} {n}" for r, n in counts))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
