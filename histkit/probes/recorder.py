"""Probes: what happens inside the network, per epoch, beside the history.

Written to ``<run>.probes/`` (the layout: :mod:`histkit.probes`), one file per table and
epoch, each made durable before that epoch's checkpoint and history row: a
killed and resumed run rewrites the probes of the epoch it trains again, so
every epoch has its probes exactly once. :func:`histkit.read_probes` keeps
the epochs the history has.

Per layer with weights (``scalars``): the weight norm at the end of the
epoch, the gradient norm averaged over the epoch's steps, and the update
ratio |w_end - w_start| / |w_start|. Histograms of weights and of the last
step's gradients (``histograms``) use fixed bins, the same for every layer
and epoch: 0, then +-10^k for k from -8 to 1 in steps of 0.5 (TensorBoard's
view of magnitudes); empty bins are not stored. Per ReLU (``activations``), on 4 fixed validation
images in eval mode: the mean, standard deviation and fraction of zeros of
its output; the ``output`` row holds the predicted probabilities, whose
``saturated`` is the fraction within 1e-3 of 0 or 1. ``shares``: the
predicted and the true share of each class over the validation set.
``input``: the 4 fixed images as the network sees them (mean, standard
deviation, minimum, 1st, 50th and 99th percentile, maximum), where badly
scaled input shows: a spike squeezes the 1st-99th percentile range. Every
``every`` epochs and at the last one, PNG images: the first 9 channels of the
first, middle and last ReLU's output for one fixed validation image and their
gradients, and image / true mask / prediction for the 4 fixed images, all as
thumbnails (longest side 64 pixels) so that probes stay light.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .read import probes_dir
from ..files import atomic_target, fsync_dir

__all__ = ["Probes", "BIN_EDGES", "FIXED_IMAGES"]

FIXED_IMAGES = 4
_POWERS = np.arange(-8.0, 1.01, 0.5)
#: the fixed histogram bins: (-inf, -10), ..., (-1e-8, 0), [0, 1e-8), ..., [10, inf)
BIN_EDGES = np.concatenate([-(10 ** _POWERS[::-1]), [0.0], 10 ** _POWERS])
_LO = [-math.inf, *BIN_EDGES.tolist()]   # bin b holds lo <= v < hi
_HI = [*BIN_EDGES.tolist(), math.inf]
_CLASS_COLOURS = np.array([[0, 0, 0], [230, 159, 0], [86, 180, 233]], dtype=np.uint8)


class Probes:
    """Collects one epoch's probes and writes them; ``enabled=False`` makes
    every call a no-op (other ranks under torchrun, ``--no-probes``)."""

    def __init__(self, model: nn.Module, directory: Path, x_val: torch.Tensor,
                 y_val: torch.Tensor, *, probabilities: Callable[[torch.Tensor], torch.Tensor],
                 every: int, epochs: int, enabled: bool = True):
        self.enabled = enabled
        self.probabilities = probabilities  # logits (N, K, H, W) -> class probabilities
        self.dir = Path(directory)
        self.every, self.epochs = max(1, every), epochs
        self.model = model
        self.x, self.y = x_val[:FIXED_IMAGES], y_val[:FIXED_IMAGES]
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.relus = [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]
        k = len(self.relus)
        self.chosen = list(dict.fromkeys([self.relus[0], self.relus[k // 2 - 1 if k > 1 else 0],
                                          self.relus[-1]])) if k else []
        self._edges = torch.tensor(BIN_EDGES, dtype=torch.float32)
        if enabled and self.dir.is_dir():  # a kill while writing leaves a temp file
            for tmp in self.dir.rglob(".*.tmp.*"):
                tmp.unlink(missing_ok=True)

    # -- during the epoch --------------------------------------------------

    def start_epoch(self) -> None:
        if not self.enabled:
            return
        self._w0 = [p.detach().float().clone() for _, p in self.params]
        self._gsum = torch.zeros(len(self.params))
        self._steps = 0

    @torch.no_grad()
    def after_backward(self) -> None:
        """Add this step's gradient norms (one fused call)."""
        if not self.enabled:
            return
        grads = [p.grad if p.grad is not None else torch.zeros(()) for _, p in self.params]
        self._gsum += torch.stack(torch._foreach_norm(grads)).float().cpu()
        self._steps += 1

    # -- at its end ----------------------------------------------------------

    def end_epoch(self, epoch: int, device, memory_format, forward, loss_fn,
                  shares: torch.Tensor | None) -> None:
        """Compute and write the epoch's probes (before its history row)."""
        if not self.enabled:
            return
        import polars as pl

        self.dir.mkdir(parents=True, exist_ok=True)
        scalars, hists = self._layers(epoch)
        acts, images = self._activations(epoch, device, memory_format, forward, loss_fn)
        tables = {"scalars": pl.DataFrame(scalars), "histograms": pl.DataFrame(hists),
                  "activations": pl.DataFrame(acts), "input": self._input(epoch)}
        if shares is not None:
            total = shares.sum(dim=1, keepdim=True).clamp(min=1)
            share = (shares / total).tolist()
            tables["shares"] = pl.DataFrame({
                "epoch": [epoch] * 3, "class": ["background", "vat", "sat"],
                "predicted": share[0], "true": share[1]})
        for name, frame in tables.items():
            with atomic_target(self.dir / name / f"{epoch:04d}.parquet", durable=True) as tmp:
                frame.write_parquet(tmp)
        for name, array in images.items():
            with atomic_target(self.dir / "images" / f"{epoch:04d}_{name}.png",
                               durable=True) as tmp:
                _png(array, tmp)
        fsync_dir(self.dir)

    def _input(self, epoch: int):
        import polars as pl

        x = self.x.float().reshape(-1)
        q = torch.quantile(x[:2 ** 24], torch.tensor([0.01, 0.5, 0.99])).tolist()
        return pl.DataFrame({"epoch": [epoch], "mean": [float(x.mean())], "std": [float(x.std())],
                             "min": [float(x.min())], "p01": [q[0]], "p50": [q[1]],
                             "p99": [q[2]], "max": [float(x.max())]})

    @torch.no_grad()
    def _layers(self, epoch: int):
        scalars = {"epoch": [], "layer": [], "weight_norm": [], "grad_norm": [],
                   "update_ratio": []}
        hists = {"epoch": [], "layer": [], "kind": [], "bin": [], "lo": [], "hi": [],
                 "count": []}
        edges = self._edges
        for (name, p), w0, g in zip(self.params, self._w0, self._gsum.tolist()):
            w = p.detach().float().cpu()
            w0 = w0.cpu()
            norm0 = float(w0.norm())
            scalars["epoch"].append(epoch)
            scalars["layer"].append(name)
            scalars["weight_norm"].append(float(w.norm()))
            scalars["grad_norm"].append(g / max(self._steps, 1))
            scalars["update_ratio"].append(float((w - w0).norm()) / norm0 if norm0 else math.nan)
            for kind, values in (("weight", w), ("grad", p.grad)):
                if values is None:
                    continue
                counts = torch.bincount(torch.bucketize(values.detach().float().cpu().reshape(-1),
                                                        edges, right=True),
                                        minlength=len(edges) + 1)
                bins = counts.nonzero().reshape(-1).tolist()  # empty bins are not stored
                n = len(bins)
                hists["epoch"] += [epoch] * n
                hists["layer"] += [name] * n
                hists["kind"] += [kind] * n
                hists["bin"] += bins
                hists["lo"] += [_LO[b] for b in bins]
                hists["hi"] += [_HI[b] for b in bins]
                hists["count"] += counts[bins].tolist()
        return scalars, hists

    def _activations(self, epoch, device, memory_format, forward, loss_fn):
        model = self.model
        model.eval()
        outputs: dict[str, torch.Tensor] = {}
        grads: dict[str, torch.Tensor] = {}

        def keep(name):
            def hook(module, inputs, output):
                outputs[name] = output
                if output.requires_grad:
                    output.register_hook(lambda g: grads.__setitem__(name, g))
            return hook

        modules = dict(model.named_modules())
        handles = [modules[n].register_forward_hook(keep(n)) for n in self.relus]
        try:
            x = self.x.to(device).contiguous(memory_format=memory_format)
            y = self.y.to(device).contiguous(memory_format=memory_format)
            with torch.enable_grad():
                logits = forward(model, x)
                loss = loss_fn(logits, y)
                loss.backward()
        finally:
            for h in handles:
                h.remove()
            model.zero_grad(set_to_none=True)
        acts = {"epoch": [], "block": [], "mean": [], "std": [], "zeros": [], "saturated": []}
        with torch.no_grad():
            for name in self.relus:
                a = outputs[name].detach().float()
                _stat(acts, epoch, name, a, zeros=float((a == 0).float().mean()), saturated=0.0)
            probs = self.probabilities(logits.detach().float())
            _stat(acts, epoch, "output", probs, zeros=float((probs == 0).float().mean()),
                  saturated=float(((probs < 1e-3) | (probs > 1 - 1e-3)).float().mean()))
        images = {}
        if epoch % self.every == 0 or epoch == self.epochs - 1:
            for i, name in enumerate(self.chosen):
                images[f"activation{i}"] = _grid(outputs[name][0].detach())
                if name in grads:
                    images[f"gradient{i}"] = _grid(grads[name][0].detach())
            images["predictions"] = self._predictions(probs)
        return acts, images

    def _predictions(self, probs: torch.Tensor) -> np.ndarray:
        """Image, true mask and prediction of each fixed image, as thumbnails."""
        rows = []
        for i in range(len(self.x)):
            img = _shrink(self.x[i, :1].float())[0].numpy()
            img = (255 * (img - img.min()) / max(float(img.max() - img.min()), 1e-6))
            grey = np.repeat(img[..., None], 3, axis=2).astype(np.uint8)
            true = _CLASS_COLOURS[_shrink(self.y[i].float(), "nearest").argmax(0).numpy()]
            pred = _CLASS_COLOURS[_shrink(probs[i].cpu().float(), "nearest").argmax(0).numpy()]
            rows.append(np.concatenate([grey, true, pred], axis=1))
        return np.concatenate(rows, axis=0)


