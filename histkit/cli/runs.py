"""``histkit runs``: one row per history of a run/ tree."""

from __future__ import annotations

import click

from .options import comma_list, format_option, source_option, strict_option, tolerance_option
from .output import echo_table, finish, reading
from ..process import importing

__all__ = ["runs_command"]


@click.command("runs")
@click.argument("root", nargs=-1, metavar="[ROOT=run]...")
@format_option("table", "csv", "json", "parquet")
@click.option("--where", "-w", multiple=True, metavar="FIELD=VALUE",
              help="Keep runs whose field equals the value (repeatable, all must hold); "
                   "text without case, the name's spelling too (dropout=DR20, attention=ag).")
@click.option("--columns", "-c", metavar="A,B,...", default=None,
              help="Show only these columns, in this order.")
@click.option("--sort", "-s", "sort", metavar="A,-B", default=None,
              help="Sort by these columns; a leading - sorts descending.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file instead of stdout.")
@click.option("--no-cache", is_flag=True,
              help="Read every history again instead of only those changed since the "
                   "last run (the table is kept in ~/.cache/histkit).")
@tolerance_option
@source_option
@strict_option
def runs_command(root, fmt, where, columns, sort, output, no_cache, tolerance, source, strict):
    """List the runs of a run/ tree: parsed name fields, epochs logged, val_loss.

    One row per history: path, date, run, model, dim, loss, attention,
    optimizer, dataset, height, width, channels, n_train, epochs, levels,
    base_filters, dropout, batch_size, lr, seed, extra, epochs_logged,
    best_val_loss, best_val_loss_epoch, stop_val_loss_epoch, test (the test
    and final values a history logs: loss=0.31, acc=0.91). A log that holds
    several trainings gives a row per training (<run>#2...). batch_size and
    lr are empty where the run used the trainer's default (the name has no
    BS or LR token; shown as null, empty in CSV). The table is kept in a
    cache, so a rerun reads only the histories that changed.

    \b
    Examples:
      histkit runs
      histkit runs run/2026-12-02 --where model=unet --where optimizer=adam
      histkit runs run/2026-12-02 --where dropout=DR20 --columns run,best_val_loss
      histkit runs --columns run,epochs_logged,best_val_loss --sort best_val_loss
      histkit runs --format parquet -o runs.parquet
    """
    with importing():
        from ..analysis.runs import filter_runs, runs, select_runs

    problems: list = []
    with reading() as bar:
        table, unread = runs(root or ["run"], tolerance=tolerance, strict=strict,
                             source=source, cache=not no_cache, problems=problems,
                             progress=bar)
    problems += unread
    found = table.height
    table = filter_runs(table, where)
    table = select_runs(table, comma_list(columns), comma_list(sort))
    if found:
        echo_table(table, fmt, output)
    finish(problems)
