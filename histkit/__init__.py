"""histkit: training histories of segmentation networks turned into answers.

The public API is imported lazily (PEP 562) so that ``histkit --help`` does not
pay for polars, pandas or plotnine.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "RunName": "names", "parse_run_name": "names", "format_run_name": "names",
    "run_from_path": "names", "loss_weights": "names",
    "read_history": "history", "read_histories": "history", "read_chunks": "history",
    "to_history": "history",
    "find_histories": "history", "Batch": "history", "runs": "catalog",
    "early_stoppings": "stopping", "keras_stop": "stopping", "KerasStop": "stopping",
    "is_loss_like": "stopping",
    "load_labels": "labels", "diagnose": "diagnosis", "read_probes": "probes",
    "compare_runs": "compare",
    "plot_history": "plot", "plot_overlay": "plot", "save_plot": "plot",
    "HistkitError": "errors", "HistoryError": "errors", "RunNameError": "errors",
    "LabelsError": "errors", "OptionError": "errors", "HistkitWarning": "errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'histkit' has no attribute {name!r}")


def __dir__():
    return __all__
