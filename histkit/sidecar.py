"""The sidecar ``<run>.json`` beside a history: everything the name does not say.

``histkit train`` writes it when a run starts and again when it ends: every
setting of the run, the package versions, the device, and the start, resume
and end times. The trainer and the pipeline read it to refuse a run whose
file exists with other settings; the report shows it on the run's page. No
torch here: reading it is part of the core.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import HistoryError
from .names import split_training

__all__ = ["sidecar_path", "read_sidecar", "write_sidecar", "setting_differences",
           "flat_settings"]


def sidecar_path(history_path: str | os.PathLike) -> Path:
    """``run/.../<run>.csv`` -> ``run/.../<run>.json`` (``<run>#k.json`` for the
    k-th training of a log, whose settings may not be the log's)."""
    base, k = split_training(os.fspath(history_path))
    if k > 1:
        return Path(f"{os.path.splitext(base)[0]}#{k}.json")
    return Path(history_path).with_suffix(".json")


def read_sidecar(history_path: str | os.PathLike) -> dict | None:
    """The sidecar of a history, or None when it has none."""
    path = sidecar_path(history_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HistoryError(f"unreadable run sidecar: {exc}", path=str(path)) from None
    if not isinstance(data, dict):
        raise HistoryError("a run sidecar holds a JSON object", path=str(path))
    return data


def write_sidecar(history_path: str | os.PathLike, data: dict) -> Path:
    """Write the sidecar atomically and durably (it is part of the run)."""
    from .files import write_atomic

    text = json.dumps(data, indent=1, sort_keys=False, default=str) + "\n"
    return write_atomic(sidecar_path(history_path), text.encode("utf-8"), durable=True)


def flat_settings(record: dict) -> dict[str, str]:
    """A sidecar's record as ``{key: text}``, nested keys dotted
    (``device.name``), every value but text as its JSON: what a run page lists."""
    flat: dict[str, str] = {}

    def walk(prefix, v):
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), x)
        else:
            flat[prefix] = v if isinstance(v, str) else json.dumps(v)

    walk("", record)
    return flat


def setting_differences(recorded: dict, wanted: dict, keys) -> list[tuple[str, object, object]]:
    """``(key, recorded value, wanted value)`` for each of ``keys`` whose
    recorded value differs; keys a sidecar does not record are skipped."""
    return [(key, recorded[key], wanted.get(key)) for key in keys
            if key in recorded and _norm(recorded[key]) != _norm(wanted.get(key))]


def _norm(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else value
