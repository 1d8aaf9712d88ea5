"""One reader per framework, and the dispatch that recognises which one a
path is for: every source yields the same wide table (``epoch``, then one
column per series, ``val_<m>`` for validation), so everything downstream is
source-blind.

This package's top imports nothing heavy (the CLI lists :data:`SOURCES` in
``--help``); :func:`read`, :func:`detect`, :func:`find`, :func:`run_name`,
:func:`fingerprint` and :func:`csv_source` live in :mod:`.registry`.
"""

from __future__ import annotations

import importlib

from ..errors import OptionError

__all__ = ["SOURCES", "check_source", "read", "detect", "find", "run_name", "fingerprint",
           "csv_source"]

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




def __getattr__(name: str):
    if name in __all__:
        value = getattr(importlib.import_module(f"{__name__}.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
