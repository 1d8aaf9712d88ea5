"""Reading many Keras CSV files at once: the shared parse against each file
read on its own.

``histkit.read_histories`` parses the plain Keras-style CSV files that share
a header with one polars call (``histkit.readers.keras.read_many``); every
other file goes through its reader, one file at a time. This bench times
both on the same generated sweep, interleaved, and checks that they give
the same table.

    python bench/read_together.py                 # 5,000 histories, 5 rounds
    python bench/read_together.py --files 2000 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ingest import generate

from histkit import readers
from histkit.readers import keras


def timed(paths: list[str], together: bool):
    plain = keras.plain_csv
    if not together:
        keras.plain_csv = lambda blob: None  # every file goes to its reader alone
    try:
        t = time.perf_counter()
        batch = readers.read_histories(paths)
        return time.perf_counter() - t, batch
    finally:
        keras.plain_csv = plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.files)
        paths = readers.find_histories([root])
        times = {True: [], False: []}
        tables = {}
        for _ in range(args.repeats):
            for together in (True, False):
                seconds, batch = timed(paths, together)
                times[together].append(seconds)
                tables[together] = batch.histories
    assert tables[True].equals(tables[False]), "the two paths gave different tables"
    for together, label in ((True, "together"), (False, "one by one")):
        t = times[together]
        print(f"{label:>10}: median {statistics.median(t):.2f} s "
              f"({min(t):.2f}-{max(t):.2f}) over {len(t)} rounds")
    ratio = statistics.median(times[False]) / statistics.median(times[True])
    print(f"one by one / together: {ratio:.1f}x "
          f"(worst pair {min(times[False]) / max(times[True]):.1f}x) on {args.files} files")


if __name__ == "__main__":
    main()
