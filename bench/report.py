"""Benchmark of `histkit report`: parallel speed-up and the cost of a rebuild.

    .venv/bin/python bench/report.py [--runs 200] [--jobs 2] [--dpi 100]

Generates RUNS histories (24 epochs, 5 metrics and their validation twins,
attention x dropout x optimizer x n_train) in a temporary run/ tree, then
measures, in one process and one sitting:

1. baseline: a sequential loop calling plot_history + save_plot per run
   (PNG, same dpi), the way a script would do it by hand;
2. full build: build_report(-j JOBS) into an empty directory (run figures
   plus the comparison figures, summary.csv/.parquet and index.html);
3. rebuild: build_report again with nothing changed.

and prints the times and the two ratios (aims: baseline / full >= 1.8 on 2
cores; rebuild / full < 5%), plus the CPU time of each side (workers
included): on a machine busy with other work the wall-clock speed-up is
meaningless, while loop CPU / (build CPU / jobs) bounds the speed-up on idle
cores. Not a timed test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import tempfile
import time
from pathlib import Path

METRICS = ("background_dice", "loss", "scat_dice", "sdice", "vsat_dice")


def generate(root: Path, n: int) -> list[Path]:
    """``n`` Keras-like histories with distinct names under root/run/."""
    from histkit.names import format_run_name, parse_run_name

    rng = random.Random(0)
    grid = itertools.product(range(16, 16 + 4 * n, 4), (False, True), (0.0, 0.2, 0.4, 0.6),
                             ("AdaDelta", "Adam", "SGD"))
    paths = []
    for n_train, attention, dropout, optimizer in itertools.islice(grid, n):
        name = format_run_name(model="unet", dim="2d", loss="mdice", attention=attention,
                               optimizer=optimizer, dataset="fat", height=96, width=48,
                               channels=1, n_train=n_train, epochs=24, levels=3,
                               base_filters=8, dropout=dropout)
        r = parse_run_name(name)
        path = root / "run" / "2024-01-01" / r.model_dir / r.dataset_dir / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rate = rng.uniform(2, 8)
        cols = sorted([*METRICS, *(f"val_{m}" for m in METRICS)])
        lines = [",".join(["epoch", *cols])]
        for e in range(24):
            x = math.exp(-e / rate)
            lines.append(",".join([str(e)] + [
                f"{x + (0.05 if c.startswith('val_') else 0) + rng.gauss(0, 0.01):.5f}"
                if c.endswith("loss") else
                f"{1 - 0.9 * x - (0.05 if c.startswith('val_') else 0) + rng.gauss(0, 0.01):.5f}"
                for c in cols]))
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def baseline(paths: list[Path], out: Path, dpi: int) -> None:
    """What one would write by hand: read, stop, plot, save, one run at a time."""
    from plotnine import labs

    from histkit.readers import read_history, to_history
    from histkit.render.plot import plot_history, save_plot
    from histkit.analysis.stops import early_stoppings

    for p in paths:
        hist = to_history(read_history(p))
        fig = plot_history(hist, None, early_stoppings(hist)) + labs(caption=p.stem)
        save_plot(fig, out / f"{p.stem}.png", dpi=dpi)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the workers)."""
    import resource

    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(f, *args, **kw) -> tuple[float, float, object]:
    """Wall and CPU seconds of a call (workers included once they have exited)."""
    t, c = time.perf_counter(), cpu_seconds()
    result = f(*args, **kw)
    return time.perf_counter() - t, cpu_seconds() - c, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args()

    from histkit.render.report import build_report

    load = os.getloadavg()  # another busy process skews the parallel speed-up
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = generate(root, args.runs)
        # warm the imports so that neither side pays for them in its timing
        baseline(paths[:1], root / "warm", args.dpi)
        t_base, c_base, _ = timed(baseline, paths, root / "baseline", args.dpi)
        t_full, c_full, rep = timed(build_report, root / "run", root / "report",
                                    jobs=args.jobs, dpi=args.dpi)
        t_again, _, again = timed(build_report, root / "run", root / "report",
                                  jobs=args.jobs, dpi=args.dpi)
        assert len(rep.rendered) == args.runs and not rep.problems
        assert not again.rendered and len(again.skipped) == args.runs

    print(f"{args.runs} runs, -j {args.jobs}, dpi {args.dpi}, {os.cpu_count()} CPUs "
          f"(load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f}); "
          f"comparisons by {', '.join(rep.comparisons)}")
    print(f"sequential plot_history + save_plot loop: {t_base:7.1f} s")
    print(f"report, full build (-j {args.jobs}):          {t_full:7.1f} s   "
          f"speed-up {t_base / t_full:.2f}x (aim >= 1.8x)")
    print(f"report, rebuild, nothing changed:   {t_again:7.2f} s   "
          f"{100 * t_again / t_full:.1f}% of the full build (aim < 5%)")
    # On a machine shared with other work the wall ratio says little; the CPU
    # time says how much work the build adds, hence its speed-up on idle cores.
    print(f"CPU time: loop {c_base:.1f} s, full build {c_full:.1f} s (main + workers); "
          f"speed-up bound on {args.jobs} idle cores: "
          f"{c_base / (c_full / args.jobs):.2f}x (= loop CPU / (build CPU / {args.jobs}); "
          "ignores worker start-up)")


if __name__ == "__main__":
    main()