def _stat(table: dict, epoch: int, name: str, a: torch.Tensor, *, zeros: float,
          saturated: float) -> None:
    table["epoch"].append(epoch)
    table["block"].append(name)
    table["mean"].append(float(a.mean()))
    table["std"].append(float(a.std()) if a.numel() > 1 else 0.0)
    table["zeros"].append(zeros)
    table["saturated"].append(saturated)


THUMB = 64  # longest side of an image tile, in pixels: probes stay light


def _shrink(t: torch.Tensor, mode: str = "area") -> torch.Tensor:
    """(C, H, W) scaled down so its longest side is at most :data:`THUMB`."""
    h, w = t.shape[-2:]
    factor = -(-max(h, w) // THUMB)
    if factor <= 1:
        return t
    size = (max(1, h // factor), max(1, w // factor))
    return torch.nn.functional.interpolate(t[None].float(), size=size, mode=mode)[0]


def _grid(t: torch.Tensor, n: int = 9) -> np.ndarray:
    """The first ``n`` channels of (C, H, W) as a 3x3 grey grid of thumbnails,
    each channel scaled to its own range."""
    t = _shrink(t.float().cpu()[:n])
    tiles = []
    for c in t:
        c = np.nan_to_num(c.numpy(), nan=0.0, posinf=0.0, neginf=0.0)
        span = float(c.max() - c.min())
        tiles.append(((c - c.min()) / span * 255) if span > 0 else np.zeros_like(c))
    while len(tiles) < n:
        tiles.append(np.zeros_like(tiles[0]))
    h, w = tiles[0].shape
    pad = np.full((h, 2), 128.0)
    rows = [np.concatenate(sum(([tile, pad] for tile in tiles[r:r + 3]), [])[:-1], axis=1)
            for r in range(0, n, 3)]
    sep = np.full((2, rows[0].shape[1]), 128.0)
    return np.concatenate(sum(([row, sep] for row in rows), [])[:-1], axis=0).astype(np.uint8)


def _png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(array).save(path, format="PNG", optimize=True)
