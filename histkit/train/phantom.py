"""Synthetic fat-MRI phantoms: one 2D abdominal slice and its three masks.

A body outline with a wobbly edge, a subcutaneous fat ring (SAT) of varying
thickness, a muscle wall, organs and visceral fat islands (VAT) inside, a spine,
a smooth multiplicative bias field and Rician noise. Deterministic per
(seed, index); any height x width.

Two styles, named by the dataset token of a run: ``fat`` (the first phantom,
kept as it was so its runs stay reproducible) and ``fat2``, harder so that
variants separate: a thinner SAT ring broken by gaps, small low-contrast VAT
islands among organs of similar brightness, partial-volume edges (the image
is drawn at twice the size and averaged down), a stronger bias field and more
noise.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["phantom", "phantoms", "CLASSES", "STYLES", "Style"]

CLASSES = ("background", "vat", "sat")


@dataclasses.dataclass(frozen=True)
class Style:
    """The knobs of a phantom (ranges are drawn uniformly per slice)."""

    sat_thickness: tuple[float, float] = (0.08, 0.22)
    sat_gaps: int = 0                       # breaks in the SAT ring (up to this many)
    islands: tuple[int, int] = (6, 14)      # VAT islands per slice
    island_size: tuple[float, float] = (0.06, 0.2)
    organ_level: tuple[float, float] = (0.4, 0.6)
    vat_level: tuple[float, float] = (0.75, 0.95)
    bias: float = 0.25                      # amplitude of the log bias field
    noise: tuple[float, float] = (0.02, 0.06)
    supersample: int = 1                    # partial-volume edges when > 1


STYLES = {
    "fat": Style(),
    "fat2": Style(sat_thickness=(0.03, 0.1), sat_gaps=3, islands=(10, 24),
                  island_size=(0.025, 0.09), organ_level=(0.5, 0.7), vat_level=(0.6, 0.85),
                  bias=0.6, noise=(0.06, 0.12), supersample=2),
}


def phantom(height: int, width: int, seed: int = 0, index: int = 0, style: str = "fat"
            ) -> tuple[np.ndarray, np.ndarray]:
    """One slice: ``image`` (H, W) float32 in about [0, 1] and ``mask`` (3, H, W)
    one-hot float32 with channels background, VAT, SAT."""
    st = STYLES[style]
    rng = np.random.default_rng([seed, index])
    k = st.supersample
    y, x = np.meshgrid(np.linspace(-1, 1, height * k), np.linspace(-1, 1, width * k),
                       indexing="ij")
    cy, cx = rng.normal(0, 0.03, 2)
    ry, rx = rng.uniform(0.72, 0.9), rng.uniform(0.7, 0.9)
    u, v = (y - cy) / ry, (x - cx) / rx
    r, theta = np.hypot(u, v), np.arctan2(u, v)

    body_edge = 1 + _harmonics(rng, theta, 4, 0.04)
    sat_inner = body_edge * (1 - rng.uniform(*st.sat_thickness)
                             - _harmonics(rng, theta, 3, 0.05)
                             - 0.06 * np.clip(np.sin(theta), 0, None) * rng.uniform(0, 1))
    wall_inner = sat_inner - rng.uniform(0.05, 0.09)
    body, inside_sat, cavity = r <= body_edge, r <= sat_inner, r <= wall_inner

    sat = body & ~inside_sat
    if st.sat_gaps:  # breaks in the ring, where muscle reaches the skin
        extra = np.random.default_rng([seed, index, 2])
        for _ in range(extra.integers(1, st.sat_gaps + 1)):
            centre, half = extra.uniform(-np.pi, np.pi), extra.uniform(0.05, 0.25)
            sat &= np.abs(np.angle(np.exp(1j * (theta - centre)))) > half
    image = np.where(body, rng.uniform(0.25, 0.35), 0.0)  # muscle
    image = np.where(sat, rng.uniform(0.85, 1.0), image)

    vat = np.zeros_like(cavity)
    for _ in range(rng.integers(*st.islands)):  # visceral fat islands
        vat |= _blob(rng, u, v, 0.55, st.island_size) & cavity
    organs = np.zeros_like(cavity)
    for _ in range(rng.integers(2, 5)):
        organs |= _blob(rng, u, v, 0.45, (0.12, 0.3)) & cavity
    vat &= ~organs
    image = np.where(cavity, rng.uniform(0.35, 0.5), image)
    image = np.where(organs, rng.uniform(*st.organ_level), image)
    image = np.where(vat, rng.uniform(*st.vat_level), image)
    spine = np.hypot(u - rng.uniform(0.5, 0.6), v) < rng.uniform(0.1, 0.14)
    image = np.where(spine & cavity, 0.15, image)
    vat &= ~spine

    bias = np.exp(st.bias * _smooth_field(rng, y, x))
    sigma = rng.uniform(*st.noise)
    clean = image * bias
    if k > 1:  # partial volume: each pixel averages k x k sub-pixels; labels by majority
        clean = _down(clean, k)
        vat, sat = _down(vat.astype(np.float32), k) > 0.5, _down(sat.astype(np.float32), k) > 0.5
        vat &= ~sat
    image = np.hypot(clean + rng.normal(0, sigma, clean.shape), rng.normal(0, sigma, clean.shape))
    image = image / max(float(image.max()), 1e-6)

    mask = np.stack([~(vat | sat), vat, sat]).astype(np.float32)
    return image.astype(np.float32), mask


def _down(a: np.ndarray, k: int) -> np.ndarray:
    h, w = a.shape[0] // k, a.shape[1] // k
    return a.reshape(h, k, w, k).mean(axis=(1, 3))


def phantoms(n: int, height: int, width: int, seed: int = 0, start: int = 0,
             style: str = "fat") -> tuple[np.ndarray, np.ndarray]:
    """``n`` slices stacked: images (n, 1, H, W) and masks (n, 3, H, W)."""
    pairs = [phantom(height, width, seed, start + i, style) for i in range(n)]
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
