"""Reading the probes ``histkit train`` writes beside a history.

``run/.../<run>.csv`` has its probes in ``run/.../<run>.probes/``: one Parquet
file per table and epoch (``scalars/0003.parquet``) and PNG images
(``images/0003_predictions.png``). What each table holds is described in
:mod:`histkit.probes.recorder`, which writes them.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import polars as pl

from ..errors import HistoryError
from ..names import split_training

__all__ = ["read_probes", "RunProbes", "probes_dir", "has_probes", "TABLES"]

TABLES = ("scalars", "histograms", "activations", "shares", "input")
_IMAGE = re.compile(r"^(\d{4})_(activation|gradient|predictions)(\d*)\.png$")


def probes_dir(history_path: str | os.PathLike) -> Path:
    """``run/.../<run>.csv`` -> ``run/.../<run>.probes``."""
    return Path(_probes_path(history_path))


def has_probes(history_path: str | os.PathLike) -> bool:
    """Whether the history has a probes directory (in plain strings, not
    Paths: a diagnosis asks this of every run of a sweep)."""
    return os.path.isdir(_probes_path(history_path))


def _probes_path(history_path: str | os.PathLike) -> str:
    """``<run>.probes`` beside the history; ``<run>#k.probes`` for the k-th
    training of a log (the log's probes are not those of a later training)."""
    path = os.fspath(history_path)
    if "#" in path:
        base, k = split_training(path)
        if k > 1:
            return f"{os.path.splitext(base)[0]}#{k}.probes"
    return os.path.splitext(path)[0] + ".probes"


@dataclasses.dataclass
class RunProbes:
    """The probes of one run, for the epochs its history has."""

    scalars: pl.DataFrame       # epoch, layer, weight_norm, grad_norm, update_ratio
    histograms: pl.DataFrame    # epoch, layer, kind (weight|grad), bin, lo, hi, count
    activations: pl.DataFrame   # epoch, block, mean, std, zeros, saturated
    shares: pl.DataFrame        # epoch, class, predicted, true
    images: pl.DataFrame        # epoch, kind (activation|gradient|predictions), index, path
    #: epoch, mean, std, min, p01, p50, p99, max of the fixed images (empty in runs
    #: trained before histkit probed its input)
    input: pl.DataFrame = dataclasses.field(default_factory=pl.DataFrame)


def read_probes(history: str | os.PathLike) -> RunProbes:
    """The probes beside a history CSV (or the ``.probes`` directory itself).

    Only the epochs the history has are kept: a run killed after writing an
    epoch's probes but before its row has them once the epoch is trained again.
    A run without probes raises :class:`HistoryError`.
    """
    from ..readers import read_history

    history = Path(history)
    if history.suffix == ".probes":
        history = history.with_suffix(".csv")
    folder = probes_dir(history)
    # os.path, not Path: a name too long to exist is "none", not an OSError
    exists, probed = os.path.exists(history), os.path.isdir(folder)
    if not exists and not probed:
        raise HistoryError("no such file", path=str(history))
    if not probed:
        raise HistoryError(f"no probes beside this history (expected {folder.name}/; "
                           f"histkit train writes them unless --no-probes)", path=str(history))
    epochs = read_history(history)["epoch"].to_list() if exists else None
    tables = {}
    for name in TABLES:
        files = sorted((folder / name).glob("*.parquet"))
        try:
            frame = (pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
                     if files else pl.DataFrame(schema={"epoch": pl.Int64}))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise HistoryError(f"unreadable probe table {name}: {exc}", path=str(folder)) from None
        tables[name] = frame
    rows = []
    for f in sorted((folder / "images").glob("*.png")):
        m = _IMAGE.match(f.name)
        if m:
            rows.append((int(m.group(1)), m.group(2), int(m.group(3) or 0), str(f)))
    tables["images"] = pl.DataFrame(rows, schema={"epoch": pl.Int64, "kind": pl.String,
                                                  "index": pl.Int64, "path": pl.String},
                                    orient="row")
    if epochs is not None:
        tables = {k: v.filter(pl.col("epoch").is_in(epochs)) for k, v in tables.items()}
    return RunProbes(**tables)
