"""Early stopping: the first epoch within a tolerance of the best, and a replay
of Keras' ``EarlyStopping`` callback.

For each (metric, data) series the best value is the minimum for loss-like
metrics and the maximum otherwise; the stop is the FIRST epoch whose value is
within ``tolerance`` of that best. Every series of many runs is computed in
one polars group-by.
"""

from __future__ import annotations

import dataclasses
import math

import polars as pl

from ..metrics import is_loss_like, metric_filter, parse_telemetry
from ..errors import OptionError
from ..readers import as_polars, to_history

__all__ = ["early_stoppings", "keras_stop", "KerasStop", "check_tolerance", "STOP_COLUMNS",
           "stops_at_last_epoch"]

STOP_COLUMNS = ("metric", "data", "epoch", "value", "best_epoch", "best_value")


def check_tolerance(tolerance) -> float:
    """The tolerance as a float; :class:`OptionError` unless positive and finite."""
    try:
        t = float(tolerance)
    except (TypeError, ValueError):
        raise OptionError(f"tolerance must be a positive number, got {tolerance!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise OptionError(f"tolerance must be a positive number, got {tolerance!r} "
                          "(e.g. 0.005, or 0.01 with relative=True for 1%)")
    return t


def _minimise(metrics, mode: dict | str | None) -> dict[str, bool]:
    out = {}
    for m in metrics:
        chosen = mode.get(m) if isinstance(mode, dict) else mode
        if chosen in (None, "auto"):
            out[m] = is_loss_like(m)
        elif chosen in ("min", "max"):
            out[m] = chosen == "min"
        else:
            raise OptionError(f"mode for {m!r} should be one of 'min', 'max', 'auto'; "
                              f"got {chosen!r}")
    return out


def early_stoppings(hist, tolerance: float = 0.005, *, relative: bool = False,
                    mode: dict[str, str] | str | None = None,
                    by: list[str] | None = None, telemetry=()) -> pl.DataFrame:
    """Stop epochs of every (metric, data) metric series of a history.

    ``hist`` is a long table (or a wide one, reshaped first), polars or
    pandas. Returns ``metric, data, epoch, value, best_epoch, best_value``:
    ``epoch``/``value`` is the first epoch with ``v <= best + tol`` (minimise)
    or ``v >= best - tol`` (maximise), ties on the best go to the first epoch,
    missing values are skipped. ``relative=True`` reads ``tolerance`` as a
    fraction of ``|best|``; ``mode`` maps metric -> ``'min'``/``'max'``.
    ``by`` are extra key columns (default: ``path``/``run`` when present),
    which lead the result. Telemetry (learning rate, times, memory: see
    :mod:`histkit.metrics`, plus the ``telemetry`` names) gets no stop.
    An infinite value (``inf``, ``1e400`` in a CSV) is never a best or a
    stop: it is missing here, with a warning that names its epochs
    (:func:`histkit.diagnosis.diagnose` calls such a run diverged).
    """
    tol = check_tolerance(tolerance)
    long = metric_filter(to_history(as_polars(hist)), parse_telemetry(telemetry))
    if by is None:
        by = [c for c in ("path", "run") if c in long.columns]
    metrics = long["metric"].unique(maintain_order=True).to_list()
    minimise = _minimise(metrics, mode)
    sign = (pl.col("metric").replace_strict({m: 1.0 if v else -1.0 for m, v in minimise.items()},
                                            return_dtype=pl.Float64))
    series = [*by, "metric", "data"]
    s, best = pl.col("s"), pl.col("best")
    # window min + plain group-by aggregations: polars' fast paths, no per-group lambdas
    _warn_infinite(long, by)
    lf = (long.lazy()
          .filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
          .with_columns(s=pl.col("value") * sign)
          .with_columns(best=s.min().over(series)))
    within = s <= best + (tol * best.abs() if relative else tol)
    # the first epoch is the smallest epoch number, whatever the row order
    stop = (lf.filter(within).group_by(series, maintain_order=True)
            .agg(pl.col("epoch").min(), pl.col("value").get(pl.col("epoch").arg_min())))
    at_best = (lf.filter(s == best).group_by(series)
               .agg(best_epoch=pl.col("epoch").min(), best_value=pl.col("value").first()))
    out = stop.join(at_best, on=series, how="left", maintain_order="left",
                    nulls_equal=True).collect()
    return out.select(*by, *STOP_COLUMNS)


