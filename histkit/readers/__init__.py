"""Readers: one module per framework behind one contract (:mod:`.registry`),
each giving the same wide table (``epoch``, then one column per series,
``val_<m>`` for validation), so everything downstream is source-blind.

- :mod:`.registry`: which reader a history is for, and reading one
  (:func:`read_history`); :mod:`.contract` the types readers share;
- :mod:`.locate`: the histories under a directory (:func:`find_histories`),
  a run's name, whether a history changed;
- :mod:`.batch`: many histories at once (:func:`read_histories`,
  :func:`read_chunks`);
- :mod:`.long`: the long table (:func:`to_history`);
- the readers: :mod:`.keras`, :mod:`.lightning`, :mod:`.tensorboard`,
  :mod:`.transformers`, :mod:`.fastai`, :mod:`.mlflow`, :mod:`.rds`, over
  :mod:`.csvtext` (the one CSV parser), :mod:`.series` (naming and reducing
  logged series) and :mod:`.wide` (the epoch column).

This package's top imports nothing heavy (the CLI lists :data:`SOURCES` in
``--help``); the functions below are imported from their modules when first
asked for.
"""

from __future__ import annotations

from ..lazy import exports

from ..errors import OptionError

#: public name -> the module of this package that holds it
_HOMES = {
    "read_history": "registry", "detect": "registry", "csv_source": "registry",
    "find_histories": "locate", "run_name": "locate", "fingerprint": "locate",
    "read_histories": "batch", "read_chunks": "batch", "Batch": "batch", "CHUNK": "batch",
    "owned": "batch",
    "to_history": "long", "as_polars": "long", "LONG_SCHEMA": "long",
}
__all__ = ["SOURCES", "check_source", *_HOMES]

#: source name -> what a user points at (the README's "What it reads" table)
SOURCES = {
    "keras": "a Keras CSVLogger file (histkit's trainer writes the same), or "
             "history.history dumped as JSON",
    "lightning": "lightning_logs/version_N/metrics.csv (CSVLogger)",
    "tensorboard": "a log directory or an events.out.tfevents.* file",
    "transformers": "trainer_state.json (Hugging Face Trainer)",
    "fastai": "history.csv (fastai CSVLogger)",
    "mlflow": "mlruns/ (file store), one run directory of it, or mlflow.db (SQLite store)",
    "rds": "an R keras history saved with saveRDS() (needs histkit[r])",
}


def check_source(source: str | None) -> str | None:
    """``source`` if it is a known name (or None), else :class:`OptionError`."""
    if source is not None and source not in SOURCES:
        raise OptionError(f"--source should be one of {', '.join(SOURCES)}; got {source!r}")
    return source


__getattr__ = exports(__name__, _HOMES)
