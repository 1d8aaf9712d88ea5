"""Where histories are: a tree walked once, each reader finding its own in
each directory (``find(folder)``); what a history is called; and whether it
changed.

A *locator* names one history: a file, a run directory (TensorBoard,
MLflow), or ``<store>.db::<run id>`` for one run of an MLflow SQLite store.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..errors import HistoryError
from ..names import split_training
from . import mlflow as _mlflow
from . import tensorboard as _tb
from .contract import Folder, Found, Tree
from .registry import READERS, reader

__all__ = ["find_histories", "run_name", "fingerprint"]


def find_histories(paths, *, problems: list | None = None) -> list[str]:
    """Expand files and directories into locators of every history under them.

    In a directory: CSV files (Keras, histkit, Lightning, fastai), Keras
    ``*history*.json`` dumps, ``trainer_state.json`` (the output directory's
    own, else its latest ``checkpoint-N``), TensorBoard run directories
    (``add_scalars`` children join their parent), MLflow run directories and
    each run of an ``mlflow.db``: what each reader's ``find`` says; a path
    ``<log>#k`` names one training of a log that holds several. A path
    that does not exist, or a directory with no history, raises
    :class:`HistoryError`, or is appended to ``problems`` so the other paths
    are still expanded.
    """
    out: list[str] = []
    for path in paths:
        p = Path(path)
        try:
            if p.is_dir():
                found = _in_directory(p, problems)
                if not found:
                    raise HistoryError("directory holds no history (*.csv, TensorBoard "
                                       "events, trainer_state.json, MLflow runs)", path=str(p))
                out += found
            elif p.exists():
                out.append(str(p))
            elif _mlflow.SEP in str(path) and Path(str(path).rsplit(_mlflow.SEP, 1)[0]).is_file():
                out.append(str(path))
            elif split_training(str(path))[1] > 1 and Path(split_training(str(path))[0]).exists():
                out.append(str(path))  # one training of a log: x.csv#2
            else:
                raise HistoryError("no such file or directory", path=str(p))
        except HistoryError as exc:
            if problems is None:
                raise
            problems.append(exc)
    return list(dict.fromkeys(out))


def _in_directory(root: Path, problems) -> list[str]:
    """The locators under ``root``: one walk, then each reader's ``find`` per
    directory. A directory that a reader's ``whole(path)`` says is one
    history (an MLflow run) is that history: the walk does not go below it.
    A directory the walk cannot list is an error (in ``problems`` when
    given), so its runs are never missing without a word."""
    modules = [reader(name) for name in READERS]
    finders = [m.find for m in modules if hasattr(m, "find")]
    wholes = [m.whole for m in modules if hasattr(m, "whole")]
    tree = Tree()
    walked: list[tuple[str, list[str], bool]] = []
    unreadable: list[HistoryError] = []

    def cannot(exc: OSError) -> None:  # a directory the walk cannot list: never skipped silently
        unreadable.append(HistoryError(f"cannot read the directory: {exc.strerror or exc}",
                                       path=str(exc.filename or root)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=cannot):
        subdirs = list(dirnames)
        dirnames[:] = sorted(n for n in dirnames if n != ".trash")
        whole = any(is_whole(Path(dirpath)) for is_whole in wholes)
        if whole:
            dirnames.clear()
        tree.add(dirpath, dirnames, [] if whole else sorted(filenames))
        walked.append((dirpath, subdirs, whole))
    out: list[str] = []
    late: list[str] = []
    for dirpath, subdirs, whole in walked:
        if whole:
            out.append(dirpath)
            continue
        folder = Folder(dirpath, subdirs, tree.files(dirpath), tree)
        found: list[Found] = []
        for find in finders:
            try:
                found += find(folder)
            except HistoryError as exc:
                if problems is None:
                    raise
                problems.append(exc)
        found.sort(key=lambda f: f.name)  # the folder first, then its files by name
        out += [f.locator for f in found if not f.late]
        late += [f.locator for f in found if f.late]
    if unreadable:
        if problems is None or not walked:  # the root itself: one error, not two
            raise unreadable[0]
        problems += unreadable
    return out + late


# ---------------------------------------------------------------------------
# names and digests

_GENERIC_STEMS = re.compile(r"^(metrics|history|training(\.log)?|log|trainer_state|"
                            r"events\.out\.tfevents.*)$", re.I)
_GENERIC_DIRS = re.compile(r"^(checkpoint-\d+|lightning_logs|tb_logs|csv_logs|logs|runs|"
                           r"mlruns|metrics)$", re.I)
_VERSION = re.compile(r"^version_\d+$")


def run_name(locator: str, *, is_dir: bool | None = None) -> str:
    """A run's name: the file stem for histkit's and other named files; for a
    framework's fixed file names (``metrics.csv``, ``trainer_state.json``,
    event files) the directory's name, ``version_N`` prefixed by its
    experiment unless that is Lightning's default ``lightning_logs``; MLflow's
    own run name. ``is_dir`` is whether the locator is a directory, where the
    caller knows it (it spares a ``stat`` per file). The ``k``-th training
    of a log (``x.csv#2``, see :func:`histkit.names.split_training`) is the
    log's name with ``#k``."""
    if "#" in locator:
        base, k = split_training(locator)
        if k > 1:
            return f"{run_name(base, is_dir=is_dir)}#{k}"
    if is_dir is None:
        is_dir = os.path.isdir(locator)
    if not is_dir and _mlflow.SEP not in locator and not locator.endswith("/"):
        # a file, as nearly every history is: os.path, not pathlib, here (a
        # sweep names 100,000 of them); the same name as Path(locator).stem
        name = os.path.basename(locator)
        stem = os.path.splitext(name)[0]
        if not _GENERIC_STEMS.match(name if name.startswith(_tb.PREFIX) else stem):
            return stem
    p = Path(locator)
    if _mlflow.SEP in locator or (is_dir and _mlflow.is_run_dir(p)):
        try:
            return _mlflow.run_name(locator)
        except HistoryError:
            return p.name
    if is_dir or _GENERIC_STEMS.match(p.stem if not p.name.startswith(_tb.PREFIX)
                                      else p.name):
        d = p if is_dir else p.parent
        while _GENERIC_DIRS.match(d.name) and d.parent != d:
            d = d.parent
        if _VERSION.match(d.name) and d.parent.name and \
                d.parent.name.lower() != "lightning_logs":
            return f"{d.parent.name}_{d.name}"
        return d.name or p.stem
    return p.stem


def fingerprint(locator: str, digest: bytes | None = None) -> bytes:
    """Bytes that change whenever the history does (a content digest), for
    reports that re-render only what changed. ``digest``: the SHA-256 of the
    file's bytes where a reader already took it (:attr:`Batch.digests`), so
    the file is not read again."""
    if digest is not None:
        return digest + locator.encode()
    base, _ = split_training(locator)
    if base != locator:
        return fingerprint(base) + locator.encode()
    p = Path(locator)
    if _mlflow.SEP in locator:
        p = Path(locator.rsplit(_mlflow.SEP, 1)[0])
    if p.is_file():
        return hashlib.sha256(p.read_bytes()).digest() + locator.encode()
    h = hashlib.sha256(locator.encode())
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        h.update(str(f.relative_to(p)).encode() + b"\0")
        h.update(f.read_bytes())
    return h.digest()
