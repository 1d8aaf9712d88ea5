"""Training data: the synthetic phantom or a folder of NIfTI/PNG images and masks.

A folder holds ``images/`` and ``masks/`` with one mask per image, matched by
stem (``images/a.png`` <-> ``masks/a.png`` or ``masks/a.nii.gz``). Masks are
label maps: 0 background, 1 VAT, 2 SAT. A NIfTI volume (H, W, Z) gives Z
slices. The train/validation split is fixed by the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import TrainError
from .phantom import STYLES, phantoms

__all__ = ["load_data", "load_folder", "batches", "check_classes"]

_SUFFIXES = (".nii.gz", ".nii", ".png")


def load_data(config) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """((x_train, y_train), (x_val, y_val)): x (N, C, H, W), y one-hot (N, 3, H, W)."""
    h, w, c = config.hwc
    if config.data is None:
        if c != 1:
            raise TrainError(f"the phantom has 1 channel; use a shape ending in x1, not {config.shape}")
        if config.dataset not in STYLES:
            raise TrainError(f"no phantom is called {config.dataset!r} (phantoms: "
                             f"{', '.join(STYLES)}); give --data FOLDER to train on your images")
        x, y = phantoms(config.n_train + config.val_count, h, w, seed=config.seed,
                        style=config.dataset)
    else:
        x, y = load_folder(config.data, (h, w, c))
    if config.n_train is None and config.n_val is None:
        config.n_val = max(1, len(x) // 5)
    order = np.random.default_rng(config.seed).permutation(len(x))
    n_train = config.n_train if config.n_train is not None else len(x) - config.val_count
    if n_train < 1 or n_train + config.val_count > len(x):
        raise TrainError(f"{len(x)} slices cannot give {n_train} training and "
                         f"{config.val_count} validation slices; lower --n-train or --n-val",
                         path=config.data)
    config.n_train = n_train
    tr, va = order[:n_train], order[n_train:n_train + config.val_count]
    check_classes(y[tr], "training", path=config.data)
    as_t = torch.from_numpy
    return (as_t(x[tr]), as_t(y[tr])), (as_t(x[va]), as_t(y[va]))


def load_folder(folder: str | Path, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """All slices of a data folder as float32 arrays (N, C, H, W) and (N, 3, H, W)."""
    folder = Path(folder)
    img_dir, mask_dir = folder / "images", folder / "masks"
    for d in (img_dir, mask_dir):
        if not d.is_dir():
            raise TrainError(f"data folder needs images/ and masks/ subfolders; {d} is missing",
                             path=str(folder))
    images = sorted(p for p in img_dir.iterdir() if _stem(p) is not None)
    if not images:
        raise TrainError(f"no .nii, .nii.gz or .png images in {img_dir}")
    masks = {_stem(p): p for p in mask_dir.iterdir() if _stem(p) is not None}
    xs, ys = [], []
    for img_path in images:
        mask_path = masks.get(_stem(img_path))
        if mask_path is None:
            raise TrainError(f"image {img_path.name} has no mask in {mask_dir} "
                             f"(expected {_stem(img_path)}.png or .nii.gz)", path=str(img_path))
        img, lab = _read_image(img_path, shape[2]), _read_mask(mask_path)
        if img.shape[1:] != lab.shape[1:]:
            raise TrainError(f"image shape {_hwz(img)} does not match mask shape "
                             f"{_hwz(lab)} of masks/{mask_path.name}", path=str(img_path))
        if img.shape[1:3] != shape[:2] or img.shape[0] != shape[2]:
            raise TrainError(f"image is {img.shape[1]}x{img.shape[2]}x{img.shape[0]} (HxWxC) but "
                             f"--shape is {'x'.join(map(str, shape))}", path=str(img_path))
        _check_labels(lab, mask_path)
        if not np.isfinite(img).all():
            raise TrainError("image has NaN or infinite pixels", path=str(img_path))
        for z in range(img.shape[3]):
            x = img[..., z].astype(np.float32)
            x = x - x.min()
            xs.append(x / max(float(x.max()), 1e-6))
            ys.append(np.eye(3, dtype=np.float32)[lab[0, ..., z]].transpose(2, 0, 1))
    return np.stack(xs), np.stack(ys)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle_seed: int | None = None,
            rank: int = 0, world: int = 1):
    """Yield (x, y) mini-batches of this rank's share; shuffled by ``shuffle_seed``."""
    n = len(x)
    if shuffle_seed is None:
        order = torch.arange(n)
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(shuffle_seed))
    order = order[rank::world]
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def _check_labels(lab: np.ndarray, path: Path) -> None:
    """A mask must be a label map of 0 (background), 1 (VAT), 2 (SAT); say
    which other encoding it looks like."""
    values = np.unique(lab)
    if values.min() >= 0 and values.max() <= 2:
        return
    hint = ""
    if set(values.tolist()) <= {0, 255}:
        hint = ": 0/255 is a binary mask saved as an image; write labels 0, 1, 2"
    elif set(values.tolist()) <= {0, 127, 128, 254, 255} or values.max() > 200:
        hint = ": labels scaled for display; write the labels themselves (0, 1, 2)"
    raise TrainError(f"mask labels must be 0 (background), 1 (VAT) or 2 (SAT); found "
                     f"{', '.join(str(int(v)) for v in values[:6])}"
                     f"{' ...' if len(values) > 6 else ''}{hint}", path=str(path))


