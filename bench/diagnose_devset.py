"""The labelled development set of histkit's diagnosis rules: real trainings.

Every faulty run here is a real ``histkit train`` run at a tiny size, with a
fault reachable from the trainer's options (a learning rate far too high or
far too low, a tiny training set with noisy labels, a sparsely annotated
foreground that cross-entropy collapses to background) or from its data folder. Healthy
runs train the same way with sane settings. Seed 002's Keras runs (softmax
fed to a from-logits loss, the seed's own SGD setup) are written by
``bench/keras_seed002.py`` into ``bench/diagnose_dev/keras/`` and labelled
in :data:`KERAS`.

Each case says which rules must fire (``expect``, the first one being the
diagnosis a user should read first) and which may (``allow``: advice such
as ``too_slow`` on a short healthy run). ``bench/diagnose_eval.py`` scores
the rules against these labels; the thresholds in ``histkit/diagnose.py``
were chosen on them.

    python bench/diagnose_devset.py            # train what is missing (~10 min on 2 cores)
    python bench/diagnose_devset.py --list     # the cases and their labels

Runs are resumable: a finished case is skipped, a killed one resumes.
Histories and their probes (less the histograms and images, which no rule
reads) go to ``bench/diagnose_dev/runs/<case>/`` (committed, about 7 MB);
generated data folders and checkpoints are not committed.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from histkit.probes import probes_dir

HERE = Path(__file__).resolve().parent
DEV = HERE / "diagnose_dev"
DATE = "2026-12-02"
SMALL = ["--shape", "64x64x1", "--n-train", "32", "--levels", "3", "--base-filters", "8"]


@dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[str, ...]          # rules that must fire, the primary one first
    options: tuple[str, ...] = ()    # histkit train options
    allow: tuple[str, ...] = ()      # rules that may fire without being wrong
    data: str | None = None          # a generated data folder (see make_folder)
    derive: str | None = None        # "swap": train/validation columns swapped
    note: str = ""


_SHORT = ("too_slow", "wasted_epochs")
#: what a run that blew up may show besides: the net dies after the jump
_AFTER_BLOWUP = ("oscillating", "stuck", "collapse_to_background", "val_better_than_train",
                 "one_class_predictions", "exploding_gradients", "vanishing_gradients",
                 "dead_relu", "saturated")
CASES: tuple[Case, ...] = (
    # healthy runs of every model and loss the trainer has
    Case("healthy_unet_mdice", (), (*SMALL, "--epochs", "30"), _SHORT),
    Case("healthy_unet_ce_adam", (), (*SMALL, "--loss", "ce", "--optimizer", "Adam",
                                      "--epochs", "30"), _SHORT),
    Case("healthy_unet_mix_adam", (), (*SMALL, "--loss", "bce25dice75", "--optimizer",
                                       "Adam", "--epochs", "30"), _SHORT),
    Case("healthy_linknet_dice", (), (*SMALL, "--model", "linknet", "--loss", "dice",
                                      "--optimizer", "Adam", "--epochs", "30"), _SHORT),
    Case("healthy_unet_ag_dr20", (), (*SMALL, "--attention", "--dropout", "0.2",
                                      "--epochs", "30"), _SHORT),
    Case("healthy_unet_bce_seed1", (), (*SMALL, "--loss", "bce", "--optimizer", "Adam",
                                        "--seed", "1", "--epochs", "30"), _SHORT),
    Case("healthy_linknet_mix", (), (*SMALL, "--model", "linknet", "--loss", "bce50dice50",
                                     "--epochs", "30"), _SHORT),
    Case("healthy_unet_dr40", (), (*SMALL, "--dropout", "0.4", "--epochs", "30"), _SHORT),
    # faults
    Case("diverged_sgd_lr100", ("diverged", "exploding_gradients"), (*SMALL, "--loss", "ce", "--optimizer", "SGD",
                                              "--lr", "100", "--epochs", "20"),
         _AFTER_BLOWUP),
    Case("diverged_bce_sgd_lr1e4", ("diverged", "exploding_gradients"), (*SMALL, "--loss", "bce", "--optimizer",
                                                  "SGD", "--lr", "10000", "--epochs", "20"),
         _AFTER_BLOWUP),
    Case("diverged_adam_lr10", ("one_class_predictions",), (*SMALL, "--loss", "ce",
                                                          "--optimizer", "Adam",
                                                          "--lr", "10", "--epochs", "20"),
         (*_AFTER_BLOWUP, "diverged"),
         note="blew up in epoch 0 (loss 35, val_loss 1.3e6) and came back to 0.57: not "
              "diverged by the rule's definition (an explosion that does not come back, "
              "issue 31); the net predicts one class"),
    Case("stuck_ce_sgd_lr1e-6", ("stuck",), (*SMALL, "--loss", "ce", "--optimizer", "SGD",
                                            "--lr", "1e-6", "--epochs", "20"),
         ("val_better_than_train",)),
    Case("stuck_mdice_sgd_lr1e-6", ("stuck",), (*SMALL, "--optimizer", "SGD",
                                               "--lr", "1e-6", "--epochs", "20"),
         ("val_better_than_train",)),
    Case("slow_ce_sgd_lr1e-4", ("too_slow",), (*SMALL, "--loss", "ce", "--optimizer", "SGD",
                                              "--lr", "1e-4", "--epochs", "30"),
         note="seed 002's optimizer (SGD, lr 1e-4, momentum 0.9) on the trainer"),
    Case("slow_bce_sgd_lr1e-3", ("too_slow",), (*SMALL, "--loss", "bce", "--optimizer", "SGD",
                                               "--lr", "1e-3", "--epochs", "30")),
    Case("collapse_sparse_ce", ("collapse_to_background",),
         ("--shape", "64x64x1", "--levels", "3", "--base-filters", "8", "--loss", "ce",
          "--optimizer", "SGD", "--lr", "1e-2", "--epochs", "30"),
         ("stuck", "too_slow"), data="sparse",
         note="foreground labelled on 3% of its pixels (sparse annotation)"),
    Case("collapse_sparse_bce", ("collapse_to_background",),
         ("--shape", "64x64x1", "--levels", "3", "--base-filters", "8", "--loss", "bce",
          "--optimizer", "Adam", "--epochs", "30"),
         ("stuck", "too_slow"), data="sparse"),
    Case("overfit_noisy_n4", ("overfitting",),
         ("--shape", "64x64x1", "--n-train", "4", "--n-val", "16", "--levels", "4",
          "--base-filters", "16", "--batch-size", "2", "--loss", "ce", "--optimizer", "Adam",
          "--lr", "3e-3", "--epochs", "120"),
         ("wasted_epochs", "oscillating"), data="noisy",
         note="20% of mask pixels relabelled at random; 4 training slices"),
    Case("oscillating_adam_lr0.05", ("oscillating",), (*SMALL, "--loss", "ce", "--optimizer",
                                                      "Adam", "--lr", "0.05", "--epochs", "20"),
         _SHORT),
    Case("oscillating_mdice_adam_lr0.1", ("oscillating",), (*SMALL, "--optimizer", "Adam",
                                                           "--lr", "0.1", "--epochs", "20"),
         _SHORT),
    # faults that the probes see (histkit's trainer writes them by default)
    Case("dead_relu_ce_adam_lr3", ("dead_relu",),
         (*SMALL, "--loss", "ce", "--optimizer", "Adam", "--lr", "3", "--epochs", "15"),
         (*_AFTER_BLOWUP, "diverged"),
         note="a step far too large blows the validation loss up in epoch 0 (4e5) and it comes "
              "back; the training loss falls 3.3 -> 0.32; a ReLU block ends dead"),
    Case("vanishing_dice_sgd_lr1000", ("vanishing_gradients", "saturated"),
         (*SMALL, "--loss", "dice", "--optimizer", "SGD", "--lr", "1000", "--epochs", "15"),
         ("oscillating", "wasted_epochs", "dead_relu", "exploding_gradients"),
         note="outputs pinned at 0 or 1 pass no gradient back"),
    Case("unnormalized_spikes", ("unnormalized_input",),
         ("--shape", "64x64x1", "--levels", "3", "--base-filters", "8", "--epochs", "20"),
         ("too_slow", "wasted_epochs", "stuck", "collapse_to_background", "oscillating"),
         data="outlier", note="one hot pixel per image, 500x the tissue (a spike artefact)"),
    Case("wasted_mdice_e80", ("wasted_epochs",), (*SMALL, "--epochs", "80")),
    Case("swapped_columns", ("val_better_than_train",),
         ("--shape", "64x64x1", "--n-train", "4", "--n-val", "16", "--levels", "4",
          "--base-filters", "16", "--batch-size", "2", "--loss", "ce", "--optimizer", "Adam",
          "--lr", "3e-3", "--epochs", "120"),
         ("wasted_epochs", "oscillating"), data="noisy", derive="swap",
         note="the overfitting run's history with train and validation columns swapped "
              "(mislabelled columns)"),
)

#: seed 002's Keras runs (bench/keras_seed002.py), by file stem
KERAS: dict[str, Case] = {
    c.id: c for c in (
        Case("double_softmax", ("double_softmax",), allow=("stuck", "too_slow")),
        Case("double_softmax_balanced", ("double_softmax",), allow=("stuck", "too_slow"),
             note="class-balanced weights: it segments, yet the loss stays on the floor"),
        Case("seed002_sgd", ("stuck",), allow=("too_slow", "double_softmax")),
        Case("healthy_logits", (), allow=_SHORT),
        Case("healthy_softmax", (), allow=_SHORT),
    )
}


def make_folder(kind: str, n: int = 40, size: int = 64, parent: Path | None = None) -> Path:
    """A data folder of phantom slices (PNG) with a fault in the masks.

    ``sparse``: foreground labelled on 3% of its pixels only, the rest of the
    fat labelled background (a sparse annotation: 0.6% of the pixels are
    foreground). ``noisy``: 20% of the pixels get a label drawn at random.
    ``outlier``: clean masks, but each image (NIfTI, float) has one hot pixel
    at 500 times the tissue's brightness, as a spike artefact gives; the
    trainer's min-max scaling then squeezes the anatomy into 0.2% of the range.
    The folder is ``<parent>/<kind>`` (default parent: the dev set's data/;
    tests/fixtures/make_diagnosis.py makes its own)."""
    import numpy as np
    from PIL import Image

    from histkit.train.phantom import phantoms

    folder = (DEV / "data" if parent is None else parent) / kind
    if (folder / "done").exists():
        return folder
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    x, y = phantoms(n, size, size, seed=7)
    labels = y.argmax(1)
    rng = np.random.default_rng(7)
    for i in range(n):
        lab = labels[i].copy()
        if kind == "sparse":
            lab = np.where(rng.random(lab.shape) < 0.03, lab, 0)
        elif kind == "outlier":
            pass
        elif kind == "noisy":
            flip = rng.random(lab.shape) < 0.2
            lab = np.where(flip, rng.integers(0, 3, lab.shape), lab)
        else:
            raise ValueError(kind)
        if kind == "outlier":
            import nibabel as nib

            img = x[i, 0].astype(np.float32) * 1000
            img[rng.integers(0, size), rng.integers(0, size)] = 500_000
            nib.save(nib.Nifti1Image(img[..., None], np.eye(4)),
                     folder / "images" / f"s{i:03d}.nii.gz")
        else:
            img = np.clip(x[i, 0] * 255, 0, 255).astype(np.uint8)
            Image.fromarray(img).save(folder / "images" / f"s{i:03d}.png")
        Image.fromarray(lab.astype(np.uint8)).save(folder / "masks" / f"s{i:03d}.png")
    (folder / "done").write_text("")
    return folder


def history_of(case: Case) -> Path | None:
    """The history CSV of a case, once trained (derived cases: the derived copy)."""
    found = sorted((DEV / "runs" / case.id).glob("*/*/*/*.csv"))
    return found[0] if found else None


def train(case: Case) -> Path:
    root = DEV / "runs" / case.id
    cmd = [sys.executable, "-m", "histkit", "train", *case.options, "--root", str(root),
           "--date", DATE, "--threads", "1", "--probe-every", "1000"]  # images: last epoch
    if case.data:
        cmd += ["--data", str(make_folder(case.data))]
    if case.derive:
        source = next(c for c in CASES if c.options == case.options and c.data == case.data
                      and not c.derive)
        return _derive(case, source, history_of(source) or train(source))
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{case.id}: histkit train failed:\n{out.stderr}")
    path = Path(out.stdout.strip().splitlines()[-1])
    for ckpt in root.glob("*/*/*/*.ckpt"):
        ckpt.unlink()
    # the probe rules read scalars, activations, shares and input; the histograms
    # and images are for people, and would double what the dev set weighs in git
    for heavy in ("histograms", "images"):
        shutil.rmtree(probes_dir(path) / heavy, ignore_errors=True)
    return path


def _derive(case: Case, source_case: Case, source: Path) -> Path:
    """``swap``: the same run with training and validation columns swapped."""
    with source.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]

    def swapped(name: str) -> str:
        return name[4:] if name.startswith("val_") else (
            f"val_{name}" if f"val_{name}" in header else name)

    out = DEV / "runs" / case.id / source.relative_to(DEV / "runs" / source_case.id)
    out = out.with_name(out.stem + "_swapped.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        csv.writer(f).writerow([swapped(h) for h in header])
        csv.writer(f).writerows(rows[1:])
    return out


def labelled_runs() -> list[tuple[Case, Path]]:
    """Every case that has a history, with its path (trainer runs, then Keras)."""
    runs = [(c, p) for c in CASES if (p := history_of(c)) is not None]
    for stem, case in KERAS.items():
        p = DEV / "keras" / f"{stem}.csv"
        if p.exists():
            runs.append((case, p))
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="print the cases and exit")
    ap.add_argument("--only", default=None, help="comma-separated case ids")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if args.only is None or c.id in args.only.split(",")]
    if args.list:
        for c in (*cases, *KERAS.values()):
            print(f"{c.id:32s} expect={','.join(c.expect) or 'healthy'}  {c.note}")
        return 0
    for i, case in enumerate(cases, 1):
        if (DEV / "runs" / case.id / "done").exists():
            print(f"[{i}/{len(cases)}] {case.id}: done", file=sys.stderr)
            continue
        print(f"[{i}/{len(cases)}] {case.id}: training", file=sys.stderr, flush=True)
        print(train(case))
        (DEV / "runs" / case.id / "done").write_text("")
    return 0


if __name__ == "__main__":
    sys.exit(main())
