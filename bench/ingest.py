"""Ingest benchmark: load, reshape and find early stops for a whole tree of
histories with histkit, against a straightforward per-file pandas loop.

Both sides run in fresh subprocesses on the same generated files, so each
peak RSS is its own. Prints times, ratios and peak memory.

    python bench/ingest.py                      # 10,000 histories, library calls
    python bench/ingest.py --files 500          # quick look
    python bench/ingest.py --histories 100000 [--pandas-sample 10000] [--keep DIR]

``--histories N`` times the commands a user runs over a sweep of N
histories, each a fresh ``histkit`` process with its peak RSS: ``stops``,
``diagnose`` and ``runs --no-cache`` (every file read), then ``runs``
with its cache (the first builds it, then seven reruns on an unchanged tree:
median and range), ``runs`` after one file changed, and ``report``: with no
run pages (the tables, diagnosis and comparisons of every run), with its
default 500 pages on 2 workers, and rebuilt unchanged. The pandas loop reads
every file, or with ``--pandas-sample K`` every (N/K)-th file, its time then
scaled by N/K (it is a loop over files, so its time grows with their count;
its memory is that of the sample). ``--keep DIR`` generates the tree there
once and reuses it.
"""

from __future__ import annotations

import argparse
import json
import os
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
    from histkit import early_stoppings, find_histories, read_chunks

    n = 0
    for batch in read_chunks(find_histories([root])):
        assert not batch.problems
        n += early_stoppings(batch.histories, TOLERANCE).height
    return n


def run_pandas(root: Path, every: int = 1) -> int:
    import pandas as pd

    from histkit.metrics import is_loss_like

    rows = []
    for f in sorted(root.rglob("*.csv"))[::every]:
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


def child(mode: str, root: str, every: int = 1) -> None:
    start = time.perf_counter()
    n = run_histkit(Path(root)) if mode == "histkit" else run_pandas(Path(root), every)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": elapsed, "peak_mb": peak, "stops": n}))


def measure(mode: str, root: Path, every: int = 1) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(root), str(every)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(cmd: list[str], env: dict) -> dict:
    """Wall time and peak RSS of one process, its output thrown away."""
    with tempfile.TemporaryFile() as err:  # a pipe would fill up and stall a chatty command
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        code = proc.returncode = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # diagnose exits 1 when a run failed
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} exited {code}: {err.read().decode()}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


def rerun(cmd: list[str], env: dict, repeats: int = 7) -> dict:
    """The median of ``repeats`` runs of a quick command, with its range."""
    import statistics

    runs = [timed(cmd, env) for _ in range(repeats)]
    seconds = [r["seconds"] for r in runs]
    return {"seconds": statistics.median(seconds), "peak_mb": max(r["peak_mb"] for r in runs),
            "note": f"median of {repeats}, range {min(seconds):.2f}-{max(seconds):.2f} s"}


def commands(root: Path, n: int, every: int) -> None:
    """The CLI over a sweep of ``n`` histories against the pandas loop."""
    histkit = str(Path(sys.executable).with_name("histkit"))
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "HISTKIT_CACHE_DIR": cache}
        timed([histkit, "runs", str(root), "--format", "csv", "--no-cache"], env)  # page cache
        rows = [
            ("stops", timed([histkit, "stops", str(root), "--format", "csv"], env)),
            ("diagnose", timed([histkit, "diagnose", str(root), "--format", "csv"], env)),
            ("runs --no-cache", timed([histkit, "runs", str(root), "--format", "csv",
                                       "--no-cache"], env)),
            ("runs (builds cache)", timed([histkit, "runs", str(root), "--format", "csv"], env)),
            ("runs (unchanged)", rerun([histkit, "runs", str(root), "--format", "csv"], env)),
            ("runs (table format)", timed([histkit, "runs", str(root)], env)),
            ("report --pages 0", timed([histkit, "report", str(root), "-o",
                                        f"{cache}/bare", "--pages", "0"], env)),
            ("report (500 pages)", timed([histkit, "report", str(root), "-o",
                                          f"{cache}/report", "-j", "2"], env)),
            ("report (unchanged)", timed([histkit, "report", str(root), "-o",
                                          f"{cache}/report", "-j", "2"], env)),
        ]
        os.utime(next(root.rglob("*.csv")))  # changed as far as the cache can tell
        rows.append(("runs (one changed)", timed([histkit, "runs", str(root), "--format",
                                                  "csv"], env)))
    pd_ = measure("pandas", root, every)
    scale = every
    print(f"pandas loop over {n // every} of {n} histories: {pd_['seconds']:.1f} s, "
          f"peak {pd_['peak_mb']:.0f} MB; scaled to all: {pd_['seconds'] * scale:.0f} s")
    print(f"{'histkit command':22} {'seconds':>9} {'peak MB':>9} {'vs pandas':>10}")
    for name, r in rows:
        print(f"{name:22} {r['seconds']:9.2f} {r['peak_mb']:9.0f} "
              f"{pd_['seconds'] * scale / r['seconds']:9.1f}x  {r.get('note', '')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--histories", type=int, help="time the CLI over this many histories")
    ap.add_argument("--pandas-sample", type=int, help="run the pandas loop on this many")
    ap.add_argument("--keep", type=Path, help="generate the tree here once and reuse it")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "ROOT", "EVERY"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))
    if args.histories:
        n = args.histories
        every = max(1, n // args.pandas_sample) if args.pandas_sample else 1
        with tempfile.TemporaryDirectory() as tmp:
            root = args.keep or Path(tmp)
            marker = root / f".generated-{n}"
            if not marker.exists():
                root.mkdir(parents=True, exist_ok=True)
                t0 = time.perf_counter()
                generate(root, n)
                marker.write_text("")
                print(f"generated {n} histories in {time.perf_counter() - t0:.0f} s")
            commands(root, n, every)
        return
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
