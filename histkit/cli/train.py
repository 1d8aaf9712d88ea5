"""``histkit train``: the click command (torch is imported only when it runs)."""

from __future__ import annotations

import os

import click

from ..train.config import TrainConfig, settings_of

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


def _setting_options(f):
    """One option per TrainConfig setting the command line takes (config.py
    holds each one's default and help)."""
    for setting in reversed(settings_of("cli")):
        kw = dict(setting.click)
        default = kw.pop("cli_default", setting.default)
        show = kw.pop("show_default", default is not None)
        kind = kw.pop("type", None)
        names = [setting.option]
        extra: dict = {}
        if setting.kind is bool:
            if kw.pop("flag_only", False):
                extra["is_flag"] = True
            else:
                names = [f"{setting.option}/--no-{setting.option[2:]}"]
        elif kind is not None and kind[0] == "choice":
            extra["type"] = click.Choice(kind[1])
        elif kind is not None and kind[0] == "dir":
            extra["type"] = click.Path(file_okay=False)
        else:
            extra["type"] = setting.kind
        f = click.option(*names, setting.name, default=default, show_default=show,
                         help=setting.help, **extra, **kw)(f)
    return f


@click.command("train", epilog=_EXAMPLES)
@_setting_options
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
    from ..train import train

    if options["n_train"] is None and options["data"] is None:
        options["n_train"] = 204
    if quiet:
        options["progress"] = False
    path = train(TrainConfig(**options),
                 log=None if quiet else (lambda msg: click.echo(msg, err=True)))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 answers
        click.echo(str(path))
