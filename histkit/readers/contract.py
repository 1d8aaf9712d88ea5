"""The types every reader works with: what detection looks at
(:class:`Probe`), what a walk hands a reader's ``find`` (:class:`Folder`)
and what it gives back (:class:`Found`). See :mod:`.registry` for the
contract itself.

A *locator* names one history: a file, a run directory (TensorBoard,
MLflow), or ``<store>.db::<run id>`` (:data:`SEP`) for one run of an MLflow
SQLite store.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from pathlib import Path

from ..errors import HistoryError
from .csvtext import peek_header

__all__ = ["SEP", "Probe", "Found", "Folder", "Tree", "read_bytes", "load_json", "max_bytes",
           "not_regular", "too_big", "MAX_BYTES"]

SEP = "::"  # mlflow.db::<run id>: one run of a SQLite store
_HEAD = 65536


class Probe:
    """What detection looks at: the locator, whether it is a directory, and
    the start of a file (read once, when a reader first asks)."""

    def __init__(self, locator: str, head: bytes | None = None):
        self.locator = locator
        self.path = Path(locator)
        self.store = SEP in locator  # one run of an MLflow SQLite store
        self.is_dir = not self.store and self.path.is_dir()
        self._head = None if head is None else head[:_HEAD]

    @property
    def head(self) -> bytes:
        """The first 64 KiB of a file (empty for a directory or store run)."""
        if self._head is None:
            self._head = (b"" if self.is_dir or self.store
                          else read_bytes(self.path, _HEAD))
        return self._head

    @functools.cached_property
    def json(self) -> bool:
        """Whether the file's text starts as JSON does (an object or a list)."""
        return self.head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")

    @functools.cached_property
    def header(self) -> list[str] | None:
        """The column names of the first line of a CSV file, else None."""
        return None if self.json else peek_header(self.head)


#: the largest history read unless ``HISTKIT_MAX_BYTES`` says otherwise (1 GiB:
#: a CSV of a million epochs of 100 series is about 1 GB)
MAX_BYTES = 1 << 30


def max_bytes() -> int:
    """The size bound of a history: ``HISTKIT_MAX_BYTES`` (bytes), else
    :data:`MAX_BYTES`."""
    raw = os.environ.get("HISTKIT_MAX_BYTES", "").strip()
    if not raw:
        return MAX_BYTES
    try:
        value = int(float(raw))
    except ValueError:
        raise HistoryError(f"HISTKIT_MAX_BYTES={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise HistoryError(f"HISTKIT_MAX_BYTES={raw!r} must be positive")
    return value


def not_regular(mode: int) -> str | None:
    """What a file that is not a regular file is (``a FIFO``...), or None."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    for test, what in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def too_big(size: int, path: str) -> HistoryError:
    cap = max_bytes()
    return HistoryError(f"is {size:,} bytes, more than the {cap:,} a history may have; set "
                        "HISTKIT_MAX_BYTES to read it", path=path)


def load_json(data: bytes, path: str):
    """The JSON of a history file, or one clear error (not UTF-8, not JSON,
    or nested deeper than Python's parser goes)."""
    import json

    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HistoryError(f"not valid JSON: {exc}", path=path) from None
    except RecursionError:
        raise HistoryError("JSON nested too deep to be a history", path=path) from None


def read_bytes(p: Path, limit: int | None = None) -> bytes:
    """A file's bytes (the first ``limit`` of them), or one clear error. Only
    a regular file is read (a FIFO would block, ``/dev/zero`` never ends),
    and no more than :func:`max_bytes` of it."""
    path = str(p)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # NONBLOCK: a FIFO must not hang
    except FileNotFoundError:
        raise HistoryError("no such file", path=path) from None
    except IsADirectoryError:
        raise HistoryError("is a directory, not a history file", path=path) from None
    except OSError as exc:
        raise HistoryError(f"cannot read: {exc.strerror or exc}", path=path) from None
    try:
        info = os.fstat(fd)
        kind = not_regular(info.st_mode)
        if kind == "a directory":
            raise HistoryError("is a directory, not a history file", path=path)
        if kind is not None:
            raise HistoryError(f"is {kind}, not a regular file; histkit reads history files",
                               path=path)
        cap = max_bytes()
        if limit is None and info.st_size > cap:
            raise too_big(info.st_size, path)
        want = min(limit, cap + 1) if limit is not None else cap + 1
        parts, got = [], 0
        while got < want:
            chunk = os.read(fd, min(want - got, 1 << 24))
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        if limit is None and got > cap:  # it grew while read
            raise too_big(got, path)
        return b"".join(parts)
    except OSError as exc:
        raise HistoryError(f"cannot read: {exc.strerror or exc}", path=path) from None
    finally:
        os.close(fd)


@dataclasses.dataclass(frozen=True)
class Found:
    """A history a reader found in a folder. ``name`` is its file's name (the
    order within the folder; empty for the folder itself, which comes
    first); ``late`` lists it after the whole walk."""

    locator: str
    name: str = ""
    late: bool = False


@dataclasses.dataclass
class Folder:
    """One directory of a walked tree, as a reader's ``find`` sees it:
    ``dirpath`` as the walk spelled it, its subdirectories and (sorted) file
    names, and the whole walk (``tree``) for what a reader needs of its
    neighbours."""

    dirpath: str
    subdirs: list[str]
    files: list[str]
    tree: Tree

    @property
    def path(self) -> Path:
        return Path(self.dirpath)

    @property
    def prefix(self) -> str:
        """``dirpath`` with a separator: a sweep's 100,000 files are joined as
        strings, not Paths."""
        return os.path.join(self.dirpath, "")


class Tree:
    """The listing of one walk: each directory's file names and the
    subdirectories walked, and a place where a reader keeps what it learnt
    of the tree (``notes[module name]``)."""

    def __init__(self):
        self._files: dict[str, list[str]] = {}
        self._dirs: dict[str, list[str]] = {}
        self.notes: dict[str, object] = {}

    def add(self, dirpath: str, subdirs: list[str], files: list[str]) -> None:
        key = os.path.normpath(dirpath)
        self._files[key], self._dirs[key] = files, subdirs

    def files(self, directory: str | os.PathLike) -> list[str] | None:
        """The (sorted) file names of a walked directory; None where the walk
        did not go."""
        return self._files.get(os.path.normpath(directory))

    def subdirs(self, directory: str | os.PathLike) -> list[str]:
        """The subdirectories the walk went into (none where it did not go)."""
        return self._dirs.get(os.path.normpath(directory), [])
