"""From the series a framework logs to histkit's wide table.

Frameworks name their series in many ways (``val_loss``, ``valid_loss``,
``eval_loss``, ``loss/val``, ``Loss/validation``, ``train/loss``) and log them
per step or per epoch. Every source turns what it read into rows of
``(series, epoch, value)`` or ``(series, step, value)`` (parallel lists) and
hands them here,
so all sources name and reduce series the same way:

- :func:`split_series` says which metric a series is and whether it is the
  training or the validation one;
- :func:`epochs_from_steps` puts steps on epochs, through an ``epoch`` series
  when the framework logged one;
- :func:`per_epoch` keeps one value per epoch (Lightning's ``<m>_epoch``
  where it exists, else the mean of the epoch's steps, with a warning) and
  pivots to ``epoch`` plus one column per series (``val_<m>`` for validation,
  ``test_<m>`` for test and final values);
- :func:`trainings` tells the trainings of a log apart where its steps start
  again, and :func:`by_training` reads each into its own table.
"""

from __future__ import annotations

import bisect
import math
import re
import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError

__all__ = ["split_series", "column_name", "marked_names", "epochs_from_steps", "per_epoch",
           "trainings", "by_training", "TRAINING"]

#: the wide-table column that numbers the trainings of a log that holds several
TRAINING = "__training"

_VAL = r"val|valid|validation|eval|evaluation"
_TRAIN = r"train|training"
_TEST = r"test|testing"
_MARKED = [
    (re.compile(rf"^(?:avg_)?(?:{_TEST})[_/\-.](?P<m>.+)$", re.I), "test"),
    (re.compile(r"^final[_/\-.](?P<m>.+)$", re.I), "test"),
    (re.compile(rf"^(?P<m>.+)[/](?:{_TEST})$", re.I), "test"),
    (re.compile(rf"^(?:{_VAL})[_/\-.](?P<m>.+)$", re.I), "validation"),
    (re.compile(rf"^(?:{_TRAIN})[_/\-.](?P<m>.+)$", re.I), "training"),
    (re.compile(rf"^(?P<m>.+)[/](?:{_VAL})$", re.I), "validation"),
    (re.compile(rf"^(?P<m>.+)[/](?:{_TRAIN})$", re.I), "training"),
]
INDEX = frozenset({"epoch"})


def split_series(name: str) -> tuple[str, str]:
    """``(metric, data)`` of a logged series name.

    ``test_``/``avg_test_``/``final_`` (or ``/``) before the name, or
    ``/test`` after it, mark test and final values (``data = test``: shown in
    tables, never a curve, a stop or a diagnosis input);
    ``val_``/``valid_``/``validation_``/``eval_`` (or ``/``) before the name, or
    ``/val``/``/validation`` after it, mark validation; ``train_``/``train/``
    before or ``/train`` after mark training; anything else is training.
    """
    for pattern, data in _MARKED:
        m = pattern.match(name)
        if m:
            return m.group("m"), data
    return name, "training"


def column_name(metric: str, data: str) -> str:
    """The wide-table column of a series: ``<m>``, ``val_<m>`` or ``test_<m>``."""
    if data == "validation":
        return f"val_{metric}"
    return f"test_{metric}" if data == "test" else metric


def marked_names(columns: list[str]) -> dict[str, str]:
    """The renames that give a CSV's columns histkit's names where they mark
    their split another way (``train/box_loss``, ``val/box_loss``,
    ``train_loss``, ``eval_acc``, ``test/acc`` -> ``box_loss``,
    ``val_box_loss``, ``loss``, ``val_acc``, ``test_acc``: Ultralytics' and
    hand-written loggers' CSVs); Keras' own names are kept. A rename that
    would give two columns one name is not made."""
    new = {c: column_name(*split_series(c)) for c in columns if c != "epoch"}
    counts: dict[str, int] = {}
    for c in columns:
        n = new.get(c, c)
        counts[n] = counts.get(n, 0) + 1
    return {c: n for c, n in new.items() if n != c and counts[n] == 1}


