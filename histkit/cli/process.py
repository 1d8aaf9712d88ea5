"""Shortcuts the ``histkit`` program takes with its own process, never a
library user's: a command's libraries imported with the cycle collector
paused and then frozen (:func:`importing`), and a quick command left without
the interpreter's teardown (:func:`leave`). Their gains are measured by
bench/plot_speed.py (figures in bench/README.md)."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from contextlib import contextmanager

__all__ = ["QUICK", "PROGRAM", "importing", "leave"]

# commands that read, write whole files and are done in a second or two
QUICK = frozenset({"compare", "diagnose", "plot", "runs", "stops"})


class _Program:
    """Whether this process is the ``histkit`` program (set by its entry
    point), not a process that calls ``main()`` (tests, scripts)."""

    on = False


PROGRAM = _Program()


@contextmanager
def importing():
    """Around a command's imports of its libraries, in the histkit program
    only: the cycle collector paused while polars, pandas, matplotlib and
    plotnine build their objects, then those objects frozen (``gc.freeze``)
    so that the collections of the command's own work skip them. A process
    that calls ``main()`` keeps its collector as it is: freezing there would
    keep its garbage for good."""
    if not PROGRAM.on or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def leave(code, command: str | None):
    """Exit the histkit program with ``code``. After a quick command
    (:data:`QUICK`) with no other thread alive, skip the interpreter's
    teardown, which frees the thousand modules of polars, pandas, matplotlib
    and plotnine one object at a time; exit handlers still run and the
    standard streams are flushed. Otherwise Python's own exit."""
    if command not in QUICK or threading.active_count() > 1:
        gc.unfreeze()  # Python's own exit finalizes only what the collector may see
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with the stream closed (>&-)
                stream.flush()
        except (OSError, ValueError):  # the reader left (histkit runs | head -1)
            pass
    os._exit(code)
