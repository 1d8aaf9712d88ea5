"""Seed 002 reproduced with real Keras: a 4-class UNet whose loss barely moves.

Seed 002 (a Q&A about cardiac-MR segmentation) trains a Keras UNet for 4
classes including background, with a ``softmax`` output layer,
``loss='sparse_categorical_crossentropy'``, ``SGD(lr=1e-4, momentum=0.9)``,
masks passed through ``to_categorical`` and background dominating the pixels.
The loss went from 1.4 to 1.3 and the predicted masks were empty. The answer
recommends ``SparseCategoricalCrossentropy(from_logits=True)`` with *no*
softmax on the last layer.

This script trains that model (scaled down) on a small synthetic 4-class set
and writes each training's history with Keras' own ``keras.callbacks.CSVLogger``
to ``bench/diagnose_dev/keras/<variant>.csv``: labelled development runs for
histkit's failure-diagnosis rules (the test suite does not need them).

Data: 64x64 single-channel images generated with numpy from a fixed seed: a
noisy background with smooth texture, a bright disc (class 1, "cavity"), a
darker ring around it (class 2, "myocardium") and 1-3 small blobs (class 3);
background is ~88% of the pixels. 256 training and 64 validation images.

Model: the seed's UNet (two 3x3 ReLU convolutions per block, max-pooling,
upsampling + concatenation, 1x1 output convolution) with 3 levels and
filters (8, 16, 32) + bottleneck 64 instead of 4 levels and (16..256). Its
output is reshaped from (64, 64, 4) to (4096, 4) and the masks to (4096,), as
old Keras segmentation code often did: with Keras 3.15.1 on torch 2.13.0 (CPU)
a 4D softmax output with ``from_logits=False`` sparse cross-entropy (the seed's
exact compile) dies in the first backward with ``RuntimeError: grad_input must
be contiguous`` (Keras now calls ``torch.nn.functional.nll_loss`` on the
``movedim``-ed output, and torch's 4D nll_loss backward rejects non-contiguous
input: pytorch issue 175084). The 3D path is unaffected and the loss values are
the same (a mean over all pixels either way).

Variants (35 epochs each, batch 16, ``keras.utils.set_random_seed(0)`` before
each, so all start from the same weights and batch order):

- ``double_softmax``: softmax output + ``SparseCategoricalCrossentropy(
  from_logits=True)``, Adam 1e-3. The loss softmaxes probabilities again, so it
  cannot go below ln(1 + (K-1)/e) = 0.7437 for K=4 (reached only by a one-hot
  output that is right everywhere); a saturated one-hot output scores 0.7437
  per right pixel and 1.7437 per wrong one.
- ``double_softmax_balanced``: the same mistake with class-balanced pixel
  weights (``sample_weight`` = 1 / (K * class share), mean 1; the seed's P.S.
  asks about balancing). Without them the double softmax falls into
  "background everywhere", where the saturated first softmax passes no
  gradient, and the loss sits at floor + error rate = 0.7437 + 0.114; with
  them the net segments and the loss creeps down towards 0.7437.
- ``seed002_sgd``: exactly the seed's compile: softmax + the string
  ``'sparse_categorical_crossentropy'`` (from_logits=False) and
  ``SGD(learning_rate=1e-4, momentum=0.9)``: predicts background only from
  epoch 4 on while the loss slides down from ln 4 = 1.386 by ~0.008 an epoch
  (the seed saw 1.4 -> 1.3).
- (not kept) the asker's follow-up ("the problem still exists with
  categorical cross-entropy"): ``to_categorical`` masks +
  ``'categorical_crossentropy'``, same SGD. Trained once: its CSV was
  byte-identical to seed002_sgd's (same numbers, as the maths says), so the
  variant was dropped rather than ship a duplicate history.
- ``healthy_logits``: no activation on the last layer + ``from_logits=True``,
  Adam 1e-3 (the answer's fix): the healthy reference.
- ``healthy_softmax``: softmax + from_logits=False (the other correct pairing),
  Adam 1e-3.
- ``onehot_sparse`` (tried, never written): the seed's one-hot masks fed to the
  sparse loss. Keras 3 refuses it at the first step (target and output shapes
  differ up to the last dimension), so there is no history; the error is printed
  and recorded in the README.

Besides loss/accuracy (and their val_ twins) every run logs ``pred_frac_c1``..
``pred_frac_c3``: the share of pixels whose argmax prediction is that class
(true validation shares 0.046, 0.056, 0.012), so "predicts background only"
shows as zeros.

Run (about 10 minutes on 2 idle cores, far longer when they are busy; needs a
Keras venv, not the project's):

    /usr/bin/python3.11 -m venv /tmp/kvenv
    /tmp/kvenv/bin/pip install torch==2.13.0 keras numpy
    KERAS_BACKEND=torch /tmp/kvenv/bin/python bench/keras_seed002.py [--epochs 35] [--only NAME ...]

A full run (no --only) also rewrites bench/diagnose_dev/keras/README.md from
the histories.
The committed CSVs were written by Keras 3.15.1 on torch 2.13.0+cpu
(numpy 2.4.6, Python 3.11).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)

import keras  # noqa: E402
from keras import ops  # noqa: E402

OUT = Path(__file__).resolve().parent / "diagnose_dev" / "keras"
SIZE = 64
NCLASSES = 4
N_TRAIN, N_VAL = 256, 64
BATCH = 16
FLOOR = math.log(1 + (NCLASSES - 1) / math.e)  # 0.7437 for K=4
UNIFORM = math.log(NCLASSES)  # 1.3863


# ---------------------------------------------------------------- data

def make_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 64, 64, 1) float32 and integer masks (n, 64, 64) uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    images = np.empty((n, SIZE, SIZE, 1), np.float32)
    masks = np.zeros((n, SIZE, SIZE), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(22, 42, size=2)
        r_in = rng.uniform(6.5, 9.0)
        r_out = r_in + rng.uniform(3.0, 4.5)
        d = np.hypot(yy - cy, xx - cx)
        m = np.zeros((SIZE, SIZE), np.uint8)
        m[d <= r_out] = 2
        m[d <= r_in] = 1
        for _ in range(rng.integers(1, 4)):  # small blobs away from the disc
            for _try in range(20):
                by, bx = rng.uniform(6, SIZE - 6, size=2)
                br = rng.uniform(2.0, 3.5)
                if math.hypot(by - cy, bx - cx) > r_out + br + 2:
                    break
            m[np.hypot(yy - by, xx - bx) <= br] = 3
        # intensities: background 0.25 + smooth texture, cavity bright,
        # myocardium dark, blobs mid-grey; Gaussian noise on top
        fy, fx, ph = rng.uniform(0.05, 0.2), rng.uniform(0.05, 0.2), rng.uniform(0, 6.3)
        img = 0.25 + 0.08 * np.sin(fy * yy + fx * xx + ph)
        img = np.where(m == 1, 0.85, img)
        img = np.where(m == 2, 0.05, img)
        img = np.where(m == 3, 0.6, img)
        img = img + rng.normal(0.0, 0.12, size=img.shape)
        images[i, :, :, 0] = img
        masks[i] = m
    return images, masks


# ---------------------------------------------------------------- model

def down_block(x, filters):
    c = keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)
    c = keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(c)
    p = keras.layers.MaxPool2D((2, 2), (2, 2))(c)
    return c, p


def up_block(x, skip, filters):
    us = keras.layers.UpSampling2D((2, 2))(x)
    concat = keras.layers.Concatenate()([us, skip])
    c = keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(concat)
    c = keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(c)
    return c


def bottleneck(x, filters):
    c = keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)
    c = keras.layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(c)
    return c


def unet(activation: str | None, nclasses: int = NCLASSES) -> keras.Model:
    """The seed's UNet, 3 levels instead of 4, filters (8, 16, 32) + 64."""
    f = [8, 16, 32, 64]
    inputs = keras.layers.Input((SIZE, SIZE, 1))
    c1, p1 = down_block(inputs, f[0])  # 64 -> 32
    c2, p2 = down_block(p1, f[1])  # 32 -> 16
    c3, p3 = down_block(p2, f[2])  # 16 -> 8
    bn = bottleneck(p3, f[3])
    u1 = up_block(bn, c3, f[2])  # 8 -> 16
    u2 = up_block(u1, c2, f[1])  # 16 -> 32
    u3 = up_block(u2, c1, f[0])  # 32 -> 64
    outputs = keras.layers.Conv2D(nclasses, (1, 1), padding="same", activation=activation)(u3)
    # (H, W, K) -> (H*W, K): see the module docstring (a torch bug in 4D nll_loss)
    outputs = keras.layers.Reshape((SIZE * SIZE, nclasses))(outputs)
    return keras.models.Model(inputs, outputs)


