"""Hugging Face ``Trainer`` state (``trainer_state.json``).

``log_history`` is a list of log entries: training ones (``loss``,
``learning_rate``, ``grad_norm``) every ``logging_steps``, evaluation ones
(``eval_loss``, ``eval_<metric>``, ``eval_runtime``...) at each evaluation,
each with a fractional ``epoch`` and a ``step``. An entry belongs to the
epoch it falls in (the fraction rounded up: 0.25 and 1.0 are epoch 1);
several entries of one epoch are reduced to their mean, with a warning. The
closing summary entry (``train_runtime``, ``train_loss`` over the whole run)
is not a per-epoch value and is left out.
"""

from __future__ import annotations

import math
import re

import polars as pl

from ..errors import HistoryError
from .contract import Found, load_json
from .series import per_epoch

__all__ = ["detect", "read", "find", "READS_FILES"]

READS_FILES = True
STATE = "trainer_state.json"
_SUMMARY = "train_runtime"
_NOT_SERIES = {"epoch", "step", "total_flos"}
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def detect(probe) -> bool:
    """JSON with a ``log_history``, or a file named ``trainer_state.json``."""
    return (not probe.is_dir and probe.json
            and (b'"log_history"' in probe.head or probe.path.name == STATE))


def find(folder) -> list[Found]:
    """A Trainer output directory's ``trainer_state.json``, else the one of
    its latest ``checkpoint-N``: one history per output directory, listed
    after the walk."""
    if STATE not in (name.lower() for name in folder.files):
        return []
    state = next(n for n in folder.files if n.lower() == STATE)
    here = folder.path
    m = _CHECKPOINT.match(here.name)
    if m:
        parent = folder.tree.files(here.parent) or []
        if STATE in (n.lower() for n in parent):
            return []  # the output directory's own state is the run's
        others = [int(c.group(1)) for d in folder.tree.subdirs(here.parent)
                  if (c := _CHECKPOINT.match(d))
                  and STATE in (n.lower() for n in folder.tree.files(here.parent / d) or [])]
        if int(m.group(1)) < max(others, default=-1):
            return []
    return [Found(str(here / state), state, late=True)]


def read(path: str, data: bytes) -> pl.DataFrame:
    """A ``trainer_state.json`` as the wide table (1-based epochs)."""
    obj = load_json(data, path)
    logs = obj.get("log_history") if isinstance(obj, dict) else None
    if not isinstance(logs, list):
        raise HistoryError("no 'log_history' list: not a Hugging Face trainer_state.json",
                           path=path)
    series, epochs, values = [], [], []
    for i, entry in enumerate(logs):
        if not isinstance(entry, dict):
            raise HistoryError(f"log_history[{i}] is not an object", path=path)
        if _SUMMARY in entry:
            continue
        epoch = entry.get("epoch")
        if not isinstance(epoch, (int, float)) or isinstance(epoch, bool) \
                or not math.isfinite(epoch) or epoch < 0 or epoch > 2**53:
            raise HistoryError(f"log_history[{i}] has no usable 'epoch' (got {epoch!r})",
                               path=path)
        for key, v in entry.items():
            if key in _NOT_SERIES or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            series.append(key)
            epochs.append(max(1, math.ceil(epoch - 1e-9)))
            values.append(float(v) if abs(v) < 2**1023 else math.copysign(math.inf, v))
    if not series:
        raise HistoryError("log_history holds no logged values (did training log any step?)",
                           path=path)
    return per_epoch(series, epochs, values, path)
