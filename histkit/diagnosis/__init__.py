"""Diagnosis: did a run fail, and why.

- :mod:`.engine`: :func:`diagnose`, every chosen rule over every run;
- :mod:`.registry`: the rule contract and :data:`RULES`; :mod:`.rules`: one
  module per rule (its doc, thresholds and advice beside its check);
- :mod:`.features`: what the history rules read, computed once;
  :mod:`.probe_features`: what the probe rules read;
- :mod:`.thresholds`: every rule's numbers; :mod:`.summary`: one line per run
  (:func:`verdicts`).

Names are imported from their modules when first asked for, so that the
command line can list the rules (:data:`.registry.ORDER`) without polars.
"""

from __future__ import annotations

from ..lazy import exports

#: public name -> the module of this package that holds it
_HOMES = {
    "diagnose": "engine", "RULES": "engine", "Rule": "registry", "SEVERITIES": "registry",
    "FINDING_COLUMNS": "registry", "ORDER": "registry", "explain": "engine",
    "Thresholds": "thresholds", "THRESHOLDS": "thresholds", "verdicts": "summary",
    "VERDICTS": "summary", "series_features": "features", "infer_classes": "features",
    "double_softmax_floor": "features", "probe_findings": "engine", "PROBE_RULES": "engine",
}
__all__ = list(_HOMES)


__getattr__ = exports(__name__, _HOMES)
