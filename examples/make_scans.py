"""Write examples/scans/: 12 slices of histkit's fat phantom as PNG images and
label masks (0 background, 1 VAT, 2 SAT), the layout `histkit train --data`
reads. The README's and --help's examples train on it in seconds.

    python examples/make_scans.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from histkit.train.phantom import phantoms

HERE = Path(__file__).resolve().parent / "scans"


def main(n: int = 12, size: int = 64) -> None:
    x, y = phantoms(n, size, size, seed=11)
    for sub in ("images", "masks"):
        (HERE / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.clip(x[i, 0] * 255, 0, 255).astype(np.uint8)
        Image.fromarray(img).save(HERE / "images" / f"slice{i:02d}.png", optimize=True)
        Image.fromarray(y[i].argmax(0).astype(np.uint8)).save(
            HERE / "masks" / f"slice{i:02d}.png", optimize=True)


if __name__ == "__main__":
    main()
