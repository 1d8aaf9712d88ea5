"""``histkit report``: a browsable report of every run of a study.

A report with problems (a history that cannot be read) is still written;
the command then names each problem and exits 2, as for any bad input.
"""

from __future__ import annotations

import shlex
import sys

import click

from .options import (all_metrics_option, jobs_option, labels_option, source_option,
                      strict_option, telemetry_option, tolerance_option)
from .output import finish, progress_callback, reading

__all__ = ["report_command", "command_line"]


def _formats(ctx, param, value: str) -> tuple[str, ...]:
    from ..render.report import REPORT_FORMATS

    formats = tuple(f.strip().lower().lstrip(".") for f in value.split(",") if f.strip())
    bad = [f for f in formats if f not in REPORT_FORMATS]
    if bad or not formats:
        raise click.BadParameter(f"should be a comma-separated list of "
                                 f"{', '.join(REPORT_FORMATS)}; got {value!r}")
    return formats


def command_line() -> str:
    """The command as typed, for the report's "Command" section."""
    return shlex.join(["histkit", *sys.argv[1:]])


@click.command("report")
@click.argument("roots", nargs=-1, metavar="[ROOT=run]...")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="Report directory [default: reports/<name of the first ROOT>].")
@labels_option
@tolerance_option
@click.option("--group-by", "-g", multiple=True, metavar="FIELD",
              help="Compare runs by this field (repeatable) [default: attention, dropout, "
                   "optimizer, loss, model where they vary].")
@click.option("--metric", "-m", default=None, metavar="SERIES",
              help="The series the factor comparison reads (sdice: its validation series; "
                   "val_loss, loss) [default: the first labelled metric's validation series].")
@jobs_option
@click.option("--title", help="Report title [default: histkit report: <output name>].")
@click.option("--formats", default="png", show_default=True, callback=_formats,
              help="Figure formats, comma separated: png, pdf, svg.")
@click.option("--dpi", type=click.IntRange(min=10), default=100, show_default=True,
              help="Resolution of PNG figures.")
@click.option("--base-size", type=click.FloatRange(min=1), default=11, show_default=True,
              help="Base font size of theme_bw.")
@click.option("--pages", type=click.IntRange(min=0), default=None, metavar="N",
              help="Draw figures and a page for N runs at most; a larger study gets them for "
                   "its best runs and its failed ones, half each, and its tables, comparisons "
                   "and problems still cover every run [default: 500].")
@all_metrics_option
@telemetry_option
@source_option
@strict_option
def report_command(roots, output, labels, tolerance, group_by, metric, jobs, title, formats,
                   dpi, base_size, pages, all_metrics, telemetry, source, strict):
    """Build a browsable report of every run: figures, comparisons, summary, index.html.

    Writes one figure per run, comparison figures by hyperparameter (groups
    of three runs or more as their mean with a band), summary.csv,
    summary.parquet, findings.csv (every diagnosis finding) and a
    self-contained index.html into the output directory, then prints the
    path of index.html. The index opens with the failed and suspect runs,
    each finding with its evidence, and says which factor matters: per factor the runs' mean and spread, paired effects
    from runs that differ in that factor alone, and the factors that are
    confounded in the study. Each run also gets
    a page, runs/<run>.html, linked from its name in the index: its history
    and telemetry figures, its settings (name fields and a <run>.json beside
    the history), stops and diagnosis, and, when histkit train wrote probes
    beside it, weight and gradient norms, histograms over epochs, activation
    statistics, class shares and the probe images. Unchanged runs are not
    drawn again. A history that cannot be read is listed under "Problems"
    and the command exits 2; the rest of the report is written. A study of
    more runs than --pages is read in chunks, in bounded memory.

    \b
    Examples:
      histkit report run -o reports/fat_study --labels pipelines/labels.R
      histkit report run/2026-11-23 -o reports/dropout --group-by dropout -j 2
      histkit report run/2026-12-02 -o reports/fat2 --labels pipelines/labels.R --metric sdice
      histkit report tests/fixtures/sources/lightning tests/fixtures/sources/mlflow/mlruns -o reports/frameworks
      histkit report run -o reports/fat_study --formats png,pdf --title "Fat study"
      histkit report run -o reports/top6 --labels pipelines/labels.R --pages 6
    """
    from pathlib import Path

    from ..process import prepare_drawing
    from ..render.report import build_report

    prepare_drawing()
    roots = roots or ("run",)
    if output is None:
        output = str(Path("reports") / (Path(roots[0]).resolve().name or "report"))
    with reading() as bar, progress_callback("rendering") as progress:
        report = build_report(roots, output, labels=labels, tolerance=tolerance,
                              group_by=list(group_by) or None, jobs=jobs, title=title,
                              formats=formats, dpi=dpi, base_size=base_size, strict=strict,
                              telemetry=telemetry, all_metrics=all_metrics, source=source,
                              metric=metric, command=command_line(), progress=progress,
                              pages=pages, reading=bar)
    shown = ("" if len(report.shown) == report.summary.height
             else f" ({len(report.shown)} shown with figures and pages)")
    click.echo(f"{len(report.summary)} runs{shown}: {len(report.rendered)} drawn, "
               f"{len(report.skipped)} unchanged, {len(report.removed)} removed, "
               f"{len(report.pages)} pages written, {len(report.problems)} problems", err=True)
    click.echo(report.index)
    finish(report.problems)
