"""Which reader a path is for, and the expansion of directories.

A *locator* names one history: a file, a run directory (TensorBoard,
MLflow), or ``<store>.db::<run id>`` for one run of an MLflow SQLite store.
:func:`find` expands directories into locators; :func:`read` reads one;
:func:`detect` says which source it is, by content and not only by name.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import polars as pl

from ..errors import HistoryError
from . import SOURCES, check_source
from . import mlflow as _mlflow
from . import tensorboard as _tb
from .csvtext import peek_header
from .fastai import is_fastai_header
from .lightning import is_lightning_header

__all__ = ["read", "detect", "find", "run_name", "fingerprint", "csv_source"]

_GZIP, _RDS = b"\x1f\x8b", (b"RDX", b"RDA", b"X\n", b"A\n")
_HEAD = 65536


def csv_source(names: list[str]) -> str:
    """Which CSV source a header is: lightning, fastai or keras."""
    if is_lightning_header(names):
        return "lightning"
    if is_fastai_header(names):
        return "fastai"
    return "keras"


def _dir_source(p: Path) -> str | None:
    if _tb.event_files(p) or _tb.child_runs(p):
        return "tensorboard"
    if _mlflow.is_run_dir(p):
        return "mlflow"
    return None


def detect(locator: str, head: bytes | None = None) -> str:
    """The source of a locator, by its content (and name where content is
    ambiguous); ``head`` is the start of the file when the caller has read it."""
    if _mlflow.SEP in locator:
        return "mlflow"
    p = Path(locator)
    if p.is_dir():
        found = _dir_source(p)
        if found is None:
            raise HistoryError("is a directory with no history in it (expected a history "
                               "file, a TensorBoard log directory or an MLflow run "
                               "directory)", path=locator)
        return found
    head = _read(p, _HEAD) if head is None else head[:_HEAD]
    if _tb.is_event_file(p) or _tb.looks_like_events(head):
        return "tensorboard"
    if head.startswith(_mlflow.SQLITE_MAGIC):
        return "mlflow"
    if p.suffix.lower() == ".rds" or head.startswith(_GZIP) or head.startswith(_RDS):
        return "rds"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "transformers" if b'"log_history"' in head or _is_state(p) else "keras"
    names = peek_header(head)
    return csv_source(names) if names else "keras"


def _is_state(p: Path) -> bool:
    return p.name == "trainer_state.json"


def _read(p: Path, limit: int | None = None) -> bytes:
    """The file's bytes (the first ``limit`` of them), or one clear error."""
    try:
        if limit is None:
            return p.read_bytes()
        with open(p, "rb") as fh:
            return fh.read(limit)
    except FileNotFoundError:
        raise HistoryError("no such file", path=str(p)) from None
    except IsADirectoryError:
        raise HistoryError("is a directory, not a history file", path=str(p)) from None
    except OSError as exc:
        raise HistoryError(f"cannot read: {exc.strerror or exc}", path=str(p)) from None


def read(locator: str | os.PathLike, source: str | None = None, *,
         data: bytes | None = None) -> pl.DataFrame:
    """The wide table of one history; ``source`` forces a reader."""
    locator = str(locator)
    source = check_source(source) or detect(locator, data)
    if source == "tensorboard":
        return _tb.read(locator, data)
    if source == "mlflow":
        return _read_mlflow(locator)
    if source == "rds":
        from ..rbridge import read_rds_history

        return read_rds_history(locator)
    p = Path(locator)
    if p.is_dir():
        raise HistoryError(f"is a directory; the {source} reader needs a file", path=locator)
    data = _read(p) if data is None else data
    if source == "transformers":
        from .transformers import read as read_state

        return read_state(locator, data)
    if source == "lightning":
        from .lightning import read as read_lightning

        return read_lightning(locator, data)
    if source == "fastai":
        from .fastai import read as read_fastai

        return read_fastai(locator, data)
    from .keras import read_csv, read_json

    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return read_json(locator, data)
    return read_csv(locator, data)


