#!/usr/bin/env bash
# Train the demo study on the synthetic fat phantom, one run after another,
# on one CPU thread. Re-running resumes unfinished runs and skips finished ones.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
COMMON=(--dataset fat --shape 256x128x1 --n-train 96 --epochs 24 --levels 4
        --base-filters 16 --batch-size 4 --seed 0 --threads 1 --root run --date 2026-11-23)

for attention in --no-attention --attention; do
  for dropout in 0 0.2 0.4; do
    "$PY" -m histkit.train --model unet --loss mdice $attention --optimizer AdaDelta \
        --dropout $dropout "${COMMON[@]}"
  done
done
"$PY" -m histkit.train --model unet --loss mdice --optimizer Adam --dropout 0.2 "${COMMON[@]}"
"$PY" -m histkit.train --model linknet --loss mdice --optimizer AdaDelta "${COMMON[@]}"
