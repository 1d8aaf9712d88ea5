"""histkit's PyTorch trainer (extra ``[train]``).

Importing this package does not import torch; :func:`train` does.
"""

from __future__ import annotations

from .config import TrainConfig
from .errors import TrainError

__all__ = ["TrainConfig", "TrainError", "train"]


def train(config: TrainConfig | None = None, **options):
    """Train (or resume) one run and return the path of its history CSV."""
    from .loop import train as _train
    return _train(config, **options)