def epochs_from_steps(series: list[str], steps: list[int], values: list[float], path: str,
                      *, what: str = "series") -> tuple[list[str], list[int], list[float]]:
    """``(series, step, value)`` rows -> ``(series, epoch, value)`` rows.

    A step logged twice in a series keeps its latest value. With an
    ``epoch`` series (Lightning and the autologgers log one), each value
    takes the epoch logged at its step (or the last one before it). Without
    one the steps are the epochs; when the series are logged at very
    different rates (per step and per epoch) a warning says the steps were
    taken as epochs all the same.

    Plain Python over lists: logs are small, and a few list passes beat a
    dozen table operations on them.
    """
    latest: dict[tuple[str, int], float] = {}
    for s, step, v in zip(series, steps, values):
        latest[(s, step)] = v
    epoch_at: dict[int, float] = {}
    rows = []
    for (s, step), v in latest.items():
        if s.lower() == "epoch":
            epoch_at[step] = v
        else:
            rows.append((s, step, v))
    if not rows:
        raise HistoryError(f"no {what} besides the epoch", path=path)
    if epoch_at:
        marks = sorted(epoch_at)
        first = epoch_at[marks[0]]
        out_e = []
        for _, step, _ in rows:
            i = bisect.bisect_right(marks, step) - 1
            out_e.append(_whole(epoch_at[marks[i]] if i >= 0 else first))
        return [r[0] for r in rows], out_e, [r[2] for r in rows]
    out_s, out_e, out_v, spread = _spread_iterations(rows, path)
    counts: dict[str, int] = {}
    for s in out_s:
        if s not in spread and split_series(s)[1] != "test":
            counts[s] = counts.get(s, 0) + 1
    if len(counts) > 1 and max(counts.values()) > 2 * min(counts.values()):
        dense = max(counts, key=counts.get)
        sparse = min(counts, key=counts.get)
        warnings.warn(f"{path}: no epoch is recorded, so steps are taken as epochs, but "
                      f"{dense!r} has {counts[dense]} steps and {sparse!r} {counts[sparse]}: "
                      "if that is per-step logging, log the epoch too (as an 'epoch' series)",
                      HistkitWarning, stacklevel=3)
    return out_s, out_e, out_v


