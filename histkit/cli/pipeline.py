"""``histkit pipeline``: train what a study file declares, then report on it."""

from __future__ import annotations

import shlex
import sys

import click

from .options import jobs_option
from .output import EXIT_FAILED, EXIT_INPUT, echo_text, fail, progress_callback
from .report import command_line

__all__ = ["pipeline_command"]


@click.command("pipeline")
@click.argument("study", type=click.Path(dir_okay=False))
@click.option("--dry-run", "-n", is_flag=True,
              help="List what would be trained and reported; change nothing.")
@click.option("--only-report", is_flag=True, help="Do not train; build the report only.")
@jobs_option
@click.option("--train-command", envvar="HISTKIT_TRAIN_COMMAND", metavar="COMMAND",
              help="The trainer to call, options appended [default: python -m histkit "
                   "train]. Also read from $HISTKIT_TRAIN_COMMAND.")
@click.option("--yes", "-y", is_flag=True,
              help="Plan a grid of more runs than the study's max_runs (default 1000).")
def pipeline_command(study, dry_run, only_report, jobs, train_command, yes):
    """Train what a study file declares is missing or partial, then build its report.

    STUDY is a TOML file (see pipelines/README.md): a grid of training runs
    and the report settings. Complete runs are left alone; partial ones are
    resumed by the trainer; the report is then built as `histkit report`
    would, and its index.html printed. Exits 1 when a run fails to train, 2
    when a history cannot be read (the report is written all the same).

    \b
    Examples:
      histkit pipeline pipelines/fat_study.toml --dry-run
      histkit pipeline pipelines/fat_study.toml -j 4
      histkit pipeline pipelines/fat_study.toml --only-report
    """
    from ..pipeline import load_study, plan_study, run_pipeline

    spec = load_study(study, yes=yes)
    train = shlex.split(train_command) if train_command else None
    plan = plan_study(spec, train_command=train)
    if dry_run:
        echo_text("\n".join(plan.describe(only_report=only_report)))
        return

    def announce(i, n, run):
        click.echo(f"[{i}/{n}] {run.action} {run.name} ({run.epochs_logged}/{run.epochs} "
                   "epochs logged)", err=True)

    with progress_callback("rendering") as progress:
        result = run_pipeline(spec, plan, only_report=only_report, jobs=jobs,
                              command=command_line(), on_train=announce, progress=progress)
    click.echo(result.report.index)
    for exc in result.problems:
        fail(str(exc))
    if result.report.problems:
        sys.exit(EXIT_INPUT)
    if result.problems:
        sys.exit(EXIT_FAILED)
