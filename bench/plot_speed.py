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

Also times `histkit plot` with each of its five special paths switched off
and prints what each gains: the CLI spares matplotlib the signatures and
property lists of the Artist ``set()`` methods
(histkit.render.plot.skip_artist_docstrings), has pandas make plotnine's string
columns object arrays (histkit.render.plot.object_strings), imports its libraries
with the cycle collector paused and then frozen (histkit.cli.process.importing),
the `histkit` program leaves a quick command without the interpreter's
teardown (histkit.cli.process.leave), and a PNG is drawn once on the Agg canvas
instead of savefig's layout pass and render pass (histkit.render.plot.save_png).

The Python processes write and reuse their bytecode caches as a user's
Python does, even where the environment says PYTHONDONTWRITEBYTECODE.
"""

from __future__ import annotations

import argparse
import os
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

# `histkit plot` with one special path switched off
DOCSTRINGS_ON = ("import histkit.render.plot\nhistkit.render.plot.skip_artist_docstrings = lambda: None\n"
                 "from histkit.cli import run\nrun()")
ARROW_STRINGS = ("import histkit.render.plot\nhistkit.render.plot.object_strings = lambda: None\n"
                 "from histkit.cli import run\nrun()")
COLLECTOR_ON = ("import contextlib, histkit.cli.process\n"
                "histkit.cli.process.importing = contextlib.nullcontext\n"
                "from histkit.cli import run\nrun()")
TEARDOWN_ON = ("import histkit.cli.process\nhistkit.cli.process.PROGRAM.on = True\n"
               "from histkit.cli import main\nmain()")
DRAWN_TWICE = ("import histkit.render.plot\nhistkit.render.plot.save_png = lambda plot, target, *, width, "
               "height, dpi: plot.save(target, width=width, height=height, dpi=dpi, "
               "verbose=False)\nfrom histkit.cli import run\nrun()")

STAGES = r"""
import sys, time
t = [time.perf_counter()]
import gc
import histkit.cli  # noqa: F401  what `histkit` imports before it parses options
t.append(time.perf_counter())
gc.disable()  # as histkit.cli.process.importing does
from histkit.render.plot import prepare_process  # with polars, matplotlib and pandas
prepare_process()  # as `histkit plot` does
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
import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
fig = p.draw()
t.append(time.perf_counter())
with mpl.rc_context(p.theme.rcParams):  # the PNG once, as histkit.render.plot.save_png writes it
    FigureCanvasAgg(fig).print_png(sys.argv[2])
t.append(time.perf_counter())
names = ["histkit.cli", "histkit.render.plot+polars+matplotlib+pandas", "plotnine", "read+stops+build", "draw", "png"]
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


def seconds(cmd: list[str], out: Path) -> float:
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=ENV)
    took = time.perf_counter() - t0
    if done.returncode:
        lines = done.stderr.strip().splitlines() or ["no message"]
        said = next((ln for ln in lines if "rror" in ln), lines[-1])
        raise SystemExit(f"{Path(cmd[0]).name} failed: {said}"
                         + ("\n(the plain R script needs readr, tidyr, dplyr and ggplot2: "
                            "apt-get install r-cran-tidyr)" if cmd[0] == "Rscript" else ""))
    if not out.stat().st_size:
        raise SystemExit(f"{cmd[0]} wrote an empty {out}")
    return took


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
                "drawn twice": ([sys.executable, "-c", DRAWN_TWICE, *py_cmd[1:]], py_png)}
        seconds(py_cmd, py_png), seconds(r_cmd, r_png)  # warm the page cache
        times = {name: [] for name in cmds}
        for _ in range(args.repeats):
            for name, (cmd, png) in cmds.items():
                times[name].append(seconds(cmd, png))
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
                       ("drawn twice", "drawing the PNG once, not savefig's twice")):
        gain = statistics.median(times[name]) / statistics.median(times["histkit plot"])
        print(f"{path}: {gain:.3f}x ({name} / histkit plot)")
    print(f"one Python process, seconds by stage: {stages}")


if __name__ == "__main__":
    main()
