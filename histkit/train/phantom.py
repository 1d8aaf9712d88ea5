"""Synthetic fat-MRI phantom: one 2D abdominal slice and its three masks.

A body outline with a wobbly edge, a subcutaneous fat ring (SAT) of varying
thickness, a muscle wall, organs and visceral fat islands (VAT) inside, a spine,
a smooth multiplicative bias field and Rician noise. Deterministic per
(seed, index); any height x width.
"""

from __future__ import annotations

import numpy as np

__all__ = ["phantom", "phantoms", "CLASSES"]

CLASSES = ("background", "vat", "sat")


def phantom(height: int, width: int, seed: int = 0, index: int = 0
            ) -> tuple[np.ndarray, np.ndarray]:
    """One slice: ``image`` (H, W) float32 in about [0, 1] and ``mask`` (3, H, W)
    one-hot float32 with channels background, VAT, SAT."""
    rng = np.random.default_rng([seed, index])
    y, x = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    cy, cx = rng.normal(0, 0.03, 2)
    ry, rx = rng.uniform(0.72, 0.9), rng.uniform(0.7, 0.9)
    u, v = (y - cy) / ry, (x - cx) / rx
    r, theta = np.hypot(u, v), np.arctan2(u, v)

    body_edge = 1 + _harmonics(rng, theta, 4, 0.04)
    sat_inner = body_edge * (1 - rng.uniform(0.08, 0.22) - _harmonics(rng, theta, 3, 0.05)
                             - 0.06 * np.clip(np.sin(theta), 0, None) * rng.uniform(0, 1))
    wall_inner = sat_inner - rng.uniform(0.05, 0.09)
    body, inside_sat, cavity = r <= body_edge, r <= sat_inner, r <= wall_inner

    sat = body & ~inside_sat
    image = np.where(body, rng.uniform(0.25, 0.35), 0.0)  # muscle
    image = np.where(sat, rng.uniform(0.85, 1.0), image)

    vat = np.zeros_like(cavity)
    for _ in range(rng.integers(6, 14)):  # visceral fat islands
        vat |= _blob(rng, u, v, 0.55, (0.06, 0.2)) & cavity
    organs = np.zeros_like(cavity)
    for _ in range(rng.integers(2, 5)):
        organs |= _blob(rng, u, v, 0.45, (0.12, 0.3)) & cavity
    vat &= ~organs
    image = np.where(cavity, rng.uniform(0.35, 0.5), image)
    image = np.where(organs, rng.uniform(0.4, 0.6), image)
    image = np.where(vat, rng.uniform(0.75, 0.95), image)
    spine = np.hypot(u - rng.uniform(0.5, 0.6), v) < rng.uniform(0.1, 0.14)
    image = np.where(spine & cavity, 0.15, image)
    vat &= ~spine

    bias = np.exp(0.25 * _smooth_field(rng, y, x))
    sigma = rng.uniform(0.02, 0.06)
    clean = image * bias
    image = np.hypot(clean + rng.normal(0, sigma, clean.shape), rng.normal(0, sigma, clean.shape))
    image = image / max(float(image.max()), 1e-6)

    mask = np.stack([~(vat | sat), vat, sat]).astype(np.float32)
    return image.astype(np.float32), mask


def phantoms(n: int, height: int, width: int, seed: int = 0, start: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` slices stacked: images (n, 1, H, W) and masks (n, 3, H, W)."""
    pairs = [phantom(height, width, seed, start + i) for i in range(n)]
    return (np.stack([p[0] for p in pairs])[:, None], np.stack([p[1] for p in pairs]))


def _harmonics(rng, theta, order: int, amplitude: float) -> np.ndarray:
    k = np.arange(1, order + 1)[:, None, None]
    a = rng.normal(0, amplitude, (order, 1, 1)) / k
    phase = rng.uniform(0, 2 * np.pi, (order, 1, 1))
    return (a * np.cos(k * theta + phase)).sum(0)


def _blob(rng, u, v, spread: float, size: tuple[float, float]) -> np.ndarray:
    cu, cv = rng.uniform(-spread, spread, 2)
    su, sv = rng.uniform(*size, 2)
    angle = rng.uniform(0, np.pi)
    du, dv = u - cu, v - cv
    a = (du * np.cos(angle) + dv * np.sin(angle)) / su
    b = (-du * np.sin(angle) + dv * np.cos(angle)) / sv
    return a * a + b * b <= 1


def _smooth_field(rng, y, x) -> np.ndarray:
    c = rng.normal(0, 1, 6)
    f = c[0] * y + c[1] * x + c[2] * y * x + c[3] * y * y + c[4] * x * x + c[5] * y * y * x
    return f / max(float(np.abs(f).max()), 1e-6)
