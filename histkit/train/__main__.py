"""``python -m histkit.train`` (and ``torchrun -m histkit.train``): ``histkit train``."""

import sys

from ..cli.app import main

main(["train", *sys.argv[1:]], prog_name="histkit")
