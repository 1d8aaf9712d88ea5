"""Which reader a history is for, and reading it.

Every source is one module of this package with the same contract:

- ``detect(probe) -> bool``: whether the file or directory is this source's,
  from its content (:class:`~.contract.Probe`: the start of a file, its CSV header) and
  its name only where content is ambiguous;
- ``read(locator, data) -> wide table``: ``epoch`` then one column per
  series (``val_<m>`` for validation); ``data`` is the file's bytes when a
  caller read them already (None for a directory or a store's run);
- ``find(folder) -> [Found]`` (optional): the histories of this source in
  one directory of a walked tree (:mod:`.locate`); ``whole(path) -> bool``
  (optional): a directory that is one history, not to be walked into.

:data:`READERS` lists them in the order they are asked, most particular
first; Keras, whose CSV and JSON are the plainest shapes, takes every file
no other claims. A *locator* names one history: a file, a run directory
(TensorBoard, MLflow), or ``<store>.db::<run id>`` for one run of an MLflow
SQLite store.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import polars as pl

from ..errors import HistoryError
from ..names import split_training
from . import check_source
from .contract import Probe, read_bytes
from .series import TRAINING

__all__ = ["READERS", "reader", "detect", "read_history", "read_trainings", "one_training",
           "csv_source"]

#: the readers in the order :func:`detect` asks them
READERS = ("tensorboard", "mlflow", "rds", "transformers", "lightning", "fastai", "keras")


def reader(name: str):
    """The module of the source ``name`` (imported when first asked for)."""
    return importlib.import_module(f"{__package__}.{check_source(name)}")


def detect(locator: str, head: bytes | None = None) -> str:
    """The source of a locator, by its content (and name where content is
    ambiguous); ``head`` is the start of the file when the caller has read it."""
    probe = Probe(locator, head)
    probe.head  # a file that cannot be read is an error before any reader guesses
    for name in READERS:
        if reader(name).detect(probe):
            return name
    raise HistoryError("is a directory with no history in it (expected a history file, a "
                       "TensorBoard log directory or an MLflow run directory)", path=locator)


def csv_source(names: list[str]) -> str:
    """Which CSV source a header is: lightning, fastai or keras."""
    for name in ("lightning", "fastai"):
        if reader(name).is_header(names):
            return name
    return "keras"


def read_history(path: str | os.PathLike, *, source: str | None = None,
                 data: bytes | None = None) -> pl.DataFrame:
    """Read one history into a wide table: ``epoch`` then one column per series
    (``val_<m>`` is the validation series of ``<m>``, ``test_<m>`` a test or
    final value).

    ``path`` is a file or run directory of any source histkit reads (Keras
    CSVLogger or JSON, Lightning, TensorBoard, Hugging Face, fastai, MLflow,
    R keras RDS), recognised by its content; ``source`` forces one (see
    :data:`histkit.readers.SOURCES`); ``data`` is the file's bytes when the
    caller has them. Keeps the file's epoch numbers. A log that holds
    several trainings (its epochs or steps start again) gives its first;
    ``<path>#2`` names the second (:func:`histkit.read_histories` reads them
    all). Raises :class:`HistoryError` naming the file (and line and column
    where known); what a reader repaired or reduced is a
    :class:`HistkitWarning`.
    """
    locator, k = split_training(str(path))
    wide = read_trainings(locator, source=source, data=data)
    if TRAINING not in wide.columns:
        if k > 1:
            raise HistoryError(f"holds one training, so there is no #{k}", path=locator)
        return wide
    n = wide[TRAINING].max()
    if k > n:
        raise HistoryError(f"holds {n} trainings, so there is no #{k}", path=locator)
    return one_training(wide, k)


def one_training(wide: pl.DataFrame, k: int) -> pl.DataFrame:
    """The ``k``-th training of a wide table that holds several, without the
    columns it does not log."""
    part = wide.filter(pl.col(TRAINING) == k).drop(TRAINING)
    return part.select(c for c in part.columns
                       if c == "epoch" or part[c].null_count() < part.height)


def read_trainings(path: str | os.PathLike, *, source: str | None = None,
                   data: bytes | None = None) -> pl.DataFrame:
    """:func:`read_history` of every training of a log: the wide table with a
    ``__training`` column (1, 2, ...) where the log holds several."""
    locator = str(path)
    source = check_source(source) or detect(locator, data)
    module = reader(source)
    if getattr(module, "READS_FILES", False):
        p = Path(locator)
        if p.is_dir():
            raise HistoryError(f"is a directory; the {source} reader needs a file",
                               path=locator)
        data = read_bytes(p) if data is None else data
    wide = module.read(locator, data)
    if TRAINING in wide.columns and wide.columns[-1] != TRAINING:
        wide = wide.select(pl.exclude(TRAINING), TRAINING)
    return wide
