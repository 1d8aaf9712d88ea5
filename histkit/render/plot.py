"""plotnine figures of histories.

:func:`plot_history` draws one run the way R keras' ``plot(history)`` does: x
epoch, y value, colour by data, points and lines, one facet per metric with a
free y scale, labelled from the lookup, ``theme_bw``, and a dashed vertical line
per early stop. The result is a plain plotnine ``ggplot``: add ``labs()``,
themes or scales to it as usual.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import polars as pl

from ..metrics import metric_filter, parse_telemetry, without_test
from ..errors import HistkitWarning, OptionError
from ..files import atomic_target
from ..readers import as_polars, to_history
from ..labels import load_labels

__all__ = ["plot_history", "plot_run", "plot_overlay", "plot_groups", "plot_group_curves",
           "plot_side_by_side", "plot_telemetry", "save_plot", "check_output", "facet_levels",
           "facets", "FORMATS"]

FORMATS = (".png", ".pdf", ".svg")


def facet_levels(metrics, lookup: dict[str, str], *, all_metrics: bool = False
                 ) -> tuple[list[str], dict[str, str]]:
    """Facet order and labels. With a lookup: exactly its metrics that are
    present, in its order (``all_metrics`` adds the others after them, in file
    order, under their raw names); a lookup none of whose metrics is present
    draws every metric, with a warning. Without a lookup: every metric."""
    present = list(dict.fromkeys(metrics))
    order = [m for m in lookup if m in present]
    if lookup and not order:
        warnings.warn(f"none of the labelled metrics ({', '.join(list(lookup)[:5])}) is in "
                      f"the history; drawing all of its metrics: {', '.join(present)}",
                      HistkitWarning, stacklevel=3)
    if all_metrics or not order:
        order += [m for m in present if m not in lookup]
    return order, {m: lookup.get(m, m) for m in order}


def _labelled(frame: pl.DataFrame, order: list[str], labels: dict[str, str]):
    """pandas copy with ``metric`` as an ordered categorical of labels;
    values a figure cannot place (inf, or beyond 1e150) are left out, with a
    warning, so one diverged epoch does not break the figure."""
    import pandas as pd

    frame = frame.filter(pl.col("metric").is_in(order))
    if "value" in frame.columns:
        drawable = pl.col("value").is_null() | (pl.col("value").abs() < 1e150)
        bad = frame.filter(~drawable)
        if bad.height:
            warnings.warn(f"{bad.height} value(s) too large to draw were left out of the "
                          f"figure (e.g. {bad['metric'][0]} = {bad['value'][0]:g} at epoch "
                          f"{bad['epoch'][0]})", HistkitWarning, stacklevel=3)
            frame = frame.filter(drawable)
        frame = _thinned(frame)
    df = frame.to_pandas()
    cats = list(dict.fromkeys(labels[m] for m in order))
    df["metric"] = pd.Categorical(df["metric"].map(labels), categories=cats, ordered=True)
    return df


#: the epoch ranges a curve of more points is drawn from (a figure is about
#: a thousand pixels wide: more points only cost time and memory)
DRAWN_RANGES = 2000


def _thinned(frame: pl.DataFrame) -> pl.DataFrame:
    """A curve of more than 2 x :data:`DRAWN_RANGES` points drawn from the
    lowest and highest value of each of that many epoch ranges (its spikes
    and its shape kept), with a warning that says so; a frame with other
    numeric columns (a band) as it is."""
    keys = [c for c in frame.columns if c not in ("epoch", "value")]
    schema = frame.schema
    if any(schema[c].is_numeric() for c in keys) or frame.height <= 2 * DRAWN_RANGES:
        return frame
    if frame.group_by(keys).len()["len"].max() <= 2 * DRAWN_RANGES:
        return frame
    e, v = pl.col("epoch"), pl.col("value")
    lo, hi = e.min().over(keys), e.max().over(keys)
    bucket = ((e - lo) * DRAWN_RANGES // (hi - lo + 1)).alias("_range")
    within = [*keys, "_range"]
    thin = (frame.with_columns(bucket)
            .filter((v == v.min().over(within)) | (v == v.max().over(within)))
            .unique([*within, "value"], keep="first", maintain_order=True)
            .drop("_range"))
    warnings.warn(f"{frame.height:,} points drawn as {thin.height:,}: each curve of more than "
                  f"{2 * DRAWN_RANGES:,} points by the lowest and highest value of each of "
                  f"{DRAWN_RANGES:,} epoch ranges", HistkitWarning, stacklevel=4)
    return thin


def facets(hist, lookup_table, metrics=None, *, all_metrics=False, telemetry=()):
    """What a figure of one or more runs draws: the long table of ``hist``
    (its metrics, or exactly the series ``metrics``), the facet order and the
    label of each facet (:func:`facet_levels`). Test and final values are
    never a curve."""
    long = without_test(to_history(as_polars(hist)))
    if metrics is None:
        long = metric_filter(long, parse_telemetry(telemetry))
    else:
        unknown = [m for m in metrics if m not in set(long["metric"])]
        if unknown:
            raise OptionError(f"metric {unknown[0]!r} is not in the history; it has "
                              f"{', '.join(long['metric'].unique(maintain_order=True))}")
        long = long.filter(pl.col("metric").is_in(list(metrics)))
    if long.is_empty():
        raise OptionError("nothing to plot: the history has no metric rows")
    lookup = load_labels(lookup_table)
    order, labels = facet_levels(long["metric"].to_list(), lookup,
                                 all_metrics=all_metrics or metrics is not None)
    return long, order, labels


def _theme(base_size: float):
    from plotnine import element_blank, theme, theme_bw

    return theme_bw(base_size=base_size) + theme(
        axis_title_y=element_blank(),
        legend_position="bottom",
    )


def plot_history(hist, lookup_table=None, segments=None, base_size: float = 11, *,
                 metrics=None, points: bool = True, lines: bool = True,
                 all_metrics: bool = False, telemetry=()):
    """One run's history as a faceted plotnine ggplot.

    ``hist``: long or wide table (polars or pandas). ``lookup_table``: labels
    (dict or file, see :func:`histkit.load_labels`): the figure has exactly
    the lookup's metrics, in its order, and ``all_metrics=True`` adds the
    rest. Telemetry (``lr``, ``epoch_time_s``...: :mod:`histkit.metrics`, plus
    the ``telemetry`` names) is never a facet here; see
    :func:`plot_telemetry`. ``segments``: a table with ``metric, data, epoch``
    (e.g. :func:`histkit.early_stoppings`), drawn as dashed lines coloured
    like their series. ``metrics`` draws exactly these series, telemetry
    included.
    """
    from plotnine import aes, facet_wrap, geom_line, geom_point, geom_vline, ggplot, labs

    long, order, labels = facets(hist, lookup_table, metrics, all_metrics=all_metrics,
                                telemetry=telemetry)
    df = _labelled(long.drop_nulls("value"), order, labels)
    p = ggplot(df, aes("epoch", "value", colour="data"))
    if lines:
        p += geom_line()
    if points:
        p += geom_point(size=1.5)
    if segments is not None:
        seg = as_polars(segments)
        if not {"metric", "data", "epoch"} <= set(seg.columns):
            raise OptionError("segments need the columns metric, data and epoch "
                              "(as early_stoppings() returns them)")
        seg = _labelled(seg.select("metric", "data", "epoch").drop_nulls(), order, labels)
        if len(seg):
            p += geom_vline(seg, aes(xintercept="epoch", colour="data"),
                            linetype="dashed", show_legend=False)
    return (p + facet_wrap("metric", scales="free_y")
            + labs(x="epoch", colour="data") + _theme(base_size))


def plot_run(hist, run_name: str, lookup_table=None, *, tolerance: float | None = 0.005,
             base_size: float = 11, metrics=None, title: str | None = None,
             subtitle: str | None = None, caption: str | None = None,
             all_metrics: bool = False, telemetry=()):
    """The figure ``histkit plot`` draws for one run: :func:`plot_history` with
    its early stops (none when ``tolerance`` is None) and the run name as the
    caption unless another is given, so a figure never carries a wrong name."""
    from plotnine import labs

    from ..analysis.stops import early_stoppings

    segments = None if tolerance is None else early_stoppings(hist, tolerance,
                                                              telemetry=telemetry)
    return plot_history(hist, lookup_table, segments, base_size, metrics=metrics,
                        all_metrics=all_metrics, telemetry=telemetry) + labs(
        title=title, subtitle=subtitle, caption=run_name if caption is None else caption)


def plot_overlay(hist, by: str = "run", lookup_table=None, data: str | None = "validation",
                 base_size: float = 11, segments=None, metrics=None,
                 all_metrics: bool = False, telemetry=()):
    """Several runs in one figure: one facet per metric, colour = ``by``.

    ``hist`` is a long table with a ``by`` column (``run``, or a
    hyperparameter such as ``dropout``). ``data`` keeps one series kind
    (``None`` keeps both, drawn solid and dashed).
    """
    from plotnine import aes, facet_wrap, geom_line, geom_vline, ggplot, labs

    long, order, labels = facets(hist, lookup_table, metrics, all_metrics=all_metrics,
                                telemetry=telemetry)
    if by not in long.columns:
        raise OptionError(f"cannot overlay by {by!r}: the table has columns "
                          f"{', '.join(long.columns)}")
    if data is not None:
        long = long.filter(pl.col("data") == data)
        if long.is_empty():
            raise OptionError(f"no {data} series to overlay")
    long = long.with_columns(pl.col(by).cast(pl.String))
    long = long.with_columns(series=pl.concat_str(pl.col(by), pl.col("data"), separator="/"))
    df = _labelled(long.drop_nulls("value"), order, labels)
    mapping = aes("epoch", "value", colour=by, group="series")
    if data is None:
        mapping = aes("epoch", "value", colour=by, linetype="data", group="series")
    p = ggplot(df, mapping) + geom_line()
    if segments is not None:
        seg = as_polars(segments)
        if data is not None:
            seg = seg.filter(pl.col("data") == data)
        seg = _labelled(seg.with_columns(pl.col(by).cast(pl.String))
                        .select(by, "metric", "epoch").drop_nulls(), order, labels)
        if len(seg):
            p += geom_vline(seg, aes(xintercept="epoch", colour=by), linetype="dashed",
                            show_legend=False)
    return (p + facet_wrap("metric", scales="free_y")
            + labs(x="epoch", colour=by) + _theme(base_size))


def plot_side_by_side(hist, by: str = "run", lookup_table=None, segments=None,
                      base_size: float = 11, *, metrics=None, all_metrics: bool = False,
                      telemetry=()):
    """Several runs as columns of one figure: a row per metric (free y
    scales), a column per value of ``by`` in the order they come, training
    and validation as in :func:`plot_history`, with their stops
    (``segments``, keyed by ``by`` too)."""
    import pandas as pd
    from plotnine import aes, facet_grid, geom_line, geom_point, geom_vline, ggplot, labs

    long, order, labels = facets(hist, lookup_table, metrics, all_metrics=all_metrics,
                                telemetry=telemetry)
    if by not in long.columns:
        raise OptionError(f"cannot put runs side by side by {by!r}: the table has columns "
                          f"{', '.join(long.columns)}")
    long = long.with_columns(pl.col(by).cast(pl.String))
    columns = long[by].unique(maintain_order=True).to_list()
    df = _labelled(long.drop_nulls("value"), order, labels)
    df[by] = pd.Categorical(df[by], categories=columns, ordered=True)
    p = ggplot(df, aes("epoch", "value", colour="data")) + geom_line() + geom_point(size=1)
    if segments is not None:
        seg = as_polars(segments).with_columns(pl.col(by).cast(pl.String))
        seg = _labelled(seg.select(by, "metric", "data", "epoch").drop_nulls(), order, labels)
        if len(seg):
            seg[by] = pd.Categorical(seg[by], categories=columns, ordered=True)
            p += geom_vline(seg, aes(xintercept="epoch", colour="data"), linetype="dashed",
                            show_legend=False)
    return (p + facet_grid(f"metric ~ {by}", scales="free_y")
            + labs(x="epoch", colour="data") + _theme(base_size))


def plot_groups(hist, by: str, lookup_table=None, base_size: float = 11, *,
                band_from: int = 3, all_metrics: bool = False, telemetry=()):
    """Validation curves of groups of runs, one facet per metric, colour =
    ``by``: a group of ``band_from`` runs or more is drawn as its mean with a
    band of one standard deviation either side (``geom_ribbon``), a smaller
    group as its runs. ``hist`` is a long table with ``run`` (an id) and
    ``by`` columns."""
    from ..analysis.curves import GroupCurves

    long = metric_filter(to_history(as_polars(hist)), parse_telemetry(telemetry))
    for col in (by, "run"):
        if col not in long.columns:
            raise OptionError(f"cannot group by {by!r}: the table has no {col!r} column")
    curves = GroupCurves(by, band_from)
    curves.add(long)
    return plot_group_curves(curves, lookup_table, base_size, all_metrics=all_metrics)


def plot_group_curves(curves, lookup_table=None, base_size: float = 11, *,
                      all_metrics: bool = False):
    """:func:`plot_groups` from curves gathered already
    (:class:`histkit.analysis.curves.GroupCurves`, built chunk by chunk over a
    study too large to hold)."""
    from plotnine import aes, facet_wrap, geom_line, geom_ribbon, ggplot, labs

    by, band_from = curves.by, curves.band_from
    if not curves.metrics:
        raise OptionError("no validation series to compare")
    order, labels = facet_levels(list(curves.metrics), load_labels(lookup_table),
                                 all_metrics=all_metrics)
    banded, single = curves.banded(), curves.single()
    # every (group, metric, epoch) drawn as the figure's data: its facets size the saved figure
    frame = pl.concat([banded.select(by, "metric", "epoch"),
                       single.select(by, "metric", "epoch")])
    p = ggplot(_labelled(frame, order, labels), aes("epoch", colour=by))
    if banded.height:
        df = _labelled(banded.rename({"mean": "value"}), order, labels)
        p += geom_ribbon(df, aes(x="epoch", ymin="lo", ymax="hi", fill=by), alpha=0.2,
                         inherit_aes=False, show_legend=False)
        p += geom_line(df, aes(y="value", group=by), size=1)
    if single.height:
        p += geom_line(_labelled(single, order, labels),
                       aes(y="value", group="run"), size=0.5)
    what = (f"mean and +-1 sd of groups of {band_from} runs or more"
            if banded.height else "one line per run")
    if banded.height and single.height:
        what += "; smaller groups run by run"
    return (p + facet_wrap("metric", scales="free_y")
            + labs(x="epoch", colour=by, caption=f"validation curves by {by}: {what}")
            + _theme(base_size))


def plot_telemetry(hist, base_size: float = 11, *, telemetry=()):
    """The telemetry of one run (learning rate, time and memory per epoch...)
    as a faceted plotnine ggplot, one facet per series with a free y scale.
    :class:`OptionError` when the history has none."""
    from plotnine import aes, facet_wrap, geom_line, geom_point, ggplot, labs

    long = metric_filter(to_history(as_polars(hist)), parse_telemetry(telemetry),
                         telemetry=True).drop_nulls("value")
    if long.is_empty():
        raise OptionError("the history has no telemetry (learning rate, epoch time, memory)")
    order = long["metric"].unique(maintain_order=True).to_list()
    df = _labelled(long, order, {m: m for m in order})
    return (ggplot(df, aes("epoch", "value", colour="data")) + geom_line()
            + geom_point(size=1) + facet_wrap("metric", scales="free_y")
            + labs(x="epoch", colour="data") + _theme(base_size))


def check_output(path: str | os.PathLike) -> Path:
    """The output path, or :class:`OptionError` for a suffix we cannot write."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise OptionError(f"cannot write {path}: the suffix should be one of "
                          f"{', '.join(FORMATS)}; got {path.suffix or '(none)'!r}")
    return path


def save_plot(plot, path: str | os.PathLike, *, width: float | None = None,
              height: float | None = None, dpi: int = 150) -> Path:
    """Write a figure (PNG, PDF or SVG by suffix) atomically: a reader never
    sees a half-written file. The default size fits the facet grid."""
    import math

    path = check_output(path)
    n = plot.data["metric"].nunique() if "metric" in plot.data else 1
    ncol = math.ceil(math.sqrt(n))
    width = width or 3.2 * ncol + 1.2
    height = height or 2.6 * math.ceil(n / ncol) + 1.6
    with atomic_target(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plotnine's "Saving ..." chatter
        try:
            plot.save(tmp, width=width, height=height, dpi=dpi, verbose=False)
        except (OverflowError, FloatingPointError) as exc:
            raise OptionError(f"cannot draw {path}: the values span more than a figure "
                              f"can scale ({exc})") from None
    return path
