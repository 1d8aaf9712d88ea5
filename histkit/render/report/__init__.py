"""The study report: one browsable, self-contained report over every run."""

from .build import *  # noqa: F401,F403
from .build import __all__  # noqa: F401