def _warn_infinite(long: pl.DataFrame, by: list[str]) -> None:
    """One warning per series with infinite values, naming its epochs."""
    inf = pl.col("value").is_infinite()
    if not long.height or not long.select(inf.any()).item():
        return
    import warnings

    from ..errors import HistkitWarning, listed

    bad = (long.filter(inf).group_by([*by, "metric", "data"], maintain_order=True)
           .agg(pl.col("epoch").sort()))
    for row in bad.iter_rows(named=True):
        who = " ".join(str(row[k]) for k in by)
        epochs = row["epoch"]
        warnings.warn(f"{who + ': ' if who else ''}{row['data']} {row['metric']} is infinite "
                      f"at epoch{'s' if len(epochs) > 1 else ''} {listed(epochs)}: left out of "
                      "the stops",
                      HistkitWarning, stacklevel=3)


@dataclasses.dataclass(frozen=True)
class KerasStop:
    """Where Keras' ``EarlyStopping`` would have stopped a run.

    ``stopped`` is False when the rule never fired (the run went to its last
    epoch); ``stop_epoch`` is then None. ``restore_epoch`` is the epoch whose
    weights ``restore_best_weights=True`` would bring back.
    """

    monitor: str
    stopped: bool
    stop_epoch: int | None
    restore_epoch: int | None
    best_value: float | None
    epochs_run: int


def keras_stop(hist, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
               baseline: float | None = None, start_from_epoch: int = 0,
               mode: str = "auto") -> KerasStop:
    """Replay ``keras.callbacks.EarlyStopping`` over a logged history.

    ``monitor`` names a column of the wide history (``val_loss``). ``mode``
    ``'auto'`` minimises loss-like metrics (see :func:`is_loss_like`).
    Epochs are counted from the first row, as Keras counts them; the epochs
    reported are the file's own. Rows with a missing monitor value are
    skipped, as Keras skips them.
    """
    frame = as_polars(hist)
    if "metric" in frame.columns:
        data = "validation" if monitor.startswith("val_") else "training"
        name = monitor[4:] if data == "validation" else monitor
        frame = (frame.filter((pl.col("metric") == name) & (pl.col("data") == data))
                 .select("epoch", pl.col("value").alias(monitor)))
    elif "epoch" not in frame.columns:
        frame = frame.with_row_index("epoch", offset=1)
    if monitor not in frame.columns:
        raise OptionError(f"monitor {monitor!r} is not in the history; "
                          f"columns are {', '.join(c for c in frame.columns if c != 'epoch')}")
    if patience < 0 or start_from_epoch < 0:
        raise OptionError("patience and start_from_epoch must be >= 0")
    minimise = _minimise([monitor], mode)[monitor]
    delta = abs(float(min_delta))

    def improves(value, reference):
        if reference is None:
            return True
        return value + delta < reference if minimise else value - delta > reference

    best = None
    best_epoch = None
    wait = 0
    epochs = frame["epoch"].to_list()
    values = frame[monitor].to_list()
    for position, (epoch, value) in enumerate(zip(epochs, values)):
        if value is None or value != value or position < start_from_epoch:
            continue
        wait += 1
        if improves(value, best):
            best, best_epoch = value, epoch
            if baseline is None or improves(value, baseline):
                wait = 0
            continue
        if wait >= patience and position > 0:
            return KerasStop(monitor, True, epoch, best_epoch, best, position + 1)
    return KerasStop(monitor, False, None, best_epoch, best, len(epochs))


def stops_at_last_epoch(hist, patience: int, min_delta: float = 0.0,
                        monitor: str = "val_loss") -> bool:
    """Whether :func:`keras_stop` on ``monitor`` fires at the last epoch of a
    wide history: the rule of ``histkit train --early-stop-patience``. The
    trainer asks it after each epoch; a study plan asks it of a history that
    ended before its planned epochs, to tell a run that stopped early from one
    that was cut off. A history without the monitor column never stops."""
    frame = as_polars(hist)
    if monitor not in frame.columns:
        return False
    stop = keras_stop(frame, monitor=monitor, min_delta=min_delta, patience=patience)
    return stop.stopped and stop.epochs_run == frame.height