def check_classes(y: np.ndarray, what: str, path: str | None = None) -> None:
    """Every class must have pixels in the training set: a class without any
    trains a Dice score that stays 0 and caps the mean Dice."""
    from .phantom import CLASSES

    counts = y.sum(axis=(0, 2, 3))
    empty = [f"{CLASSES[k]} (label {k})" for k, c in enumerate(counts) if c == 0]
    if empty:
        raise TrainError(f"no pixel of class {', '.join(empty)} in the {len(y)} {what} slices: "
                         f"its Dice would stay 0; check the masks or the split (--n-train, "
                         f"--seed)", path=path)


def _hwz(arr: np.ndarray) -> str:
    h, w, z = arr.shape[1:]
    return f"{h}x{w}" + (f" ({z} slices)" if z > 1 else "")


def _stem(path: Path) -> str | None:
    for suffix in _SUFFIXES:
        if path.name.lower().endswith(suffix):
            return path.name[:-len(suffix)]
    return None


def _read_image(path: Path, channels: int) -> np.ndarray:
    """(C, H, W, Z) array."""
    if path.name.lower().endswith(".png"):
        from PIL import Image
        arr = np.asarray(Image.open(path).convert("L" if channels == 1 else "RGB"), dtype=np.float32)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return arr[..., None]
    if channels != 1:
        raise TrainError(f"NIfTI images have 1 channel; use a shape ending in x1, not x{channels}",
                         path=str(path))
    return _read_nifti(path).astype(np.float32)[None]


def _read_mask(path: Path) -> np.ndarray:
    """(1, H, W, Z) integer label map."""
    if path.name.lower().endswith(".png"):
        from PIL import Image
        arr = np.asarray(Image.open(path), dtype=np.int64)
        if arr.ndim != 2:
            raise TrainError(f"a PNG mask must be a single-channel label map (0, 1, 2); this one "
                             f"has {arr.shape[2]} channels (a colour or one-hot image?)",
                             path=str(path))
        return arr[None, ..., None]
    arr = _read_nifti(path)
    labels = np.rint(arr)
    if not np.array_equal(labels, arr):
        raise TrainError("mask has non-integer values (resampled with interpolation? use "
                         "nearest-neighbour for masks)", path=str(path))
    return labels.astype(np.int64)[None]


def _read_nifti(path: Path) -> np.ndarray:
    import nibabel as nib
    try:
        arr = np.asanyarray(nib.load(str(path)).dataobj)
    except Exception as exc:  # nibabel raises several types for broken files
        raise TrainError(f"cannot read NIfTI file: {exc}", path=str(path)) from None
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise TrainError(f"NIfTI image has {arr.ndim} dimensions; expected 2 (H, W) or 3 (H, W, Z)",
                         path=str(path))
    return arr