def pred_frac(c: int):
    """Share of a sample's pixels whose argmax prediction is class c."""

    def fn(y_true, y_pred):
        hit = ops.cast(ops.equal(ops.argmax(y_pred, axis=-1), c), "float32")
        return ops.mean(hit, axis=1)

    fn.__name__ = f"pred_frac_c{c}"
    return fn


# ---------------------------------------------------------------- variants

ADAM = lambda: keras.optimizers.Adam(learning_rate=1e-3)  # noqa: E731
SEED_SGD = lambda: keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9)  # noqa: E731

VARIANTS = {
    # name: (last activation, loss factory, optimizer factory, one-hot masks, what is wrong)
    "double_softmax": (
        "softmax",
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ADAM, False,
        "softmax output + SparseCategoricalCrossentropy(from_logits=True): softmax applied twice",
    ),
    "double_softmax_balanced": (
        "softmax",
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ADAM, False,
        "softmax applied twice as in double_softmax, with class-balanced pixel "
        "weights (the seed's P.S.: balance the data set?) so it segments",
    ),
    "seed002_sgd": (
        "softmax", lambda: "sparse_categorical_crossentropy", SEED_SGD, False,
        "the seed's compile: softmax + 'sparse_categorical_crossentropy', "
        "SGD(1e-4, momentum 0.9): step far too small for a 88%-background task",
    ),
    "healthy_logits": (
        None,
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ADAM, False,
        "nothing (healthy reference): linear output + from_logits=True, Adam 1e-3",
    ),
    "healthy_softmax": (
        "softmax",
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=False),
        ADAM, False,
        "nothing (healthy): softmax + from_logits=False, Adam 1e-3",
    ),
    "onehot_sparse": (
        "softmax", lambda: "sparse_categorical_crossentropy", SEED_SGD, True,
        "the seed's data mistake: to_categorical masks fed to 'sparse_categorical_crossentropy'",
    ),
}


