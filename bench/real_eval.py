"""Score histkit's readers and diagnosis on real histories nobody here wrote.

``bench/real/<framework>/`` holds training histories that people's own
trainings wrote and committed to public repositories: each with its
provenance in ``SOURCES.csv`` (repository, path, commit) and a label in
``LABELS.csv`` given blind, from plots of the curves, before anyone looked at
histkit's output (healthy, faulty with the failure seen, or unclear; and
whether the log holds several trainings, test values or per-iteration
series). The histories were copied as the public file index gives them
(carriage returns dropped); TensorBoard event files are binary and the index
gives text only, so those stay out of the repository (``--tensorboard DIR``
points at a local copy; their rows in ``SOURCES.csv`` say where they came
from). See ``bench/real/README.md``.

This is the held-out estimate of the diagnosis rules: their thresholds were
chosen on the development set (``bench/diagnose_eval.py``), not here.

    python bench/real_eval.py                 # the tables
    python bench/real_eval.py --runs          # and each history's findings
    python bench/real_eval.py --tensorboard /work/real_tb
    python bench/real_eval.py --half b        # the half no threshold was tuned on

The corpus is cut in two halves by a hash of each history's id: after the
first look at the whole corpus (its numbers are in bench/README.md), the
rules were changed only from what half ``a`` showed; half ``b`` stays the
held-out estimate.

A history counts as flagged when it gets an error or a warning (a history
labelled ``too_slow`` also by that info finding); a healthy history with an
error is a false alarm (goal: at most 1 in 30). Unclear histories are read
and diagnosed but not scored.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent / "real"
SERIOUS = ("error", "warning")


@dataclass
class Entry:
    id: str
    framework: str
    locator: str
    label: str
    failure: str
    several: bool
    source: dict
    paths: list[str] = field(default_factory=list)
    told: list[str] = field(default_factory=list)
    problem: str | None = None
    findings: list[tuple[str, str, str]] = field(default_factory=list)  # rule, severity, text


def entries(tensorboard: Path | None) -> list[Entry]:
    """Every labelled history whose file is here."""
    out = []
    for sources in sorted(ROOT.glob("*/SOURCES.csv")):
        fw = sources.parent
        labels = {r["id"]: r for r in csv.DictReader(open(fw / "LABELS.csv", newline=""))}
        base = tensorboard if fw.name == "tensorboard" else fw
        for row in csv.DictReader(open(sources, newline="")):
            if base is None:
                continue
            where = base / row["file"].rstrip("/")
            lab = labels.get(row["id"])
            if lab is None or not where.exists():
                continue
            out.append(Entry(row["id"], row["framework"], str(where), lab["label"],
                             (lab.get("failure") or "").strip(),
                             lab.get("several_trainings", "no").startswith("yes"), row))
    return out


def half(id_: str) -> str:
    """``a`` or ``b``: the half of the corpus a history is in."""
    return "ab"[int(hashlib.sha1(id_.encode()).hexdigest(), 16) % 2]


def read_and_diagnose(found: list[Entry]) -> None:
    """Each history read on its own (its warnings kept with it), then one
    diagnosis of them all."""
    from histkit import read_histories
    from histkit.diagnosis import diagnose

    try:
        from histkit.names import split_training
    except ImportError:  # histkit before logs were split into trainings (a baseline)
        def split_training(p):
            return p, 1

    longs = []
    for e in found:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            batch = read_histories([e.locator])
        e.told = [str(w.message) for w in caught]
        if batch.problems:
            e.problem = str(batch.problems[0])
        e.paths = [p for p in batch.paths if p not in {x.path for x in batch.problems}]
        if batch.histories.height:
            longs.append(batch.histories.with_columns(pl.col("path").cast(pl.String)))
    if not longs:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found_rows = diagnose(pl.concat(longs, how="vertical_relaxed"), by=["path"])
    by_base = {e.locator: e for e in found}
    for path, rule, severity, evidence in found_rows.select(
            "path", "rule", "severity", "evidence").iter_rows():
        e = by_base.get(split_training(path)[0])
        if e is not None:
            e.findings.append((rule, severity, f"{Path(path).name}: {evidence}"))


def flagged(e: Entry) -> bool:
    return any(s in SERIOUS or (r == "too_slow" and e.failure == "too_slow")
               for r, s, _ in e.findings)


def handled(e: Entry) -> bool:
    """A log labelled as holding several trainings was split or warned about."""
    words = ("trainings", "fits appended", "resumed", "repeated epoch", "logged again")
    return len(e.paths) > 1 or any(any(w in t for w in words) for t in e.told)


def tables(found: list[Entry]) -> str:
    from histkit.diagnosis import RULES

    scored = [e for e in found if e.label in ("healthy", "faulty")]
    healthy = [e for e in scored if e.label == "healthy"]
    faulty = [e for e in scored if e.label == "faulty"]
    rows = []
    for rule, r in RULES.items():
        fired = [e for e in found if any(x == rule for x, _, _ in e.findings)]
        if not fired and not any(e.failure == rule for e in faulty):
            continue
        rows.append({
            "rule": rule, "severity": r.severity,
            "labelled": sum(e.failure == rule for e in faulty),
            "fired": len(fired),
            "right": sum(e.failure == rule for e in fired),
            "on_healthy": sum(e.label == "healthy" for e in fired),
            "on_unclear": sum(e.label == "unclear" for e in fired)})
    per_rule = pl.DataFrame(rows)
    frameworks = (pl.DataFrame([(e.framework, e.label) for e in found],
                               schema=["framework", "label"], orient="row")
                  .group_by("framework").agg(
                      histories=pl.len(), healthy=(pl.col("label") == "healthy").sum(),
                      faulty=(pl.col("label") == "faulty").sum(),
                      unclear=(pl.col("label") == "unclear").sum()).sort("framework"))
    errors_on_healthy = [e for e in healthy if any(s == "error" for _, s, _ in e.findings)]
    warned_healthy = [e for e in healthy if any(s == "warning" for _, s, _ in e.findings)]
    hit = [e for e in faulty if flagged(e)]
    named = [e for e in faulty if e.failure in RULES]
    first = [e for e in named if e.findings and e.findings[0][0] == e.failure]
    several = [e for e in found if e.several]
    lines = [
        "Histories by framework:", _md(frameworks), "",
        "Per rule (fired/right/on_healthy count histories):", _md(per_rule), "",
        f"histories: {len(found)} ({len(scored)} labelled healthy or faulty)",
        f"unreadable: {sum(e.problem is not None for e in found)}"
        + "".join(f"\n  {e.id}: {e.problem}" for e in found if e.problem),
        f"healthy with an error finding: {len(errors_on_healthy)} of {len(healthy)}"
        + "".join(f"\n  {e.id}: {e.findings[0][0]}" for e in errors_on_healthy),
        f"healthy with a warning (no error): "
        f"{len([e for e in warned_healthy if e not in errors_on_healthy])} of {len(healthy)}",
        f"faulty flagged (error or warning): {len(hit)} of {len(faulty)}"
        + "".join(f"\n  missed {e.id} ({e.failure})" for e in faulty if e not in hit),
        f"faulty whose first finding is the labelled rule: {len(first)} of {len(named)} "
        "(labels that name a rule)",
        f"logs labelled as holding several trainings, split or warned: "
        f"{sum(handled(e) for e in several)} of {len(several)}"
        + "".join(f"\n  not: {e.id}" for e in several if not handled(e)),
    ]
    return "\n".join(lines)


def _md(frame: pl.DataFrame) -> str:
    cols = frame.columns
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    out += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |"
            for row in frame.iter_rows()]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", action="store_true", help="each history's findings too")
    ap.add_argument("--tensorboard", type=Path, default=None,
                    help="the folder holding the TensorBoard histories (not committed)")
    ap.add_argument("--half", choices=("a", "b"), default=None,
                    help="score one half only (b: the held-out half)")
    args = ap.parse_args(argv)
    found = [e for e in entries(args.tensorboard) if args.half in (None, half(e.id))]
    read_and_diagnose(found)
    if args.runs:
        for e in found:
            rules = ", ".join(f"{r}({s[0]})" for r, s, _ in e.findings) or "-"
            print(f"{e.framework:12s} {e.id:55s} {e.label:7s} {e.failure or '-':22s} "
                  f"runs={len(e.paths)} {rules}")
            for r, s, t in e.findings[:3]:
                print(f"    {r}: {t[:150]}")
        print()
    print(tables(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
