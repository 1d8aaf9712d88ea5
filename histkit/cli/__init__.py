"""The ``histkit`` command line: parse options, call the library, print.

:mod:`.app` is the program (the click group, errors, exit codes); each
command has a module of its own (:mod:`.plot`, :mod:`.stops`,
:mod:`.diagnose`, :mod:`.runs`, :mod:`.compare`, :mod:`.report`,
:mod:`.pipeline`, :mod:`.train`); :mod:`.options` holds the options they
share and :mod:`.output` what they print.
"""

from .app import main, run

__all__ = ["main", "run"]
