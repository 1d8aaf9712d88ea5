"""``histkit compare``: runs side by side, and one figure of their curves."""

from __future__ import annotations

from pathlib import Path

import click

from .options import format_option, labels_option, source_option, strict_option, tolerance_option
from .output import echo_table, finish
from ..process import importing

__all__ = ["compare_command"]


def _resolve_runs(items, root: str, problems: list) -> list[str]:
    """Paths of the inputs: a file or directory as it is, else a run name
    looked up under ``root`` (every date that has it), literally: ``*`` is a
    character of a name, not a pattern, and a name is never a path out of
    ``root``."""
    import glob

    from ..errors import OptionError

    out = []
    for item in items:
        if Path(item).exists():
            out.append(item)
            continue
        name = item[:-4] if item.endswith(".csv") else item
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            problems.append(OptionError(f"no file {item!r}, and a run name is a file name, "
                                        f"not a path under {root}/"))
            continue
        found = sorted(str(p) for p in Path(root).glob(f"**/{glob.escape(name)}.csv"))
        if found:
            out += found
        else:
            problems.append(OptionError(f"no file and no run named {name!r} under {root}/"))
    return out


@click.command("compare")
@click.argument("items", nargs=-1, required=True, metavar="RUN_OR_PATH...")
@click.option("--root", default="run", show_default=True,
              help="Where run names (not paths) are looked up.")
@click.option("--metric", "-m", default=None, metavar="SERIES",
              help="The series whose best value and stop are shown (sdice: its validation "
                   "series) [default: the first labelled metric's validation series].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="compare.png",
              show_default=True, help="The figure of their curves (.png, .pdf, .svg).")
@format_option("table", "csv", "json")
@labels_option
@tolerance_option
@source_option
@strict_option
def compare_command(items, root, metric, output, fmt, labels, tolerance, source, strict):
    """Compare runs side by side: the settings that differ, best values and stops.

    RUN_OR_PATH is a history, a directory of histories, or a run name looked
    up under --root. Prints one row per run: a short label built from the
    settings that differ (attention=true, DR20), those settings, the best
    value of the metric with its epoch, the stop epoch within the tolerance,
    the epochs logged, time per epoch and peak memory where logged, and the
    full run name. Draws one figure of their curves (training solid,
    validation dashed; the legend has the short labels, the caption the full
    names) and says where on stderr.

    \b
    Examples:
      histkit compare run/2026-12-02/unet_2d_dice run/2026-12-02/linknet_2d_dice
      histkit compare unet_2d_bce_Adam_fat2_256x128x1_N96_E24_L4_FBL16 linknet_2d_bce_Adam_fat2_256x128x1_N96_E24_L4_FBL16 --labels pipelines/labels.R -o bce.png
      histkit compare run/2026-12-02/unet_2d_mdice run/2026-12-02/unet_2d_mdice_ag --metric val_loss --format csv
    """
    with importing():
        from ..process import prepare_drawing

        prepare_drawing()
        from plotnine import labs

        from ..analysis.compare import by_label, side_by_side
        from ..analysis.summary import run_fields, summarise
        from ..analysis.stops import early_stoppings
        from ..labels import load_labels
        from ..readers import find_histories, read_histories
        from ..render.plot import check_output, plot_overlay, save_plot

    check_output(output)
    lookup = load_labels(labels)
    problems: list = []
    paths = _resolve_runs(items, root, problems)
    batch = read_histories(find_histories(paths, problems=problems), source=source)
    problems += batch.problems
    if len(batch.paths) < 2:
        finish(problems)
        raise click.UsageError(f"compare needs two runs or more; {len(batch.paths)} could be "
                               "read")
    fields = run_fields(batch.paths, strict=strict, names=batch)
    summary = summarise(batch.histories, fields, tolerance)
    echo_table(side_by_side(summary, metric, lookup), fmt)
    long, full = by_label(batch.histories, fields)
    segs = early_stoppings(long, tolerance, by=["run"])
    fig = plot_overlay(long, by="run", lookup_table=lookup, data=None, segments=segs)
    click.echo(f"figure: {save_plot(fig + labs(caption=full), output)}", err=True)
    finish(problems)
