"""Score histkit's diagnosis rules on labelled real trainings.

The labelled runs are ``bench/diagnose_devset.py``'s (histkit's trainer with
faults reachable from its options, seed 002's Keras runs) and the demo study
in ``run/`` (healthy by label; runs still training are left out). For each rule: how many runs it should fire
on, how many it fired on rightly (recall) and wrongly (precision), and over
all runs: the false-positive rate of error and warning findings on healthy
runs, and the share of faulty runs whose FIRST finding is the labelled one.

    python bench/diagnose_eval.py            # the table
    python bench/diagnose_eval.py --runs     # and each run's findings
    python bench/diagnose_eval.py --features # and the numbers the probe rules read

A finding counts as wrong only where the case neither expects nor allows
it (allowed: e.g. ``too_slow`` advice on a short healthy run).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import diagnose_devset as devset  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KERAS_CLASSES = 4  # bench/keras_seed002.py: background + 3 structures


def labelled() -> list[tuple[devset.Case, Path, int | None]]:
    """(case, history, classes) for every labelled run that exists."""
    runs = [(c, p, KERAS_CLASSES if p.parent.name == "keras" else None)
            for c, p in devset.labelled_runs()]
    demo = devset.Case("demo_study", (), allow=("too_slow", "wasted_epochs"),
                       note="run/: the shipped demo study")
    # labelled from its figure: validation VAT Dice 0.356 at epoch 14, 0.012 at 23
    lost = devset.Case("demo_linknet_dice", ("class_collapse",),
                       allow=("too_slow", "wasted_epochs"),
                       note="run/2026-12-02/linknet_2d_dice: loses VAT while its loss falls")
    runs += [(lost if p.parent.parent.name == "linknet_2d_dice" else demo, p, None)
             for p in sorted(ROOT.glob("run/*/*/*/*.csv")) if _complete(p)]
    return runs


def _complete(path: Path) -> bool:
    """A run of run/ that logged every epoch its name plans (not one still training)."""
    import warnings

    from histkit.names import parse_run_name

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        planned = parse_run_name(path.stem).epochs
    return planned is None or len(path.read_text().splitlines()) - 1 >= planned


def findings_of(runs) -> dict[Path, list[str]]:
    """Rule ids per run, in the order diagnose lists them (one pass per K)."""
    from histkit import read_histories
    from histkit.diagnosis import diagnose

    out: dict[Path, list[str]] = {p: [] for _, p, _ in runs}
    for classes in {k for _, _, k in runs}:
        paths = [str(p) for _, p, k in runs if k == classes]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = read_histories(paths)
            found = diagnose(batch.histories, classes, by=["path"])
        for path, rule in found.select(pl.col("path").cast(pl.String), "rule").iter_rows():
            out[Path(path)].append(rule)
    return out


def score(runs, found) -> tuple[pl.DataFrame, dict]:
    from histkit.diagnosis import RULES

    rows = []
    for rule in RULES:
        should = [p for c, p, _ in runs if rule in c.expect]
        fired = [p for _, p, _ in runs if rule in found[p]]
        wrong = [p for c, p, _ in runs if rule in found[p]
                 and rule not in c.expect and rule not in c.allow]
        hit = [p for p in should if rule in found[p]]
        rows.append({"rule": rule, "severity": RULES[rule].severity, "labelled": len(should),
                     "detected": len(hit), "fired": len(fired), "wrong": len(wrong),
                     "recall": len(hit) / len(should) if should else None,
                     "precision": (len(fired) - len(wrong)) / len(fired) if fired else None})
    serious = {r for r, v in RULES.items() if v.severity in ("error", "warning")}
    healthy = [(c, p) for c, p, _ in runs if not c.expect]
    faulty = [(c, p) for c, p, _ in runs if c.expect]
    fp = [p for c, p in healthy if serious & set(found[p]) - set(c.allow)]
    first_right = [p for c, p in faulty if found[p][:1] == [c.expect[0]]]
    missed = [p for c, p in faulty if not set(c.expect) <= set(found[p])]
    return pl.DataFrame(rows), {
        "runs": len(runs), "healthy": len(healthy), "faulty": len(faulty),
        "healthy_with_error_or_warning": len(fp),
        "false_positive_rate": len(fp) / len(healthy) if healthy else None,
        "right_rule_first": len(first_right) / len(faulty) if faulty else None,
        "faults_missed": len(missed),
        "missed": [str(p.relative_to(ROOT)) for p in missed],
        "false_positives": [str(p.relative_to(ROOT)) for p in fp],
    }


def print_features(runs) -> None:
    """The probe features of each run that has probes, one line each: where
    the probe thresholds come from."""
    from histkit.diagnosis.probe_features import probe_features
    from histkit.probes import probes_dir, read_probes

    def num(x):
        return f"{x:.3g}" if isinstance(x, float) else str(x)

    for case, path, _ in runs:
        if not probes_dir(path).is_dir():
            continue
        f = probe_features(read_probes(path))
        print(f"{case.id[:28]:28s} grad first {num(f.get('grad_first'))} max "
              f"{num(f.get('grad_max'))} min {num(f.get('grad_min'))}; dead "
              f"{num(f.get('dead_zeros'))}; saturated {num(f.get('saturated'))} share gap "
              f"{num(f.get('share_gap'))}; top share {num(f.get('top_predicted'))}/"
              f"{num(f.get('top_true'))}; input p01-p99 {num(f.get('input_spread'))} of "
              f"{num(f.get('input_range'))}")
    print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", action="store_true", help="also list each run's findings")
    ap.add_argument("--features", action="store_true",
                    help="also print the numbers the probe rules read, per run with probes")
    args = ap.parse_args(argv)
    runs = labelled()
    if not runs:
        print("no labelled runs: run bench/diagnose_devset.py first", file=sys.stderr)
        return 2
    found = findings_of(runs)
    table, totals = score(runs, found)
    if args.runs:
        for case, path, _ in runs:
            print(f"{case.id:30s} expect={','.join(case.expect) or '-':24s} "
                  f"found={','.join(found[path]) or '-'}")
        print()
    if args.features:
        print_features(runs)
    with pl.Config(tbl_rows=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True,
                   tbl_formatting="ASCII_MARKDOWN", float_precision=2):
        print(table)
    for k, v in totals.items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
