"""One figure, start to finish: `histkit plot` against the plain R script a user
would write (readr + tidyr + dplyr + ggplot2).

    .venv/bin/python bench/plot_speed.py [--repeats 7]

Both draw the seed's figure of one 24-epoch history: the five metrics of
pipelines/labels.R as facets with free y scales, training and validation as
points and lines, a dashed line at each early stop (tolerance 0.005),
theme_bw, the run name as caption, a 10.8 x 6.8 in PNG at 150 dpi (the size
`histkit plot` picks for five facets). Each repeat is a fresh process of
each, in turn, so both pay their start-up and package loading as a user
does. Prints the median and range of each, the ratio of the medians (goal:
at most 1, aim 0.7) and where the Python process spends its time.

Also times `histkit plot` with each of the shortcuts of histkit/process.py
switched off, and all of them at once: the CLI spares matplotlib the
signatures and property lists of the Artist ``set()`` methods, has pandas
make plotnine's string columns object arrays, imports its libraries with the
cycle collector paused and then frozen, and leaves a quick command without
the interpreter's teardown. Each round runs every variant once, in turn; a
path's gain is the ratio, within a round, of the process's CPU time (user +
system) without it to with it: its median, quartiles and range. A path
stays when its lower quartile is above 1 ("beyond its noise").

The Python processes write and reuse their bytecode caches as a user's
Python does, even where the environment says PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "pipelines" / "labels.R"
RUN = "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24"
METRICS = ("background_dice", "loss", "scat_dice", "sdice", "vsat_dice")

PLAIN_R = r"""
suppressPackageStartupMessages({
  library(readr); library(tidyr); library(dplyr); library(ggplot2)
})
args <- commandArgs(trailingOnly = TRUE)
source(args[3])  # training_labels
tol <- 0.005
hist <- read_csv(args[1], show_col_types = FALSE)
long <- hist %>%
  pivot_longer(-epoch, names_to = "column", values_to = "value") %>%
  mutate(data = ifelse(startsWith(column, "val_"), "validation", "training"),
         metric = sub("^val_", "", column)) %>%
  filter(metric %in% names(training_labels)) %>%
  mutate(metric = factor(metric, levels = names(training_labels)))
stops <- long %>%
  group_by(metric, data) %>%
  mutate(lossy = grepl("loss", metric),
         ok = ifelse(lossy, value <= min(value) + tol, value >= max(value) - tol)) %>%
  filter(ok) %>%
  slice_min(epoch, n = 1) %>%
  ungroup()
p <- ggplot(long, aes(epoch, value, colour = data)) +
  geom_line() + geom_point(size = 1.5) +
  geom_vline(data = stops, aes(xintercept = epoch, colour = data), linetype = "dashed",
             show.legend = FALSE) +
  facet_wrap(~metric, scales = "free_y", labeller = as_labeller(training_labels)) +
  labs(x = "epoch", colour = "data", caption = tools::file_path_sans_ext(basename(args[1]))) +
  theme_bw() + theme(axis.title.y = element_blank(), legend.position = "bottom")
ggsave(args[2], p, width = 10.8, height = 6.8, dpi = 150)
"""

# `histkit plot` with one shortcut (or every one) switched off
_RUN = "from histkit.cli import run\nrun()"
DOCSTRINGS_ON = "import histkit.process as p\np.skip_artist_docstrings = lambda: None\n" + _RUN
ARROW_STRINGS = "import histkit.process as p\np.object_strings = lambda: None\n" + _RUN
COLLECTOR_ON = "import contextlib, histkit.process as p\np.importing = contextlib.nullcontext\n" + _RUN
TEARDOWN_ON = "import histkit.process as p\np.PROGRAM.on = True\nfrom histkit.cli import main\nmain()"
NONE = ("import contextlib, histkit.process as p\np.skip_artist_docstrings = lambda: None\n"
        "p.object_strings = lambda: None\np.importing = contextlib.nullcontext\n"
        "p.PROGRAM.on = True\nfrom histkit.cli import main\nmain()")

STAGES = r"""
import sys, time
t = [time.perf_counter()]
import gc
import histkit.cli  # noqa: F401  what `histkit` imports before it parses options
t.append(time.perf_counter())
gc.disable()  # as histkit.process.importing does
from histkit.process import prepare_drawing
prepare_drawing()  # as `histkit plot` does
import histkit.render.plot  # noqa: F401  with polars, matplotlib and pandas
t.append(time.perf_counter())
import plotnine  # noqa: F401
gc.freeze()
gc.enable()
t.append(time.perf_counter())
from histkit.readers import read_history
from histkit.render.plot import plot_run, save_plot
hist = read_history(sys.argv[1])
p = plot_run(hist, "run", sys.argv[3])
t.append(time.perf_counter())
save_plot(p, sys.argv[2], width=10.8, height=6.8, dpi=150)  # draws and writes the PNG
t.append(time.perf_counter())
names = ["histkit.cli", "histkit.render.plot+polars+matplotlib+pandas", "plotnine",
         "read+stops+build", "draw+png"]
