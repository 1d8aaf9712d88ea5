"""One run's page of a report: ``runs/<stem>.html``, and what it is drawn from.

A :class:`RunPage` task is drawn in a worker process for each run whose
page is out of date. The page shows the run's history and telemetry figures
(drawn by its :class:`~.figures.RunFigure`, linked by name), all its
settings (the fields of its name and its sidecar JSON), its stops, its
diagnosis findings and, when ``histkit train`` wrote probes beside the
history, four probe figures (:mod:`histkit.render.probe_plots`) and the probe
images, copied into ``runs/<stem>.probes/`` so the report stays
self-contained. Links are relative and every name is escaped (jinja2
autoescape).
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path
from typing import ClassVar

import polars as pl

from ... import __version__
from ...errors import HistkitError, OptionError
from ...files import write_atomic
from ...sidecar import flat_settings, sidecar_path
from .settings import Settings
from .templating import template_env

__all__ = ["RunPage", "render_page", "run_settings", "PROBE_FIGURES"]

#: probe figures of a page: file kind, section title, what it shows
PROBE_FIGURES = (
    ("norms", "Weight and gradient norms",
     "Per layer over epochs, log scales: the weight norm, the gradient norm averaged over "
     "the epoch's steps, and the update ratio |dw| / |w| of the epoch. Gradients that shrink "
     "by orders of magnitude towards the first layers vanish; update ratios far above 1e-3 "
     "move the weights too fast, far below it barely move them."),
    ("histograms", "Weight and gradient histograms",
     "The first, middle and last layer's weights and gradients (last step of each epoch) as "
     "ridgelines: one ridge per epoch, the newest in front. x: the trainer's fixed bins of "
     "signed powers of ten."),
    ("activations", "Activations",
     "Per ReLU block on fixed validation images: the fraction of zeros (dead units), the "
     "mean and the standard deviation; and the fraction of output probabilities within 1e-3 "
     "of 0 or 1 (saturated)."),
    ("shares", "Class shares",
     "Predicted (solid) against true (dashed) share of each class on the validation set: a "
     "network that predicts one class only holds one line at 1."),
)


@dataclasses.dataclass
class RunPage:
    """One run's page: what it shows, gathered when it is planned (the run's
    history, name fields, sidecar settings and diagnosis findings; its
    probes are read when it is drawn)."""

    part: ClassVar[str] = "pages"  # its section of the manifest
    key: str  # the history's path
    entry: dict  # its manifest entry: digest, files, probes
    name: str
    stem: str  # of its files: runs/<stem>.html, ...
    hist: pl.DataFrame
    settings: Settings
    probes: bool  # whether probes lie beside the history
    sidecar: dict | None  # its settings file, flat, or None
    sidecar_path: Path | None
    fields: dict  # its name's fields
    figures: list[str]  # the run figure's files, linked
    telemetry: list[str]  # its telemetry figure, if any
    findings: pl.DataFrame | None = None  # the study's; None: diagnosed here
    written: bool = False  # set when the page was written, even with a problem

    def draw(self, out: str) -> tuple[str | None, list[str] | None]:
        """Write the page: :func:`render_page`."""
        return render_page(out, self)

    def problem(self, error: str) -> HistkitError:
        return HistkitError(f"run page: {error}", path=self.key)

def render_page(out: str, task: RunPage) -> tuple[str | None, list[str] | None]:
    """Write the page of one run; ``(problem or None, the files written)``.

    Unreadable probes or a probe figure that fails are a problem, but the page
    is still written (without them); ``files`` is None when it was not."""
    out = Path(out)
    stem = task.stem
    errors: list[str] = []
    written: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = _context(out, task, errors, written)
        page = f"runs/{stem}.html"
        html = template_env().get_template("run.html.j2").render(**context)
        write_atomic(out / page, html.encode())
    except Exception as exc:  # noqa: BLE001 - one problem of this run
        return f"{type(exc).__name__}: {exc}", None
    return ("; ".join(errors) or None), [page, *written]


def _context(out: Path, task: RunPage, errors: list[str], written: list[str]) -> dict:
    """What the page template reads; draws the probe figures and copies the
    probe images on the way (``written``), noting what failed (``errors``)."""
    from ...diagnosis import VERDICTS, diagnose
    from ...analysis.stops import early_stoppings

    s = task.settings
    lookup = dict(s.labels)
    hist = task.hist
    name = task.name
    stops = early_stoppings(hist, s.tolerance, telemetry=s.telemetry)
    probes, probe_note = None, None
    if task.probes:
        from ...probes import read_probes

        try:
            probes = read_probes(task.key)
        except HistkitError as exc:
            probe_note = f"the probes cannot be read: {exc.message}"
            errors.append(probe_note)
    findings = task.findings  # the study's diagnosis, planned with the page
    if findings is None:
        findings = diagnose(hist, run=name, telemetry=s.telemetry,
                            probes=probes if probes is not None else False).drop("run")
    figures = task.figures
    image = next((f for f in figures if f.endswith((".png", ".svg"))), None)
    context = {
        "run": name, "path": task.key, "version": __version__,
        "tolerance": s.tolerance,
        "epochs": hist["epoch"].n_unique() if "epoch" in hist.columns else 0,
        "figure": _here(image), "figures": [_here(f) for f in figures],
        "telemetry": _here(task.telemetry[0]) if task.telemetry else None,
        "fields": {k: (str(v).lower() if isinstance(v, bool) else v)
                   for k, v in task.fields.items() if v not in (None, "")},
        "sidecar": task.sidecar,
        "sidecar_name": task.sidecar_path.name if task.sidecar_path else None,
        "stops": _stops(stops, lookup),
        "findings": findings.to_dicts(),
        "verdict": VERDICTS.get(findings["severity"][0], "healthy") if findings.height
        else "healthy",
        "has_probes": bool(task.probes), "probe_note": probe_note, "probe_figures": [],
        "images": [],
    }
    if probes is not None:
        _probes(out, task, probes, context, errors, written)
    return context


def _here(file: str | None) -> str | None:
    """A report path (``runs/x.png``) relative to the page, which is in runs/."""
    return file.split("/", 1)[1] if file else None


def _stops(stops: pl.DataFrame, lookup: dict) -> list[dict]:
    """Rows of the stops table: labelled metrics first, in the labels' order."""
    rows = stops.to_dicts()
    order = {}
    for m in [*lookup, *(r["metric"] for r in rows)]:
        order.setdefault(m, len(order))
    rows.sort(key=lambda r: (order[r["metric"]], r["data"] != "training"))
    return [{**r, "label": lookup.get(r["metric"], r["metric"])} for r in rows]