BALANCED = {"double_softmax_balanced"}


# What each history shows (the numbers come from the CSVs, these words do not).
SHOWS = {
    "double_softmax": "collapses to background everywhere by CSV epoch 3 and "
    "sits there: loss = 0.7437 + error rate (0.7437 + 0.1141 = 0.8578), flat to 4 "
    "decimals for 20+ epochs, accuracy = background share",
    "double_softmax_balanced": "segments (val accuracy ~0.98) yet the loss "
    "flattens just above the 0.7437 floor and never goes below it",
    "seed002_sgd": "accuracy flat at the background share from epoch 4, no "
    "foreground predicted, loss a slow straight slide from ln 4",
    "healthy_logits": "loss to ~0.015, foreground shares match the truth",
    "healthy_softmax": "tracks healthy_logits (same start, within 0.03 in "
    "loss at any epoch; val_loss a little noisier at the end)",
}


def train(name: str, data, epochs: int) -> tuple[str, str | None]:
    activation, loss, opt, onehot, _ = VARIANTS[name]
    (xt, yt), (xv, yv) = data
    yt, yv = yt.reshape(len(yt), -1), yv.reshape(len(yv), -1)  # pixels flattened
    if onehot:
        yt = keras.utils.to_categorical(yt, NCLASSES)
        yv = keras.utils.to_categorical(yv, NCLASSES)
    fit_extra, val = {}, (xv, yv)
    if name in BALANCED:  # pixel weight 1 / (K * class share in train), mean 1
        share = np.bincount(data[0][1].ravel(), minlength=NCLASSES) / data[0][1].size
        w = (1.0 / (NCLASSES * share)).astype(np.float32)
        fit_extra["sample_weight"] = w[yt]
        val = (xv, yv, w[yv])
    keras.utils.set_random_seed(0)
    model = unet(activation)
    model.compile(
        optimizer=opt(), loss=loss(),
        metrics=["accuracy"] + [pred_frac(c) for c in range(1, NCLASSES)],
    )
    path = OUT / f"{name}.csv"
    t0 = time.perf_counter()
    try:
        model.fit(
            xt, yt, batch_size=BATCH, epochs=epochs, validation_data=val, **fit_extra,
            callbacks=[keras.callbacks.CSVLogger(str(path))], verbose=2,
        )
    except Exception as exc:  # a mistake Keras refuses: no history is written
        path.unlink(missing_ok=True)
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        print(f"[{name}] refused by Keras: {msg}", flush=True)
        return name, msg
    print(f"[{name}] {time.perf_counter() - t0:.0f}s -> {path}", flush=True)
    return name, None


