"""histkit: training histories of segmentation networks turned into answers.

The public API is imported lazily (PEP 562) so that ``histkit --help`` does not
pay for polars, pandas or plotnine.
"""

from __future__ import annotations

from .lazy import exports

__version__ = "0.1.0"

_API = {
    "RunName": "names", "parse_run_name": "names", "format_run_name": "names",
    "run_from_path": "names", "loss_weights": "names",
    "read_history": "readers", "read_histories": "readers",
    "read_chunks": "readers", "to_history": "readers",
    "find_histories": "readers", "Batch": "readers", "runs": "analysis.runs",
    "early_stoppings": "analysis.stops", "keras_stop": "analysis.stops",
    "KerasStop": "analysis.stops", "is_loss_like": "metrics",
    "load_labels": "labels", "diagnose": "diagnosis", "read_probes": "probes",
    "compare_runs": "analysis.compare",
    "plot_history": "render.plot", "plot_overlay": "render.plot", "save_plot": "render.plot",
    "HistkitError": "errors", "HistoryError": "errors", "RunNameError": "errors",
    "LabelsError": "errors", "OptionError": "errors", "HistkitWarning": "errors",
}

__all__ = sorted(_API) + ["__version__"]


__getattr__ = exports(__name__, _API)


def __dir__():
    return __all__
