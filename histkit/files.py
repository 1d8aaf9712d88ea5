"""The one atomic writer: a reader never sees a half-written output.

Also the one lock (:func:`locked`), which keeps two writers of one output
apart. Every file histkit writes (figures, reports, summaries, the trainer's
histories, checkpoints and probes) goes through :func:`atomic_target`: a
temporary file beside the target, renamed over it once complete. The file
gets the mode a plain ``open()`` would give (0644 under the usual umask 022),
so colleagues sharing a ``run/`` tree or a served report can read it.
``durable=True`` (the trainer) also fsyncs the file and its folder, so a
power cut cannot leave a renamed but empty file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
from pathlib import Path

from .errors import OutputError

__all__ = ["atomic_target", "write_atomic", "fsync_dir", "remove_temps", "remove_folder_temps",
           "cannot_write", "plain_name", "file_mode", "locked",
           "safe_name"]

_MODE: int | None = None
#: what a failed write of an output is, when it is the place, not the program
_CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                 errno.ENAMETOOLONG, errno.EFBIG}


def file_mode() -> int:
    """0666 less the process's umask: what ``open(path, "w")`` creates."""
    global _MODE
    if _MODE is None:
        mask = os.umask(0)  # reading the umask means setting it; set it back at once
        os.umask(mask)
        _MODE = 0o666 & ~mask
    return _MODE


def _temp_name(path: Path) -> tuple[str, str]:
    return f".{path.stem}.", f".tmp{path.suffix}"


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike, *, durable: bool = False):
    """Yield a temporary path beside ``path``; rename it over ``path`` only if
    the block succeeds (the suffix is kept so writers can pick a format). A
    write the place refuses (a full disk, a read-only folder) is an
    :class:`~histkit.errors.OutputError` naming ``path``."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix, suffix = _temp_name(path)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
        try:
            os.fchmod(fd, file_mode())
        finally:
            os.close(fd)
        yield Path(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except OSError as exc:
        refused = cannot_write(exc, path)
        if refused is None:
            raise
        raise refused from None
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_atomic(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_target(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make the renames in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temps(path: str | os.PathLike) -> None:
    """Delete the temporary files a killed writer of ``path`` left beside it."""
    path = Path(path)
    prefix, suffix = _temp_name(path)
    if path.parent.is_dir():
        for tmp in path.parent.glob(f"{prefix}{'?' * 8}{suffix}"):  # mkstemp's 8 characters
            tmp.unlink(missing_ok=True)


def cannot_write(exc: OSError, path: str | os.PathLike, *,
                 then: str = "nothing was left half-written") -> OutputError | None:
    """The :class:`~histkit.errors.OutputError` of a write the place refused
    (a full disk, a read-only folder, a file too large), naming ``path`` and
    saying what became of the output (``then``); None for any other OSError."""
    full = exc.errno == errno.ENOSPC or "os error 28" in str(exc)  # polars' Rust errors
    if exc.errno not in _CANNOT_WRITE and not full:
        return None
    reason = "no space left on device" if full else (exc.strerror or str(exc)).lower()
    return OutputError(f"cannot write it: {reason}; {then}", path=str(path))


_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def remove_folder_temps(folder: str | os.PathLike) -> int:
    """Delete every temporary file :func:`atomic_target` names in ``folder``
    (a killed writer's); only for a caller that holds the folder's lock, so
    no live writer's file is taken. Returns how many were removed."""
    removed = 0
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        with os.scandir(folder) as entries:
            for entry in entries:
                if _TEMP.match(entry.name) and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
    return removed


@contextlib.contextmanager
def locked(path: str | os.PathLike, *, wait: bool = True):
    """Hold an exclusive lock on ``path`` (created if missing; ``flock``, so
    the system drops it when the holder dies). ``wait=False`` raises
    BlockingIOError at once where another process holds it."""
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def safe_name(name: str, limit: int = 120) -> str:
    """A run name as a file name that is safe in any file system and in a
    URL: each run of other characters than letters, digits, ``.``, ``_`` and
    ``-`` becomes one ``_``, at most ``limit`` characters, ``run`` when
    nothing is left."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:limit].strip("._") or "run"


def plain_name(name: str) -> bool:
    """Whether ``name`` may name one folder under a root it must not leave:
    not empty, not hidden or ``.``/``..``, no path separator or NUL (a dataset
    or study name)."""
    return bool(name) and not name.startswith(".") and not any(ch in name for ch in "/\\\0")