def _read_mlflow(locator: str) -> pl.DataFrame:
    p = Path(locator)
    if _mlflow.SEP not in locator and p.is_file():
        runs = _mlflow.db_runs(locator)
        if len(runs) > 1:
            raise HistoryError(f"the store holds {len(runs)} runs; point at a directory "
                               f"holding it to read them all, or at one run as "
                               f"{runs[0]}", path=locator)
        locator = runs[0]
    elif p.is_dir() and not _mlflow.is_run_dir(p):
        raise HistoryError("not an MLflow run directory (no meta.yaml and metrics/)",
                           path=locator)
    return _mlflow.read(locator)


# ---------------------------------------------------------------------------
# directories -> locators

_TEXT_HISTORIES = re.compile(r"(^|[_.-])history([_.-]|$)", re.I)


def find(paths, *, problems: list | None = None) -> list[str]:
    """Expand files and directories into locators of every history under them.

    In a directory: CSV files (Keras, histkit, Lightning, fastai), Keras
    ``*history*.json`` dumps, ``trainer_state.json`` (the output directory's
    own, else its latest ``checkpoint-N``), TensorBoard run directories
    (``add_scalars`` children join their parent), MLflow run directories and
    each run of an ``mlflow.db``. A path that does not exist, or a directory
    with no history, raises :class:`HistoryError`, or is appended to
    ``problems`` so the other paths are still expanded.
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
            else:
                raise HistoryError("no such file or directory", path=str(p))
        except HistoryError as exc:
            if problems is None:
                raise
            problems.append(exc)
    return list(dict.fromkeys(out))


def _in_directory(root: Path, problems) -> list[str]:
    # one walk lists every directory; what TensorBoard's child runs need of
    # their subdirectories comes from that listing, not from a second scan
    walked: list[tuple[str, list[str], list[str], bool]] = []
    events: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        subdirs = list(dirnames)
        dirnames[:] = sorted(n for n in dirnames if n != ".trash")
        run_dir = _mlflow.is_run_dir(Path(dirpath))
        if run_dir:
            dirnames.clear()
        events[dirpath] = sorted(n for n in filenames if n.startswith(_tb.PREFIX))
        walked.append((dirpath, subdirs, [] if run_dir else sorted(filenames), run_dir))

    def event_files(d: Path) -> list[Path]:
        names = events.get(str(d))
        return _tb.event_files(d) if names is None else [d / n for n in names]

    out: list[str] = []
    states: dict[Path, list[Path]] = {}
    children: set[Path] = set()
    for dirpath, subdirs, filenames, run_dir in walked:
        d = Path(dirpath)
        if run_dir:
            out.append(dirpath)
            continue
        if d not in children:
            kids = _tb.child_runs(d, event_files, subdirs)
            children.update(child for child, _ in kids)
            if kids or events[dirpath]:
                out.append(dirpath)
        folder = os.path.join(dirpath, "")
        for name in filenames:
            low = name.lower()
            if low.endswith(".csv"):  # a sweep's 100,000 files: strings, not Paths
                out.append(folder + name)
            elif low == "trainer_state.json":
                states.setdefault(_output_dir(d), []).append(d / name)
            elif low.endswith(".json") and _TEXT_HISTORIES.search(name[:-5]):
                out.append(folder + name)
            elif low.endswith(".db") and _is_sqlite(d / name):
                try:
                    out += _mlflow.db_runs(str(d / name))
                except HistoryError as exc:
                    if problems is None:
                        raise
                    problems.append(exc)
    for files in states.values():
        out.append(str(_latest_state(files)))
    return out


def _is_sqlite(f: Path) -> bool:
    try:
        return _read(f, len(_mlflow.SQLITE_MAGIC)) == _mlflow.SQLITE_MAGIC
    except HistoryError:
        return False


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _output_dir(d: Path) -> Path:
    return d.parent if _CHECKPOINT.match(d.name) else d


def _latest_state(files: list[Path]) -> Path:
    """The output directory's own trainer_state.json, else its latest checkpoint's."""
    def rank(f: Path):
        m = _CHECKPOINT.match(f.parent.name)
        return (0, int(m.group(1))) if m else (1, 0)
    return max(files, key=rank)


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
    caller knows it (it spares a ``stat`` per file)."""
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
