"""Probes: what happens inside the network, per epoch, beside the history.

:mod:`.read` reads them (no torch); :mod:`.recorder` records them during
training (torch).
"""

from .read import *  # noqa: F401,F403
from .read import __all__  # noqa: F401
