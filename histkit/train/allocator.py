"""Keep freed memory in the process instead of handing it back to the OS.

A training step allocates and frees the same large activations every time (one
2x24x192x384 fp32 tensor is 14 MB). glibc's malloc serves such blocks with
mmap and returns them on free, or trims the top of its heap, so the next step
takes the pages again as fresh zero-filled ones: 30-60 thousand minor page
faults per step of the attention UNet at 1x192x384. PyTorch's CPU tuning guide
swaps in jemalloc or TCMalloc for this; with glibc two ``mallopt`` settings do
the same. ``histkit train`` sets them for its own process only; a library call
of ``train()`` leaves the caller's process as it is.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 1 << 30  # blocks up to 1 GiB come from the heap
_TRIM_THRESHOLD = 2**31 - 1  # largest value mallopt takes: never trim in practice


def keep_freed_memory() -> bool:
    """Make glibc keep freed blocks for reuse; False (and nothing changed) off glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