def _spread_iterations(rows: list[tuple[str, int, float]], path: str):
    """Rows whose steps are epochs, but for series logged per iteration on
    another axis (steps over 4x the span of the per-epoch series, and over
    4x as many values): their steps are spread evenly over the epochs, with
    a warning that says so, so they never stretch the epoch axis. Test and
    final values and series of under 3 values are not counted."""
    spans: dict[str, list[int]] = {}
    for s, step, _ in rows:
        if split_series(s)[1] == "test":
            continue
        c = spans.get(s)
        if c is None:
            spans[s] = [1, step, step]
        else:
            c[0] += 1
            c[1], c[2] = min(c[1], step), max(c[2], step)
    ranged = sorted((c[2] - c[1] + 1, c[0], c[1]) for c in spans.values() if c[0] >= 3)
    if len(ranged) < 2:
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], {}
    width, count, lo = ranged[(len(ranged) - 1) // 2]  # the median span (lower middle)
    spread = {s: c for s, c in spans.items()
              if c[0] >= 3 and c[2] - c[1] + 1 > 4 * width and c[0] > 4 * count}
    if spread:
        said = ", ".join(f"{s!r} ({c[0]} values over steps {c[1]}-{c[2]})"
                         for s, c in list(spread.items())[:3])
        warnings.warn(f"{path}: {said} logged per iteration beside series logged per epoch "
                      f"(steps {lo}-{lo + width - 1}): spread evenly over those {width} epochs "
                      "and reduced to one value per epoch", HistkitWarning, stacklevel=4)
    out_s, out_e, out_v = [], [], []
    for s, step, v in rows:
        c = spread.get(s)
        if c is not None:
            step = lo + (step - c[1]) * width // (c[2] - c[1] + 1)
        out_s.append(s)
        out_e.append(step)
        out_v.append(v)
    return out_s, out_e, out_v, spread


def _whole(x: float) -> int:
    return int(round(x)) if math.isfinite(x) else 0


def per_epoch(series: list[str], epochs: list[int], values: list[float | None],
              path: str) -> pl.DataFrame:
    """``(series, epoch, value)`` rows (in logging order) -> the wide table.

    ``<m>_epoch`` is the epoch value of ``<m>`` and its ``<m>_step`` twin is
    dropped (Lightning's ``on_step=True, on_epoch=True``); a series with
    several values in an epoch is reduced to their mean, with a warning that
    names it. Columns keep the order of first appearance.
    """
    names = [s for s in dict.fromkeys(series) if s not in INDEX]
    if not names:
        raise HistoryError("no metric series in it", path=path)
    known = set(names)
    rename: dict[str, str] = {}
    for s in names:
        if s.endswith("_step") and s[:-5] + "_epoch" in known:
            continue
        base = s[:-6] if s.endswith("_epoch") else s[:-5] if s.endswith("_step") else s
        rename[s] = column_name(*split_series(base))
    _unify_case(rename)
    taken: dict[str, str] = {}
    for s, col in list(rename.items()):
        if col in taken:
            warnings.warn(f"{path}: {s!r} and {taken[col]!r} are both {col!r}; "
                          f"kept {taken[col]!r}", HistkitWarning, stacklevel=3)
            del rename[s]
        else:
            taken[col] = s
    sums: dict[tuple[str, int], list] = {}
    for s, e, v in zip(series, epochs, values):
        col = rename.get(s)
        if col is None or e is None:
            continue
        acc = sums.setdefault((col, e), [0.0, 0])
        if v is not None and v == v:
            acc[0] += v
            acc[1] += 1
    many: dict[str, int] = {}
    for (col, _), (_, n) in sums.items():
        if n > 1:
            many[col] = max(many.get(col, 0), n)
    if many:
        said = ", ".join(f"{c!r} (up to {n} values)" for c, n in list(many.items())[:4])
        more = f" and {len(many) - 4} more" if len(many) > 4 else ""
        warnings.warn(f"{path}: per-step values reduced to one per epoch by their mean: "
                      f"{said}{more}", HistkitWarning, stacklevel=3)
    order = list(dict.fromkeys(rename.values()))
    sums = _test_within(sums, path)
    index = sorted({e for _, e in sums})
    if not index:
        raise HistoryError("no metric values in it", path=path)
    table: dict[str, list] = {"epoch": index}
    for col in order:
        table[col] = [_mean(sums.get((col, e))) for e in index]
    return pl.DataFrame(table, schema={"epoch": pl.Int64, **{c: pl.Float64 for c in order}})


def _test_within(sums: dict, path: str) -> dict:
    """Test and final values sit at the epoch they were logged at, but never
    past the training's epochs (a final value logged at the last global
    step, say): those beyond are put on the last (or first) epoch. A test
    series of one value is the training's result: it sits on the last epoch
    (MLflow logs it at step 0 when no step is given)."""
    train = [e for (col, e) in sums if not col.startswith("test_")]
    if not train or len(train) == len(sums):
        return sums
    lo, hi = min(train), max(train)
    once = {col for col in {c for c, _ in sums if c.startswith("test_")}
            if sum(c == col for c, _ in sums) == 1}
    out: dict = {}
    for (col, e), acc in sums.items():
        if col in once:
            e = hi  # one test value: the end of training's, wherever it was logged
        elif col.startswith("test_") and not lo <= e <= hi:
            e = hi if e > hi else lo
            prev = out.get((col, e))
            if prev is not None:
                acc = [prev[0] + acc[0], prev[1] + acc[1]]
        out[(col, e)] = acc
    return out


def trainings(series: list[str], steps: list[int]) -> list[int]:
    """The training (1, 2, ...) of each row of a log (rows in logging order).

    A series whose step goes back to the first step of its current training,
    or before it, starts the next training: the log was written again from
    the start (a second run appended to the same file or directory). A step
    that goes back less is a resume from a checkpoint: the training goes on
    and its later values win."""
    state: dict[str, list[int]] = {}  # series -> [training, first step, last step]
    out = []
    for s, step in zip(series, steps):
        c = state.get(s)
        if c is None:
            state[s] = c = [1, step, step]
        elif step < c[2] and step <= c[1]:
            c[0] += 1
            c[1] = step
        c[2] = step
        out.append(c[0])
    return out


def by_training(series: list[str], steps: list[int], values: list[float], path: str, *,
                what: str = "series") -> pl.DataFrame:
    """``(series, step, value)`` rows of a log (in logging order) -> the wide
    table, each training of a log that holds several (:func:`trainings`)
    numbered in a :data:`TRAINING` column, with a warning.

    Values logged again at an earlier step after the training, each at one
    step only (a final or test evaluation logged at step 0, the best epoch's
    values logged again) are not a training: they are left out, with a
    warning that names them."""
    k = trainings(series, steps)
    n = max(k, default=1)
    if n == 1:
        return per_epoch(*epochs_from_steps(series, steps, values, path, what=what), path)
    later = [i for i, t in enumerate(k) if t > 1]
    per: dict[tuple[str, int], set[int]] = {}
    for i in later:
        per.setdefault((series[i], k[i]), set()).add(steps[i])
    if max(len(v) for v in per.values()) == 1:  # each "training" after the first: one step
        said = ", ".join(f"{series[i]!r} at step {steps[i]} ({values[i]:.4g})"
                         for i in later[:4])
        warnings.warn(f"{path}: values logged again at an earlier step after the training "
                      f"(final or test values?) were left out: {said}"
                      f"{' and more' if len(later) > 4 else ''}", HistkitWarning, stacklevel=3)
        keep = [i for i, t in enumerate(k) if t == 1]
        return per_epoch(*epochs_from_steps([series[i] for i in keep], [steps[i] for i in keep],
                                            [values[i] for i in keep], path, what=what), path)
    tables = []
    for t in range(1, n + 1):
        rows = [i for i, ti in enumerate(k) if ti == t]
        try:
            wide = per_epoch(*epochs_from_steps([series[i] for i in rows],
                                                [steps[i] for i in rows],
                                                [values[i] for i in rows], path, what=what), path)
        except HistoryError:
            continue  # a training that logged nothing but its epoch
        tables.append(wide.with_columns(pl.lit(len(tables) + 1, pl.Int64).alias(TRAINING)))
    if not tables:
        raise HistoryError(f"no {what} besides the epoch", path=path)
    if len(tables) == 1:
        return tables[0].drop(TRAINING)
    start = later[0]
    n = len(tables)
    warnings.warn(f"{path}: holds {n} trainings ({series[start]!r} starts again at step "
                  f"{steps[start]}); read as {n} runs, the first under the log's own name, "
                  f"the others as '#2'{'...' if n > 2 else ''}", HistkitWarning, stacklevel=3)
    return pl.concat(tables, how="diagonal_relaxed")


def _mean(acc) -> float | None:
    if not acc or not acc[1]:
        return None
    return acc[0] / acc[1]
def _unify_case(rename: dict[str, str]) -> None:
    """``train/loss`` and ``Loss/validation`` are one metric: where columns
    differ only in case, all take the lower-case spelling."""
    metric_case: dict[str, set[str]] = {}
    for col in rename.values():
        m = col[4:] if col.startswith("val_") else col
        metric_case.setdefault(m.lower(), set()).add(m)
    for s, col in rename.items():
        m = col[4:] if col.startswith("val_") else col
        if len(metric_case[m.lower()]) > 1:
            rename[s] = ("val_" if col.startswith("val_") else "") + m.lower()