# ---------------------------------------------------------------- README

def summarize(path: Path) -> dict:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    col = lambda k: [float(r[k]) for r in rows]  # noqa: E731
    loss, vloss = col("loss"), col("val_loss")
    return {
        "epochs": len(rows),
        "loss": (loss[0], min(loss), loss[-1]),
        "val_loss": (vloss[0], min(vloss), vloss[-1]),
        "val_acc": col("val_accuracy")[-1],
        "val_frac": [col(f"val_pred_frac_c{c}")[-1] for c in range(1, NCLASSES)],
    }


def write_readme(refused: dict[str, str], true_frac: list[float]) -> None:
    lines = [
        "# Keras reproductions of seed 002 (4-class UNet, loss stuck)",
        "",
        "Written by `bench/keras_seed002.py` (see its docstring) with Keras' own "
        "`keras.callbacks.CSVLogger`: "
        f"Keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"torch {torch.__version__}, numpy {np.__version__}, "
        f"Python {sys.version.split()[0]}.",
        f"Synthetic 64x64 4-class set, {N_TRAIN} train / {N_VAL} val images, "
        "background {:.1%} of validation pixels; true val shares of classes 1-3: "
        "{}.".format(1 - sum(true_frac), ", ".join(f"{v:.3f}" for v in true_frac)),
        f"Reference levels: ln 4 = {UNIFORM:.4f} (uniform prediction), "
        f"double-softmax floor ln(1 + 3/e) = {FLOOR:.4f}. "
        "Losses below are first / min / last; `pred` is the final val share of "
        "pixels predicted as classes 1-3.",
        "Outputs are reshaped to (4096, 4) pixels x classes: on a 4D output the "
        "seed's softmax + from_logits=False sparse loss dies in the first backward "
        "with `RuntimeError: grad_input must be contiguous` under these versions "
        "(see the script's docstring). The asker's follow-up (to_categorical "
        "masks + 'categorical_crossentropy', same SGD) gave a history "
        "byte-identical to seed002_sgd.csv and is not kept.",
        "",
    ]
    versions = f"Keras {keras.__version__}, torch {torch.__version__}"
    for name, spec in VARIANTS.items():
        what = spec[4]
        path = OUT / f"{name}.csv"
        if name in refused:
            lines.append(f"- no `{name}.csv` ({versions}): {what}. Keras refuses it at the first "
                         f"step, so there is no history: {refused[name].replace('`', '')}")
            continue
        if not path.exists():
            continue
        s = summarize(path)
        fmt = lambda t: " / ".join(f"{v:.4f}" for v in t)  # noqa: E731
        lines.append(
            f"- `{name}.csv` ({s['epochs']} epochs, {versions}): wrong: {what}. "
            f"Shows: {SHOWS[name]}: "
            f"loss {fmt(s['loss'])}; val_loss {fmt(s['val_loss'])}; "
            f"final val_accuracy {s['val_acc']:.4f}; "
            f"pred {', '.join(f'{v:.3f}' for v in s['val_frac'])}."
        )
    (OUT / "README.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=35)
    ap.add_argument("--only", nargs="*", choices=list(VARIANTS), default=None)
    args = ap.parse_args()
    if keras.backend.backend() != "torch":
        sys.exit("run with KERAS_BACKEND=torch")
    OUT.mkdir(parents=True, exist_ok=True)
    data = (make_set(N_TRAIN, 1), make_set(N_VAL, 2))
    true_frac = [float((data[1][1] == c).mean()) for c in range(1, NCLASSES)]
    print(f"keras {keras.__version__} torch {torch.__version__}; "
          f"val class shares {[round(1 - sum(true_frac), 3)] + [round(v, 3) for v in true_frac]}",
          flush=True)
    refused = {}
    for name in args.only or VARIANTS:
        _, err = train(name, data, args.epochs)
        if err:
            refused[name] = err
    if args.only is None:  # the README describes a full run only
        write_readme(refused, true_frac)
    for name in VARIANTS:
        path = OUT / f"{name}.csv"
        if path.exists():
            s = summarize(path)
            print(f"{name:20s} loss {s['loss']} val_loss {s['val_loss']} "
                  f"val_acc {s['val_acc']:.4f} pred {s['val_frac']}")


if __name__ == "__main__":
    main()
