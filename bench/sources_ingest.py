"""Reading other frameworks' logs: histkit against the per-file loops users
write today, on the same generated files, in one run.

- TensorBoard: N run directories, one event file each (written by
  ``torch.utils.tensorboard.SummaryWriter``: 4 tags, 30-80 epochs), read
  with tbparse's ``SummaryReader`` and with tensorboard's
  ``EventAccumulator``, pivoted to one row per epoch;
- Lightning: N ``metrics.csv`` files shaped as CSVLogger writes them (a row
  per training step and per epoch-end log), read with pandas and merged per
  epoch (``groupby("epoch").first()`` of the ``_epoch`` and validation
  columns);
- Keras CSV, as a control: the ingest path bench/ingest.py measures.

Each side runs ``--repeats`` times, alternating, and the script prints the
median and range of each time and the ratios of the medians.

    python bench/sources_ingest.py               # 1,000 of each
    python bench/sources_ingest.py --files 200   # quick look
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TAGS = ("loss/train", "loss/val", "dice/train", "dice/val")


def write_tensorboard(root: Path, n: int, rng) -> None:
    from torch.utils.tensorboard import SummaryWriter

    for i in range(n):
        epochs = int(rng.integers(30, 81))
        with SummaryWriter(str(root / f"run{i:04d}")) as w:
            for e in range(epochs):
                x = np.exp(-e / 10)
                for tag in TAGS:
                    v = x if tag.startswith("loss") else 1 - x
                    w.add_scalar(tag, v + rng.normal(0, 0.01), e)


def write_lightning(root: Path, n: int, rng, steps_per_epoch: int = 8) -> None:
    header = "epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss\n"
    for i in range(n):
        epochs = int(rng.integers(30, 81))
        lines = [header]
        step = 0
        for e in range(epochs):
            for _ in range(steps_per_epoch):
                lines.append(f"{e},{step},,{rng.uniform(0, 1):.6f},,\n")
                step += 1
            lines.append(f"{e},{step - 1},,,{rng.uniform(0, 1):.6f},{rng.uniform(0, 1):.6f}\n")
            lines.append(f"{e},{step - 1},{rng.uniform(0, 1):.6f},,,\n")
        d = root / f"exp{i:04d}" / "version_0"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text("".join(lines))


def write_keras(root: Path, n: int, rng) -> None:
    cols = ["loss", "sdice", "val_loss", "val_sdice"]
    for i in range(n):
        epochs = int(rng.integers(30, 81))
        body = np.column_stack([np.arange(epochs), rng.uniform(0, 1, (epochs, len(cols)))])
        np.savetxt(root / f"run{i:04d}.csv", body, delimiter=",",
                   header=",".join(["epoch", *cols]), comments="",
                   fmt=["%d"] + ["%.6f"] * len(cols))


def histkit_read(root: Path) -> int:
    from histkit import find_histories, read_histories

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = read_histories(find_histories([root]))
    assert not batch.problems, batch.problems[:3]
    return batch.histories.height


def tbparse_read(root: Path) -> int:
    from tbparse import SummaryReader

    rows = 0
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        df = SummaryReader(str(d)).scalars
        wide = df.pivot_table(index="step", columns="tag", values="value")
        rows += wide.notna().to_numpy().sum()
    return int(rows)


def accumulator_read(root: Path) -> int:
    import pandas as pd
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = 0
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        acc = EventAccumulator(str(d), size_guidance={"scalars": 0})
        acc.Reload()
        frames = [pd.DataFrame([(e.step, e.value) for e in acc.Scalars(t)],
                               columns=["step", t]).set_index("step")
                  for t in acc.Tags()["scalars"]]
        rows += pd.concat(frames, axis=1).notna().to_numpy().sum()
    return int(rows)


def pandas_lightning(root: Path) -> int:
    import pandas as pd

    rows = 0
    for f in sorted(root.rglob("metrics.csv")):
        df = pd.read_csv(f)
        keep = [c for c in df.columns if c not in ("step",) and not c.endswith("_step")]
        wide = df[keep].groupby("epoch").first()
        rows += wide.notna().to_numpy().sum()
    return int(rows)


def pandas_keras(root: Path) -> int:
    import pandas as pd

    rows = 0
    for f in sorted(root.glob("*.csv")):
        df = pd.read_csv(f)
        rows += df.melt(id_vars="epoch").dropna().shape[0]
    return int(rows)


def timed(fn, root) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn(root)
    return time.perf_counter() - t0, n


def compare(label: str, root: Path, ours, anchors: dict, repeats: int) -> None:
    times = {"histkit": [], **{k: [] for k in anchors}}
    counts = {}
    ours(root)  # imports and page cache, untimed
    for _ in range(repeats):
        for name, fn in [("histkit", ours), *anchors.items()]:
            t, n = timed(fn, root)
            times[name].append(t)
            counts[name] = n
    assert len(set(counts.values())) == 1, f"{label}: sides read different values {counts}"
    print(f"\n{label} ({counts['histkit']} values)")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:18} median {med[k]:7.3f} s  range {min(v):.3f}-{max(v):.3f} s")
    for k in anchors:
        print(f"  histkit vs {k:12} {med[k] / med['histkit']:6.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, write in [("tb", write_tensorboard), ("lightning", write_lightning),
                            ("keras", write_keras)]:
            (tmp / name).mkdir()
            t0 = time.perf_counter()
            write(tmp / name, args.files, rng)
            print(f"wrote {args.files} {name} histories in {time.perf_counter() - t0:.1f} s")
        compare(f"TensorBoard, {args.files} event files", tmp / "tb", histkit_read,
                {"tbparse": tbparse_read, "EventAccumulator": accumulator_read}, args.repeats)
        compare(f"Lightning, {args.files} metrics.csv", tmp / "lightning", histkit_read,
                {"pandas loop": pandas_lightning}, args.repeats)
        compare(f"Keras CSV, {args.files} files", tmp / "keras", histkit_read,
                {"pandas loop": pandas_keras}, args.repeats)


if __name__ == "__main__":
    main()
