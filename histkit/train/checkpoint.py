"""Atomic checkpoints and the durable history CSV.

At the end of epoch e the trainer first replaces the checkpoint (which also
holds every history row so far), then appends row e to the CSV and fsyncs it.
A kill between the two leaves a checkpoint one row ahead of the CSV; a kill
while appending leaves a partial line. ``restore_history`` rewrites the CSV
from the checkpoint's rows on resume, so every completed epoch appears exactly
once and no partial row survives.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from ..files import atomic_target, cannot_write, remove_temps, write_atomic
from .errors import TrainError

__all__ = ["COLUMNS", "save_checkpoint", "load_checkpoint", "append_row",
           "write_history", "read_rows", "format_row", "remove_stale_temps"]

COLUMNS = ("epoch", "loss", "sdice", "background_dice", "vsat_dice", "scat_dice",
           "val_loss", "val_sdice", "val_background_dice", "val_vsat_dice", "val_scat_dice",
           "lr", "epoch_time_s", "peak_mem_mb")


def save_checkpoint(state: dict, path: Path) -> None:
    """Write ``state`` durably and atomically (temp file, fsync, rename)."""
    with atomic_target(path, durable=True) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    """Load with ``weights_only=True``; a broken file raises :class:`TrainError`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling, zip and EOF errors all mean "corrupt"
        raise TrainError(f"checkpoint is corrupt or unreadable ({type(exc).__name__}); "
                         f"delete it or use --force to start over", path=str(path)) from None
    missing = {"model", "optimizer", "epoch", "rows"} - set(state if isinstance(state, dict) else ())
    if missing:
        raise TrainError(f"checkpoint lacks {', '.join(sorted(missing))}; delete it or use "
                         f"--force to start over", path=str(path))
    return state


def format_row(row: list) -> str:
    return ",".join(str(int(v)) if i == 0 else f"{v:.7g}" for i, v in enumerate(row))


def append_row(path: Path, row: list) -> None:
    """Append one CSV line and fsync it before returning. A write the disk
    refuses (full) takes back what it wrote, so no half line is left, and is
    an :class:`~histkit.errors.OutputError`: run the same command again to
    resume from the last whole epoch."""
    data = (format_row(row) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            refused = cannot_write(exc, path, then="the epoch's row was not kept; run the "
                                                   "same command again to resume")
            if refused is None:
                raise
            raise refused from None
    finally:
        os.close(fd)


def write_history(path: Path, rows: list[list]) -> None:
    """Replace the CSV durably and atomically with the header and ``rows``."""
    text = ",".join(COLUMNS) + "\n" + "".join(format_row(r) + "\n" for r in rows)
    write_atomic(path, text.encode("utf-8"), durable=True)


def read_rows(path: Path) -> list[list[float]]:
    """Complete rows of a history CSV this trainer wrote (a partial last line is dropped)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if not lines or lines[0].split(",") != list(COLUMNS):
        raise TrainError(f"history header is not the trainer's ({','.join(COLUMNS)}); "
                         f"use --force to overwrite it", path=str(path))
    rows = []
    for line in lines[1:-1]:  # the last piece is "" after a final newline, else partial
        cells = line.split(",")
        if len(cells) == len(COLUMNS):
            rows.append([float(c) for c in cells])
    return rows


def remove_stale_temps(*paths: Path) -> None:
    """Delete temp files a killed writer left beside ``paths``."""
    for path in paths:
        remove_temps(path)
