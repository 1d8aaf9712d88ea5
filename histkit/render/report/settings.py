"""A report's settings: the options that change its figures, checked before
anything is read or drawn, and the digest that ties a figure to them.

Also the checks of the options that pick what is compared (``group_by``,
``metric``) and how many runs get a page (``pages``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json

import polars as pl

from ... import __version__
from ...analysis.stops import check_tolerance
from ...errors import OptionError
from ...labels import load_labels
from ...metrics import parse_telemetry
from ...names import FIELDS

__all__ = ["Settings", "make_settings", "check_settings", "check_pages", "check_metric",
           "candidate_groups", "group_fields", "DEFAULT_GROUP_BY", "GROUP_FIELDS",
           "REPORT_FORMATS", "PAGES"]

DEFAULT_GROUP_BY = ("attention", "dropout", "optimizer", "loss", "model")
GROUP_FIELDS = tuple(f for f in FIELDS if f != "name")
REPORT_FORMATS = ("png", "pdf", "svg")
PAGES = 500  # runs with figures and a page, at most (a page takes up to a second of CPU)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything besides the input bytes that changes a figure."""

    labels: tuple[tuple[str, str], ...]
    tolerance: float
    formats: tuple[str, ...]
    dpi: int
    base_size: float
    telemetry: tuple[str, ...] = ()
    all_metrics: bool = False

    def digest(self, *parts: bytes | str) -> str:
        """A content hash of these settings, histkit's version and ``parts``:
        a file whose digest is unchanged need not be drawn again."""
        h = hashlib.sha256(_spelled(self))
        for part in parts:
            h.update(b"\0")
            h.update(part.encode() if isinstance(part, str) else part)
        return h.hexdigest()


@functools.lru_cache(maxsize=8)
def _spelled(settings: Settings) -> bytes:
    """The settings and histkit's version as bytes, once per settings (a
    study of 100,000 runs asks for them 100,000 times)."""
    return json.dumps([__version__, dataclasses.asdict(settings)]).encode()


def make_settings(labels, tolerance, formats, dpi, base_size, telemetry=(),
                  all_metrics=False) -> Settings:
    """The checked settings: known figure formats (a PNG added for the
    thumbnails when neither PNG nor SVG is asked for), labels loaded, a valid
    tolerance and telemetry names."""
    fmts = []
    for f in formats:
        f = f.strip().lower().lstrip(".")
        if f not in REPORT_FORMATS:
            raise OptionError(f"figure format should be one of {', '.join(REPORT_FORMATS)}; "
                              f"got {f!r}")
        fmts.append(f)
    if not fmts:
        raise OptionError("give at least one figure format (png, pdf or svg)")
    if "png" not in fmts and "svg" not in fmts:
        fmts.append("png")  # the thumbnails need an image a browser can show
    return Settings(tuple(load_labels(labels).items()), check_tolerance(tolerance),
                    tuple(dict.fromkeys(fmts)), int(dpi), float(base_size),
                    parse_telemetry(telemetry), bool(all_metrics))


def check_settings(labels, tolerance, formats, dpi, pages=None) -> None:
    """The checks a report makes of its settings before drawing anything (the
    pipeline runs them before it trains)."""
    make_settings(labels, tolerance, formats, dpi, 11.0)
    if pages is not None:
        check_pages(pages)


def check_pages(pages) -> None:
    """``pages`` (the most runs that get a page) is a whole number, 0 or more."""
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 0:
        raise OptionError(f"pages should be a whole number, 0 or more; got {pages!r}")


def check_metric(have: set[str], metric: str | None) -> None:
    """A --metric the histories do not have fails before anything is drawn."""
    if metric is None or not have:
        return
    if metric not in have and metric.removeprefix("val_") not in have:
        raise OptionError(f"--metric {metric!r} is not a series of these runs; they have "
                          f"{', '.join(sorted(have))}")


def candidate_groups(group_by) -> list[str]:
    """The fields to gather comparison curves for while reading: those asked
    for (checked), or every default one (those that vary are drawn)."""
    if group_by is None:
        return list(DEFAULT_GROUP_BY)
    groups = list(dict.fromkeys(group_by))
    for g in groups:
        if g not in GROUP_FIELDS:
            raise OptionError(f"cannot group by {g!r}: should be one of "
                              f"{', '.join(GROUP_FIELDS)}")
    return groups


def group_fields(group_by, fields: pl.DataFrame) -> list[str]:
    """The comparison fields: those asked for, or the defaults that vary."""
    if not fields.height:
        return []
    if group_by is None:
        return [g for g in DEFAULT_GROUP_BY if fields[g].n_unique() > 1]
    return candidate_groups(group_by)
