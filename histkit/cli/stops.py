"""``histkit stops``: the early-stop epoch of every series."""

from __future__ import annotations

import click

from .options import (format_option, source_option, strict_option, telemetry_option,
                      tolerance_option)
from .output import echo_table, finish, read_in_chunks
from ..process import importing

__all__ = ["stops_command"]


@click.command("stops")
@click.argument("paths", nargs=-1, required=True, metavar="PATH_OR_DIR...")
@tolerance_option
@click.option("--relative", is_flag=True,
              help="Read the tolerance as a fraction of |best| (0.01 = within 1%).")
@format_option("table", "csv", "json")
@telemetry_option
@source_option
@strict_option
def stops_command(paths, tolerance, relative, fmt, telemetry, source, strict):
    """Early-stop epochs: the first epoch within the tolerance of each series' best.

    Loss-like metrics (a name token loss, error, mse, mae, rmse or
    crossentropy) are minimised, the others maximised; telemetry (learning
    rate, times, memory) gets no stop. Directories are searched recursively
    for histories of every source.

    \b
    Examples:
      histkit stops run/2026-11-23/unet_2d_mdice/fat_256x128x1/unet_2d_mdice_AdaDelta_fat_256x128x1_N96_E24_L4_FBL16.csv
      histkit stops run/ --tolerance 0.01 --relative --format csv > stops.csv
      histkit stops tests/fixtures/sources/lightning tests/fixtures/sources/mlflow/mlruns
    """
    with importing():
        import polars as pl

        from ..analysis.stops import early_stoppings
        from ..readers import find_histories

    problems: list = []
    parts = []
    for batch in read_in_chunks(find_histories(paths, problems=problems), source):
        problems += batch.problems
        part = early_stoppings(batch.histories, tolerance, relative=relative, by=["path"],
                               telemetry=telemetry)
        parts.append(part.with_columns(run=batch.run_column(part["path"], strict=strict)
                                       .cast(pl.String), path=pl.col("path").cast(pl.String)))
    table = pl.concat(parts)
    # frameworks give many runs one name (version_0): then the path tells them apart
    shared = table.group_by("run").agg(pl.col("path").n_unique() > 1)["path"].any()
    table = (table.select("run", *(["path"] if shared else []), "metric", "data", "epoch",
                          "value", "best_epoch", "best_value")
             .sort("run", *(["path"] if shared else []), "metric", "epoch",
                   maintain_order=True))
    if table.height:
        echo_table(table, fmt)
    finish(problems)