print(" ".join(f"{n}={b - a:.3f}" for n, a, b in zip(names, t, t[1:])))
print(time.time(), flush=True)  # the parent times the teardown from here
"""


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def write_history(path: Path, epochs: int = 24) -> None:
    import math

    cols = sorted([*METRICS, *(f"val_{m}" for m in METRICS)])
    lines = [",".join(["epoch", *cols])]
    for e in range(epochs):
        cells = []
        for c in cols:
            val = c.startswith("val_")
            x = math.exp(-e / (6 if val else 4))
            v = x + 0.05 * val if c.endswith("loss") else 1 - 0.9 * x - 0.05 * val
            cells.append(f"{v:.6f}")
        lines.append(",".join([str(e), *cells]))
    path.write_text("\n".join(lines) + "\n")


def seconds(cmd: list[str], out: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run of ``cmd``."""
    out.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=ENV)
    took = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no message"]
        said = next((ln for ln in lines if "rror" in ln), lines[-1])
        raise SystemExit(f"{Path(cmd[0]).name} failed: {said}"
                         + ("\n(the plain R script needs readr, tidyr, dplyr and ggplot2: "
                            "apt-get install r-cran-tidyr)" if cmd[0] == "Rscript" else ""))
    if not out.stat().st_size:
        raise SystemExit(f"{cmd[0]} wrote an empty {out}")
    return took, cpu


def _stages(csv: Path, png: Path) -> str:
    """Seconds by stage in one Python process, the interpreter's teardown last."""
    done = subprocess.run([sys.executable, "-c", STAGES, str(csv), str(png), str(LABELS)],
                          capture_output=True, text=True, check=True, env=ENV)
    ended = time.time()
    stages, stamp = done.stdout.strip().splitlines()[-2:]
    return f"{stages} teardown={ended - float(stamp):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    histkit = str(Path(sys.executable).with_name("histkit"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / f"{RUN}.csv"
        write_history(csv)
        script = tmp / "plain.R"
        script.write_text(PLAIN_R)
        py_png, r_png = tmp / "histkit.png", tmp / "r.png"
        py_cmd = [histkit, "plot", str(csv), "--labels", str(LABELS), "-o", str(py_png)]
        r_cmd = ["Rscript", str(script), str(csv), str(r_png), str(LABELS)]
        cmds = {"histkit plot": (py_cmd, py_png), "plain R": (r_cmd, r_png),
                "docstrings on": ([sys.executable, "-c", DOCSTRINGS_ON, *py_cmd[1:]], py_png),
                "arrow strings": ([sys.executable, "-c", ARROW_STRINGS, *py_cmd[1:]], py_png),
                "collector on": ([sys.executable, "-c", COLLECTOR_ON, *py_cmd[1:]], py_png),
                "teardown on": ([sys.executable, "-c", TEARDOWN_ON, *py_cmd[1:]], py_png),
                "none of them": ([sys.executable, "-c", NONE, *py_cmd[1:]], py_png)}
        seconds(py_cmd, py_png), seconds(r_cmd, r_png)  # warm the page cache
        times = {name: [] for name in cmds}
        cpu = {name: [] for name in cmds}
        for _ in range(args.repeats):
            for name, (cmd, png) in cmds.items():
                wall, used = seconds(cmd, png)
                times[name].append(wall)
                cpu[name].append(used)
        stages = _stages(csv, tmp / "s.png")
    for name, ts in times.items():
        print(f"{name:14} median {statistics.median(ts):.2f} s  "
              f"(range {min(ts):.2f}-{max(ts):.2f}, {args.repeats} runs)")
    ratio = statistics.median(times["histkit plot"]) / statistics.median(times["plain R"])
    print(f"histkit / R: {ratio:.2f}x (goal at most 1.00, aim 0.70)")
    for name, path in (("docstrings on", "skipping matplotlib's set() signatures and docs"),
                       ("arrow strings", "plotnine's strings as object arrays"),
                       ("collector on", "importing with the collector paused, then frozen"),
                       ("teardown on", "leaving without the interpreter's teardown"),
                       ("none of them", "all four shortcuts")):
        rounds = [a / b for a, b in zip(cpu[name], cpu["histkit plot"])]
        q1, _, q3 = statistics.quantiles(rounds, n=4)
        print(f"{path}: CPU time without / with, within a round: "
              f"{statistics.median(rounds):.3f}x, quartiles {q1:.3f}-{q3:.3f}, "
              f"range {min(rounds):.3f}-{max(rounds):.3f}"
              + (": a gain beyond its noise" if q1 > 1 else ": within its noise"))
    print(f"one Python process, seconds by stage: {stages}")


if __name__ == "__main__":
    main()
