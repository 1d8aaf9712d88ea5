"""``histkit train``: the click command (torch is imported only when it runs)."""

from __future__ import annotations

import os
import sys

import click

from .config import MEMORY_FORMATS, PRECISIONS, TrainConfig

__all__ = ["train_command"]

_EXAMPLES = """
\b
Examples (small sizes that train in seconds; the seed's runs used
--shape 768x384x1 --n-train 204 --epochs 24 --levels 4 --base-filters 24):
  histkit train --model unet --loss mdice --optimizer AdaDelta --dataset fat \\
      --shape 64x32x1 --n-train 16 --epochs 3 --levels 3 --base-filters 8 --dropout 0.2
  histkit train --model unet --loss mdice --attention --shape 64x32x1 --n-train 16 \\
      --epochs 3 --levels 3 --base-filters 8 --lr 0.5 --seed 1
  histkit train --model linknet --loss bce25dice75 --optimizer Adam --data examples/scans \\
      --dataset scans --shape 64x64x1 --levels 3 --base-filters 8 --epochs 3
  histkit train --model unet --attention --precision bf16 --shape 64x32x1 --n-train 16 \\
      --levels 3 --base-filters 8 --epochs 3   # bfloat16 on an AMX CPU or Ampere+ GPU
  torchrun --nproc-per-node 2 -m histkit.train --shape 64x32x1 --n-train 16 --epochs 2
"""


@click.command("train", epilog=_EXAMPLES)
@click.option("--model", default="unet", show_default=True, help="unet or linknet.")
@click.option("--loss", default="mdice", show_default=True,
              help="mdice, dice, bce, ce, or a mix such as bce25dice75.")
@click.option("--attention/--no-attention", default=False,
              help="Additive attention gates (Oktay et al. 2018) on the UNet skips.")
@click.option("--optimizer", default="AdaDelta", show_default=True, help="AdaDelta, Adam or SGD.")
@click.option("--dataset", default="fat", show_default=True,
              help="Dataset name used in the run name; without --data it picks the phantom: "
                   "fat, or fat2 (harder: thin broken fat ring, small islands, partial volume).")
@click.option("--shape", default="768x384x1", show_default=True, help="HxWxC of the slices.")
@click.option("--n-train", type=int, default=None,
              help="Training slices [default: 204 for the phantom, all but validation for --data].")
@click.option("--n-val", type=int, default=None, help="Validation slices [default: n-train/4].")
@click.option("--epochs", type=int, default=24, show_default=True)
@click.option("--levels", type=int, default=4, show_default=True, help="Resolutions (poolings + 1).")
@click.option("--base-filters", type=int, default=24, show_default=True)
@click.option("--dropout", type=float, default=0.0, show_default=True, help="In [0, 1).")
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--lr", type=float, default=None,
              help="Learning rate [default: 1.0 AdaDelta, 1e-3 Adam, 1e-2 SGD].")
@click.option("--plateau-patience", type=int, default=None,
              help="Halve the learning rate after this many epochs without val_loss progress.")
@click.option("--early-stop-patience", type=int, default=None,
              help="Stop when val_loss has not improved for this many epochs (Keras rule).")
@click.option("--early-stop-min-delta", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--memory-format", type=click.Choice(MEMORY_FORMATS),
              default="auto", show_default=True,
              help="Tensor layout; auto times a few steps in each and keeps the faster.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="bf16: bfloat16 mixed precision for the convolutions (weights, loss and "
                   "metrics stay fp32); needs a CPU with AMX or AVX512-BF16, or an Ampere+ GPU.")
@click.option("--root", default="run", show_default=True, help="Folder of the run/ tree.")
@click.option("--date", default=None, help="YYYY-MM-DD folder [default: today].")
@click.option("--data", type=click.Path(file_okay=False), default=None,
              help="Folder with images/ and masks/ (NIfTI or PNG) instead of the phantom.")
@click.option("--force", is_flag=True, help="Train again even if the run is complete.")
@click.option("--probes/--no-probes", default=True, show_default=True,
              help="Write per-epoch probes (weight and gradient norms and histograms, "
                   "activations, prediction images) to <run>.probes/ beside the history.")
@click.option("--probe-every", type=int, default=None,
              help="Probe images every N epochs (and at the last) [default: about 5 per run].")
@click.option("--quiet", "-q", is_flag=True,
              help="Print nothing but the history's path (and errors): no line per epoch, "
                   "no progress bar.")
def train_command(quiet: bool, **options) -> None:
    """Train a segmentation network and write its history CSV under run/.

    Prints one line per epoch to stderr (time, loss, val_loss and the
    validation scores), with or without a terminal; on a terminal also a
    progress bar over the epoch's batches. The last line on stdout is the
    history's path.
    """
    from . import allocator, train

    allocator.keep_freed_memory()  # this process only trains: reuse freed blocks
    if options["n_train"] is None and options["data"] is None:
        options["n_train"] = 204
    if quiet:
        options["progress"] = False
    path = train(TrainConfig(**options),
                 log=None if quiet else (lambda msg: click.echo(msg, err=True)))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 answers
        click.echo(str(path))


def main() -> None:
    """Entry point of ``python -m histkit.train`` (errors as one line, exit 2)."""
    from ..errors import HistkitError
    try:
        train_command.main(standalone_mode=False)
    except HistkitError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
