"""TensorBoard event files (``events.out.tfevents.*``) and log directories.

What MONAI, Lightning's default logger, Keras' TensorBoard callback and
``torch.utils.tensorboard.SummaryWriter`` write. An event file is a TFRecord
stream of ``Event`` protocol buffers; histkit reads the records itself (a
12-byte frame, the length's checksum verified) and decodes them with
tensorboard's own ``Event`` message, keeping scalar values only (old-style
``simple_value`` and new-style scalar tensors). Each record's payload is
checked against its CRC-32C: a record that fails it (a flipped bit) is
skipped with a warning naming the file and its offset, never read as a
value.

A run is a directory of event files. Keras' TensorBoard callback writes
``train/`` and ``validation/`` children, and ``SummaryWriter.add_scalars(main,
{k: v})`` a child ``<main>_<k>/`` per key; those children belong to their
parent's run (:func:`child_runs`).
Tags are mapped like any series name (``loss/train``, ``Loss/validation``,
``train/loss``, ``val_loss``); Lightning's ``hp_metric`` placeholder is left
out. Steps become epochs through an ``epoch``
scalar where one was logged (Lightning logs it), else the step is the epoch.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import polars as pl

from ..errors import HistkitWarning, HistoryError, listed
from .contract import Found, read_bytes
from .series import by_training

__all__ = ["detect", "read", "find", "is_event_file", "looks_like_events", "event_files",
           "child_runs", "scalars", "PREFIX"]

PREFIX = "events.out.tfevents"
_PIP = "pip install 'histkit[tensorboard]'"


def is_event_file(path: str | os.PathLike) -> bool:
    return Path(path).name.startswith(PREFIX)


def detect(probe) -> bool:
    """An event file (by name or by its first record's frame), or a run
    directory: event files in it, or children that belong to its run."""
    if probe.store:
        return False
    if probe.is_dir:
        return bool(event_files(probe.path) or child_runs(probe.path))
    return is_event_file(probe.path) or looks_like_events(probe.head)


def find(folder) -> list:
    """The folder itself when it is a run directory, unless it is a child of
    a run found above it (``add_scalars`` and Keras' train/ validation/)."""
    tree = folder.tree
    children = tree.notes.setdefault(__name__, set())
    if folder.path in children:
        return []

    def events(d: Path) -> list[Path]:  # from the walk's listing, not another scan
        names = tree.files(d)
        return event_files(d) if names is None else [d / n for n in names
                                                      if n.startswith(PREFIX)]

    kids = child_runs(folder.path, events, folder.subdirs)
    children.update(child for child, _ in kids)
    if kids or any(n.startswith(PREFIX) for n in folder.files):
        return [Found(folder.dirpath)]
    return []


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def _masked_crc(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC[(c ^ b) & 0xFF] ^ (c >> 8)
    c ^= 0xFFFFFFFF
    return _mask(c)


def _mask(c: int) -> int:
    """TFRecord's masking of a CRC-32C."""
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _payload_crc():
    """The masked CRC-32C of a record's payload: google-crc32c's C code, else
    the table above (the same values; on 1 MiB here 0.086 s against 0.11 ms)."""
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - the tensorboard extra installs it
        return _masked_crc
    value = google_crc32c.value
    return lambda data: _mask(value(data))


def looks_like_events(head: bytes) -> bool:
    """True when ``head`` starts with a TFRecord frame whose length checksum holds."""
    if len(head) < 12:
        return False
    return struct.unpack("<I", head[8:12])[0] == _masked_crc(head[:8])


def _event_class(path: str):
    try:
        from tensorboard.compat.proto.event_pb2 import Event
    except ImportError:
        raise HistoryError(f"reading TensorBoard event files needs the tensorboard package: "
                           f"{_PIP}", path=path) from None
    return Event


def _first_tag(path: Path) -> str | None:
    """The tag of the first scalar in an event file (a cheap look), or None."""
    try:
        data = read_bytes(path, 1 << 16)
        return next(iter(scalars(str(path), data, first=True)), ("",))[0] or None
    except (HistoryError, OSError):
        return None


def scalars(path: str, data: bytes | None = None, *,
            first: bool = False) -> list[tuple[str, int, float]]:
    """``(tag, step, value)`` of every scalar in one event file, in file order
    (``first``: stop at the first scalar, and at the end of a partial read)."""
    Event = _event_class(path)
    from google.protobuf.message import DecodeError

    if data is None:
        data = read_bytes(Path(path))
    if not data:
        raise HistoryError("empty event file (the writer never flushed?)", path=path)
    out: list[tuple[str, int, float]] = []
    event = Event()
    crc = _payload_crc()
    bad: list[int] = []
    pos, n = 0, len(data)
    while pos < n:
        if n - pos < 12:
            if first:
                break
            raise _truncated(path, pos, 12, n - pos)
        head = data[pos:pos + 12]
        if not looks_like_events(head):
            what = "not a TensorBoard event file" if pos == 0 else "corrupt event file"
            raise HistoryError(f"{what}: bad record frame at byte {pos}", path=path)
        length = struct.unpack("<Q", head[:8])[0]
        end = pos + 12 + length + 4
        if end > n:
            if first:
                break
            raise _truncated(path, pos, 12 + length + 4, n - pos)
        payload = data[pos + 12:pos + 12 + length]
        if struct.unpack("<I", data[end - 4:end])[0] != crc(payload):
            bad.append(pos)  # a flipped bit: no value of it can be trusted
            pos = end
            continue
        try:
            event.ParseFromString(payload)
        except DecodeError:
            raise HistoryError(f"corrupt event file: the record at byte {pos} is not an "
                               "Event", path=path) from None
        if event.HasField("summary"):
            for v in event.summary.value:
                value = _scalar(v)
                if value is not None:
                    out.append((v.tag, event.step, value))
            if first and out:
                break
        pos = end
    if bad:
        warnings.warn(f"{path}: {len(bad)} record(s) fail their checksum (at byte "
                      f"{listed(bad)}): "
                      "skipped (a damaged file?)", HistkitWarning, stacklevel=3)
    return out


def _truncated(path, pos, need, have):
    return HistoryError(f"truncated event file: the record at byte {pos} needs {need} bytes "
                        f"and {have} remain (a killed or still running writer?)", path=path)


def _scalar(v) -> float | None:
    kind = v.WhichOneof("value")
    if kind == "simple_value":
        return float(v.simple_value)
    if kind != "tensor" or v.metadata.plugin_data.plugin_name != "scalars":
        return None
    t = v.tensor
    if t.float_val:
        return float(t.float_val[0])
    if t.double_val:
        return float(t.double_val[0])
    if t.tensor_content and t.dtype in (1, 2):  # DT_FLOAT, DT_DOUBLE
        import numpy as np

        arr = np.frombuffer(t.tensor_content, dtype=np.float32 if t.dtype == 1 else np.float64)
        return float(arr[0]) if arr.size else None
    return None


def event_files(directory: Path) -> list[Path]:
    """The event files directly in ``directory``, oldest first (by name)."""
    try:  # scandir's entries know their type: no stat per file of a big directory
        with os.scandir(directory) as entries:
            return sorted(Path(e.path) for e in entries
                          if e.name.startswith(PREFIX) and e.is_file())
    except OSError:
        return []


_SPLITS = frozenset({"train", "training", "val", "valid", "validation", "eval",
                     "evaluation"})


def child_runs(directory: Path, events=event_files,
               subdirs: list[str] | None = None) -> list[tuple[Path, str]]:
    """``(child, suffix)`` of the subdirectories that belong to ``directory``'s
    run; each of the child's tags ``t`` becomes the series ``t/<suffix>``.
    ``events`` gives a directory's event files and ``subdirs`` names
    ``directory``'s subdirectories (a caller that listed the tree already
    passes its listing).

    Two writers make such children: Keras' TensorBoard callback (``train/``
    and ``validation/``, tags ``epoch_<m>``, read as ``<m>``) and
    ``add_scalars(main, {k: v})`` (``<main>_<k>/`` holding the one tag
    ``main``)."""
    out = []
    if subdirs is not None:
        children = [directory / n for n in sorted(subdirs)]
    else:
        try:
            with os.scandir(directory) as entries:
                children = sorted(Path(e.path) for e in entries if e.is_dir())
        except OSError:
            return out
    for child in children:
        files = events(child)
        if not files:
            continue
        if child.name.lower() in _SPLITS:
            out.append((child, child.name))
            continue
        tag = _first_tag(files[0])
        if tag is None:
            continue
        prefix = tag.replace("/", "_") + "_"
        if child.name.startswith(prefix) and len(child.name) > len(prefix):
            out.append((child, child.name[len(prefix):]))
    return out


def read(path: str, data: bytes | None = None) -> pl.DataFrame:
    """One event file (``data``: its bytes, when already read), or a run
    directory with its ``add_scalars`` children, as the wide table."""
    p = Path(path)
    rows: list[tuple[str, int, float]] = []
    if p.is_dir():
        files = event_files(p)
        children = child_runs(p)
        if not files and not children:
            raise HistoryError("no events.out.tfevents.* file in this directory", path=path)
        for f in files:
            rows += scalars(str(f))
        for child, suffix in children:
            split = child.name.lower() in _SPLITS
            for f in event_files(child):
                rows += [(f"{tag.removeprefix('epoch_') if split else tag}/{suffix}", step, value)
                         for tag, step, value in scalars(str(f))]
    else:
        rows = scalars(path, data)
    if not rows:
        raise HistoryError("the event file holds no scalar (only graphs, images or "
                           "histograms?)", path=path)
    rows = [r for r in rows if r[0] != "hp_metric"]
    if not rows:
        raise HistoryError("the event file holds no scalar but Lightning's hp_metric",
                           path=path)
    tags, steps, values = map(list, zip(*rows))
    return by_training(tags, steps, values, path, what="scalar")
