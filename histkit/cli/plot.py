"""``histkit plot``: figures of histories, one per run or several in one."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .options import (all_metrics_option, labels_option, source_option, strict_option,
                      telemetry_option, tolerance_option)
from .output import finish, progress_bar
from ..process import importing

__all__ = ["plot_command", "default_output"]


def default_output(path: str, suffix: str = ".png", name: str | None = None) -> Path:
    """Where a figure of ``path`` goes by default: mirrored under reports/ for
    a file inside a run/ tree, else ``<run name><suffix>`` in the current
    directory (the file stem when no name is given)."""
    parts = Path(path).parts
    if "run" in parts[:-1]:
        i = len(parts) - 2 - parts[-2::-1].index("run")
        return Path(*parts[:i], "reports", *parts[i + 1:]).with_suffix(suffix)
    from ..files import safe_name

    return Path(safe_name(name or Path(path).stem) + suffix)


@click.command("plot")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(),
              help="Output file (.png, .pdf, .svg) or, with several inputs, a directory.")
@labels_option
@tolerance_option
@click.option("--no-stops", is_flag=True, help="Do not draw the early-stop lines.")
@click.option("--metrics", "-m", callback=lambda ctx, p, v: v.split(",") if v else None,
              help="Comma-separated series to draw (default: the labelled metrics, or "
                   "every metric), e.g. loss,sdice or lr.")
@click.option("--base-size", type=click.FloatRange(min=1), default=11, show_default=True,
              help="Base font size of theme_bw.")
@click.option("--title", help="Figure title.")
@click.option("--subtitle", help="Figure subtitle.")
@click.option("--caption", help="Caption [default: the run name of the file].")
@click.option("--width", type=click.FloatRange(min=1), help="Width in inches [default: fits the facets].")
@click.option("--height", type=click.FloatRange(min=1), help="Height in inches.")
@click.option("--dpi", type=click.IntRange(min=10), default=150, show_default=True)
@click.option("--overlay", is_flag=True,
              help="One figure: validation curves of every input, coloured by run (short "
                   "labels from the settings that differ; full names in the caption).")
@click.option("--side-by-side", is_flag=True,
              help="One figure: the inputs as columns, a row per metric.")
@click.option("--format", "-f", "fmt", type=click.Choice(["png", "pdf", "svg"]), default="png",
              show_default=True, help="Format of outputs whose name histkit chooses.")
@click.option("--engine", type=click.Choice(["python", "r"]), default="python",
              show_default=True,
              help="Who draws: plotnine (python), or the R package's ggplot2 code through "
                   "rpy2 (r; needs 'pip install histkit[r]' and 'R CMD INSTALL r').")
@all_metrics_option
@telemetry_option
@source_option
@strict_option
def plot_command(paths, output, labels, tolerance, no_stops, metrics, base_size, title,
                 subtitle, caption, width, height, dpi, overlay, side_by_side, fmt, engine,
                 all_metrics, telemetry, source, strict):
    """Draw histories: one facet per metric, training and validation, early stops.

    PATH is a history (any source histkit reads) or a directory searched for
    histories. A file under a run/ tree is drawn to the same place under
    reports/; anything else to <run name>.png here. Prints each path written.
    Telemetry (learning rate, epoch time, memory) gets no facet.

    \b
    Examples:
      histkit plot run/2026-11-23/unet_2d_mdice/fat_256x128x1/unet_2d_mdice_AdaDelta_fat_256x128x1_N96_E24_L4_FBL16.csv
      histkit plot run/2026-11-23/unet_2d_mdice_ag -o ag/ --labels pipelines/labels.R --title "UNet"
      histkit plot run/2026-11-23/unet_2d_mdice_ag --overlay -o dropout.png
      histkit plot run/2026-12-02/unet_2d_dice run/2026-12-02/linknet_2d_dice --side-by-side -o dice.png
      histkit plot tests/fixtures/sources/lightning/epoch/lightning_logs/version_0/metrics.csv -o fig.pdf
      histkit plot tests/fixtures/sources/tensorboard/writer tests/fixtures/sources/tensorboard/add_scalars --overlay -o tensorboard.png
    """
    if overlay and side_by_side:
        raise click.UsageError("--overlay and --side-by-side are two ways of one figure: "
                               "pick one")
    one_figure = overlay or side_by_side
    if engine == "r" and one_figure:
        raise click.UsageError("--engine r draws one figure per run; drop --overlay "
                               "and --side-by-side, or use --engine python")
    with importing():
        from ..process import prepare_drawing

        prepare_drawing()
        import plotnine  # noqa: F401  imported here, under the paused collector

        from ..labels import load_labels
        from ..readers import find_histories, read_histories
        from ..render import plot  # noqa: F401

    if engine == "r":
        from ..rbridge import r_package

        r_package()  # rpy2, R and the R package are there, or one clear error
    problems: list = []
    files = find_histories(paths, problems=problems)
    batch = read_histories(files, source=source)
    problems += batch.problems
    target = _targets(output, len(files), one_figure, "." + fmt, batch.name,
                      "side_by_side" if side_by_side else "overlay")
    drawn = {"lookup_table": load_labels(labels), "base_size": base_size, "metrics": metrics,
             "all_metrics": all_metrics, "telemetry": telemetry}
    text = {"title": title, "subtitle": subtitle, "caption": caption}
    size = {"width": width, "height": height, "dpi": dpi}
    stop_tolerance = None if no_stops else tolerance
    if one_figure:
        if batch.histories.height:
            click.echo(_one_figure(batch, target(None), side_by_side, strict, stop_tolerance,
                                   drawn, text, size))
    else:
        problems += _each_run(batch, target, engine, strict, stop_tolerance, drawn, text, size)
    finish(problems)


def _one_figure(batch, path: Path, side_by_side: bool, strict: bool, tolerance, drawn: dict,
                text: dict, size: dict) -> Path:
    """Every run of ``batch`` in one figure (overlaid, or side by side),
    labelled by the settings that differ; the caption has their full names."""
    from plotnine import labs

    from ..analysis.compare import by_label
    from ..analysis.summary import run_fields
    from ..analysis.stops import early_stoppings
    from ..render.plot import plot_overlay, plot_side_by_side, save_plot

    fields = run_fields(batch.paths, strict=strict, names=batch)
    long, full = by_label(batch.histories, fields)
    segs = None if tolerance is None else early_stoppings(long, tolerance, by=["run"],
                                                          telemetry=drawn["telemetry"])
    width, height = size["width"], size["height"]
    if side_by_side:
        fig = plot_side_by_side(long, by="run", segments=segs, **drawn)
        n_metrics = len(fig.data["metric"].unique())
        width = width or 2.8 * fields.height + 1.5
        height = height or 2.2 * n_metrics + 1.8
    else:
        fig = plot_overlay(long, by="run", segments=segs, **drawn)
    fig += labs(title=text["title"], subtitle=text["subtitle"],
                caption=full if text["caption"] is None else text["caption"])
    return save_plot(fig, path, width=width, height=height, dpi=size["dpi"])


def _each_run(batch, target, engine: str, strict: bool, tolerance, drawn: dict, text: dict,
              size: dict) -> list:
    """One figure per run of ``batch``, each path printed as it is written;
    returns the problems (a run that cannot be drawn)."""
    from ..analysis.stops import early_stoppings
    from ..errors import HistkitError
    from ..names import run_from_path
    from ..render.plot import plot_run, save_plot

    problems = []
    groups = batch.histories.partition_by("path", as_dict=True, maintain_order=True,
                                          include_key=False)
    with progress_bar(len(groups), "plotting") as bar:
        for (path,), hist in groups.items():
            try:
                run = run_from_path(path, strict=strict, name=batch.name(path))
                caption = run.name if text["caption"] is None else text["caption"]
                if engine == "r":
                    from ..render.r_plot import render_r

                    segs = None if tolerance is None else early_stoppings(
                        hist, tolerance, telemetry=drawn["telemetry"])
                    click.echo(render_r(hist, drawn["lookup_table"], segs, drawn["base_size"],
                                        text["title"], text["subtitle"], caption, target(path),
                                        size["width"], size["height"], size["dpi"],
                                        metrics=drawn["metrics"],
                                        all_metrics=drawn["all_metrics"],
                                        telemetry=drawn["telemetry"]))
                else:
                    fig = plot_run(hist, run.name, tolerance=tolerance, title=text["title"],
                                   subtitle=text["subtitle"], caption=text["caption"], **drawn)
                    click.echo(save_plot(fig, target(path), **size))
            except HistkitError as exc:
                problems.append(exc if exc.path else type(exc)(exc.message, path=path))
            bar.update(1)
    return problems


def _targets(output: str | None, n_inputs: int, overlay: bool, suffix: str, name_of,
             default: str = "overlay"):
    """A function input path -> figure path, after checking ``-o`` once.
    Histories outside a run/ tree are named for their run (``name_of``), so
    two Lightning ``metrics.csv`` files do not land on one figure."""
    from ..render.plot import check_output

    if output is None:
        if overlay:
            return lambda _: Path(default + suffix)
        return _unique(lambda path: default_output(path, suffix, name_of(path)))
    out = Path(output)
    if out.is_dir() or output.endswith(("/", os.sep)):
        from ..files import safe_name

        return _unique(lambda path: out / (safe_name(name_of(path)) + suffix))
    check_output(out)
    if n_inputs > 1 and not overlay:
        raise click.UsageError(f"-o {output!r} is one file but there are {n_inputs} "
                               "inputs: give a directory (ending in /), --overlay or "
                               "--side-by-side")
    return lambda _: out


def _unique(target):
    """``target`` made one-to-one: a second input whose figure would land on
    the same file (two ``version_0`` runs) gets a hash of its path added."""
    import hashlib

    taken: dict[Path, str] = {}

    def pick(path: str) -> Path:
        out = target(path)
        if taken.setdefault(out, path) != path:
            out = out.with_name(f"{out.stem}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"
                                f"{out.suffix}")
        return out
    return pick
