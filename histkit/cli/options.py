"""Options that several commands share, as decorators, so that every command
spells them the same way."""

from __future__ import annotations

import click

__all__ = ["tolerance_option", "strict_option", "format_option", "labels_option",
           "source_option", "telemetry_option", "all_metrics_option", "jobs_option",
           "comma_list"]


def _tolerance(value):
    from ..analysis.stops import check_tolerance
    from ..errors import OptionError

    try:
        return check_tolerance(value)
    except OptionError as exc:
        raise click.BadParameter(str(exc)) from None


def tolerance_option(f):
    return click.option("--tolerance", "-t", default="0.005", show_default=True,
                        callback=lambda ctx, p, v: _tolerance(v),
                        help="Stop at the first epoch within this distance of the best "
                             "value.")(f)


def strict_option(f):
    return click.option("--strict", is_flag=True,
                        help="Fail on run names outside the grammar instead of warning.")(f)


def format_option(*choices):
    def deco(f):
        return click.option("--format", "-f", "fmt", type=click.Choice(choices),
                            default=choices[0], show_default=True,
                            help="Output format.")(f)
    return deco


def labels_option(f):
    return click.option("--labels", "-l", "labels", envvar="HISTKIT_LABELS",
                        type=click.Path(dir_okay=False),
                        help="Metric labels: a .R file (name <- c(loss = \"Loss\", ...)), "
                             ".json or .toml. Also read from $HISTKIT_LABELS.")(f)


def source_option(f):
    from ..readers import SOURCES  # a dict of names; imports no reader

    return click.option("--source", type=click.Choice(list(SOURCES)),
                        help="Read every input with this reader instead of recognising "
                             "each one by its content.")(f)


def telemetry_option(f):
    return click.option("--telemetry", metavar="NAME,...",
                        callback=lambda ctx, p, v: _telemetry(v),
                        help="More series that are telemetry, not metrics (besides lr, "
                             "epoch_time_s, peak_mem_mb, time, step...): no stop, no "
                             "facet.")(f)


def _telemetry(value):
    from ..metrics import parse_telemetry

    return parse_telemetry(value)


def all_metrics_option(f):
    return click.option("--all-metrics", is_flag=True,
                        help="With --labels, also draw the metrics the labels do not "
                             "name, after them.")(f)


def jobs_option(f):
    return click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                        help="Worker processes for the figures [default: CPU count].")(f)


def comma_list(text: str | None) -> list[str]:
    """``"a, b,"`` -> ``["a", "b"]``."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]