def _probes(out: Path, task: RunPage, probes, context: dict, errors: list[str],
            written: list[str]) -> None:
    """The probe figures (:data:`PROBE_FIGURES`) and images of the page; a
    figure that cannot be drawn leaves a note in its place."""
    from .. import probe_plots as pp
    from ..plot import save_plot

    s = task.settings
    stem = task.stem
    draw = {"norms": pp.plot_norms, "histograms": pp.plot_histograms,
            "activations": pp.plot_activations, "shares": pp.plot_shares}
    for kind, title, about in PROBE_FIGURES:
        item = {"kind": kind, "title": title, "about": about, "file": None, "note": None}
        try:
            fig = draw[kind](probes, s.base_size)
            width, height = (pp.FIGURE_SIZES[kind] if kind in pp.FIGURE_SIZES
                             else pp.histogram_size(probes))
            f = f"runs/{stem}.{kind}.png"
            save_plot(fig, out / f, width=width, height=height, dpi=s.dpi)
            written.append(f)
            item["file"] = _here(f)
        except OptionError as exc:
            item["note"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - the page goes on without it
            item["note"] = f"cannot draw: {type(exc).__name__}: {exc}"
            errors.append(f"{kind} figure: {item['note']}")
        context["probe_figures"].append(item)
    context["images"] = _copy_images(out, stem, probes.images, written)


def _copy_images(out: Path, stem: str, images: pl.DataFrame, written: list[str]) -> list[dict]:
    """Copy the probe PNGs into ``runs/<stem>.probes/``; one row per epoch."""
    rows: dict[int, dict] = {}
    n_act = int(images.filter(pl.col("kind") == "activation")["index"].max() or 0) + 1 \
        if images.height else 0
    names = (["first ReLU", "middle ReLU", "last ReLU"] if n_act == 3
             else [f"ReLU {i}" for i in range(n_act)])
    for r in images.sort("epoch", "kind", "index").iter_rows(named=True):
        src = Path(r["path"])
        if not re.fullmatch(r"[A-Za-z0-9._-]+\.png", src.name):
            continue
        f = f"runs/{stem}.probes/{src.name}"
        write_atomic(out / f, src.read_bytes())
        written.append(f)
        row = rows.setdefault(r["epoch"], {"epoch": r["epoch"], "predictions": None,
                                           "activation": [], "gradient": []})
        if r["kind"] == "predictions":
            row["predictions"] = _here(f)
        else:
            i = r["index"]
            row[r["kind"]].append({"file": _here(f),
                                   "label": names[i] if i < len(names) else f"ReLU {i}"})
    return [rows[e] for e in sorted(rows)]


def run_settings(path: str, problems: list) -> tuple[dict | None, bytes]:
    """The settings of a ``<run>.csv`` history from its sidecar, as a flat
    ``{key: text}`` (:func:`histkit.sidecar.flat_settings`), and the
    sidecar's bytes; none for another kind of history or a run without one.
    A sidecar that is not a JSON object is a problem of the report."""
    side = sidecar_path(path) if Path(path).suffix.lower() == ".csv" else None
    if side is None or not side.is_file():
        return None, b""
    try:
        data = side.read_bytes()
        value = json.loads(data)
        if not isinstance(value, dict):
            raise ValueError(f"a JSON object was expected, not {type(value).__name__}")
    except (OSError, ValueError) as exc:
        problems.append(HistkitError(f"the run's settings file cannot be read: {exc}",
                                     path=str(side)))
        return None, b""
    return flat_settings(value), data
