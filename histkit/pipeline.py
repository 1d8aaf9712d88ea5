"""Declarative studies: a TOML file names a grid of training runs and the
report over them; :func:`run_pipeline` trains what is missing, resumes what is
partial, then builds the report.

A run's state is read from its history, never guessed: no CSV is *missing*,
fewer logged epochs than the name's ``E<e>`` is *partial*, the rest is
*complete*; so is a shorter history where the study's early-stopping rule,
replayed with :func:`~histkit.analysis.stops.stops_at_last_epoch` (the trainer's own
check), fires at the last epoch (the trainer stopped it). Training goes through
the ``histkit train`` command in a subprocess (``train_command`` points
elsewhere, e.g. a stub in tests), so this module never imports torch. The file
format is described in ``pipelines/README.md``.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import math
import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path
from typing import Callable

from .errors import HistkitError
from .files import plain_name

__all__ = ["load_study", "plan_study", "run_pipeline", "Study", "Plan", "PlannedRun",
           "PipelineResult", "PipelineError", "TRAIN_KEYS", "REPORT_KEYS", "STUDY_KEYS"]


class PipelineError(HistkitError):
    """A study file that cannot be read or does not describe a study."""


def _train_keys() -> dict:
    """Study-file keys -> (type, trainer option): the settings TrainConfig says
    a study may give (a flag that is on by default is given as --no-<flag>)."""
    from .train.config import settings_of

    return {s.name: (s.kind, (f"--no-{s.option[2:]}" if s.kind is bool and s.default
                              else s.option)) for s in settings_of("study")}


TRAIN_KEYS = _train_keys()
_NAME_KEYS = ("model", "loss", "optimizer", "dataset", "shape", "n_train", "epochs",
              "levels", "base_filters")
STUDY_KEYS = {"name": str, "root": str, "date": str, "max_runs": int}
#: the most runs a grid may plan unless the study's max_runs or --yes says more
MAX_RUNS = 1000
REPORT_KEYS = {"output": str, "labels": str, "tolerance": float, "group_by": list,
               "title": str, "formats": list, "dpi": int, "jobs": int, "metric": str,
               "pages": int}
_SECTIONS = {"study": STUDY_KEYS, "train": TRAIN_KEYS, "grid": TRAIN_KEYS,
             "report": REPORT_KEYS}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True)
class Study:
    """A checked study file. Paths are relative to the current directory."""

    path: str
    name: str
    root: str
    date: str | None
    train: dict
    grid: dict[str, list]
    report: dict

    def settings(self) -> list[dict]:
        """Every run's training settings: the shared ones crossed with the grid."""
        keys = list(self.grid)
        return [{**self.train, **dict(zip(keys, values))}
                for values in itertools.product(*(self.grid[k] for k in keys))]

    def configs(self) -> list:
        """Every run as the trainer's :class:`~histkit.train.TrainConfig`, checked:
        the one definition of a run's settings and of its name."""
        from .train.config import TrainConfig
        from .train.errors import TrainError

        out = []
        for settings in self.settings():
            try:
                out.append(TrainConfig(**settings, root=self.root, date=self.date).validate())
            except TrainError as exc:
                varied = {k: settings[k] for k in self.grid}
                raise PipelineError(f"{exc.message}" + (f" (the run with {_show(varied)})"
                                                        if varied else ""),
                                    path=self.path) from None
        return out


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of the grid: its name, its history file and what to do."""

    name: str
    path: str
    status: str             # missing | partial | complete
    epochs_logged: int
    epochs: int
    command: tuple[str, ...]
    stopped_early: bool = False

    @property
    def action(self) -> str:
        return {"missing": "train", "partial": "resume", "complete": "keep"}[self.status]


@dataclasses.dataclass(frozen=True)
class Plan:
    study: Study
    runs: tuple[PlannedRun, ...]
    train_command: tuple[str, ...]

    @property
    def todo(self) -> list[PlannedRun]:
        return [r for r in self.runs if r.status != "complete"]

    def describe(self, *, only_report: bool = False) -> list[str]:
        """Lines for a dry run: each run's state and command, then the report."""
        import shlex

        lines = []
        for r in self.runs:
            todo = r.status != "complete" and not only_report
            lines.append(f"{r.action if todo else 'keep':6}  {r.status:8}  "
                         f"{r.epochs_logged:>3}/{r.epochs:<3}  {r.path}"
                         + ("  (stopped early)" if r.stopped_early else ""))
            if todo:
                lines.append(f"        $ {shlex.join(r.command)}")
        rep = self.study.report
        lines.append(f"report  {len(self.runs)} runs -> {Path(rep['output']) / 'index.html'}")
        return lines


@dataclasses.dataclass
class PipelineResult:
    plan: Plan
    trained: list[str]
    report: object          # histkit.render.report.Report
    problems: list[HistkitError]


# ---------------------------------------------------------------------------
# the study file


def load_study(path: str | os.PathLike, *, yes: bool = False) -> Study:
    """Read and check a study file; :class:`PipelineError` names the bad key.
    A grid of more than :data:`MAX_RUNS` runs (or the study's ``max_runs``)
    is refused before it is planned, unless ``yes``."""
    path = str(path)
    data = _read_toml(path)
    for section, value in data.items():
        if section not in _SECTIONS:
            raise PipelineError(f"unknown section [{section}]; allowed: "
                                f"{', '.join(f'[{s}]' for s in _SECTIONS)}", path=path)
        if not isinstance(value, dict):
            raise PipelineError(f"{section!r} should be a [{section}] table", path=path)
    study = _section(data, "study", path)
    train = _section(data, "train", path)
    grid = {k: _grid_values(k, v, path) for k, v in data.get("grid", {}).items()}
    both = sorted(set(train) & set(grid))
    if both:
        raise PipelineError(f"{both[0]!r} is in both [train] and [grid]; keep one", path=path)
    missing = [k for k in _NAME_KEYS if k not in train and k not in grid]
    if missing:
        raise PipelineError(f"the runs need {', '.join(missing)}: give them in [train] "
                            "or [grid]", path=path)
    date = study.get("date")
    if date is not None and not _DATE.match(date):
        raise PipelineError(f"[study] date {date!r} should be YYYY-MM-DD", path=path)
    name = study.get("name", Path(path).stem)
    if not plain_name(name):
        raise PipelineError(f"[study] name {name!r} must be a plain name, not a path: the "
                            "report goes to reports/<name>", path=path)
    report = {"output": f"reports/{name}", "labels": None, "tolerance": 0.005,
              "group_by": None, "title": None, "formats": ["png"], "dpi": 100, "jobs": None,
              "metric": None, "pages": None,
              **_section(data, "report", path)}
    _check_report(report, path)
    found = Study(path, name, study.get("root", "run"), date, train, grid, report)
    planned = math.prod(len(v) for v in grid.values())
    most = study.get("max_runs", MAX_RUNS)
    if planned > most and not yes:
        raise PipelineError(f"the grid plans {planned:,} runs, more than {most:,}; run it "
                            "with --yes, or set [study] max_runs, if that many is meant",
                            path=path)
    _check_distinct(found, found.configs())
    return found


def _show(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def _check_distinct(study: Study, configs: list) -> None:
    """Two runs of the grid that would write one history: a grid over a setting
    the run name does not show (schedules, precision, probes)."""
    seen: dict[str, dict] = {}
    for settings, cfg in zip(study.settings(), configs):
        first = seen.setdefault(cfg.name, settings)
        if first is not settings:
            differ = [k for k in study.grid if first.get(k) != settings.get(k)]
            raise PipelineError(
                f"the grid gives two runs with one name, {cfg.name}: they differ only in "
                f"{', '.join(differ)}, which the run name does not show; give one value in "
                "[train] and make a study per value", path=study.path)


def _read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise PipelineError("no such study file", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"invalid TOML: {exc}", path=path) from None
    except OSError as exc:
        raise PipelineError(f"cannot read: {exc.strerror or exc}", path=path) from None


def _check_report(report: dict, path: str) -> None:
    """Catch bad report settings now, not after hours of training: the report's
    own checks (formats, tolerance, the labels file), run before any training."""
    from .render.report import GROUP_FIELDS, check_settings

    bad = [v for v in report["group_by"] or [] if v not in GROUP_FIELDS]
    if bad:
        raise PipelineError(f"[report] group_by: {bad[0]!r} should be one of "
                            f"{', '.join(GROUP_FIELDS)}", path=path)
    try:
        check_settings(report["labels"], report["tolerance"], report["formats"],
                       report["dpi"], report["pages"])
    except HistkitError as exc:
        raise PipelineError(f"[report] {exc}", path=path) from None


def _section(data: dict, section: str, path: str) -> dict:
    """The keys of one table, each checked against its allowed type."""
    allowed = _SECTIONS[section]
    out = {}
    for key, value in data.get(section, {}).items():
        if key not in allowed:
            _unknown(section, key, allowed, path)
        want = allowed[key][0] if isinstance(allowed[key], tuple) else allowed[key]
        out[key] = _typed(section, key, value, want, path)
    return out


def _unknown(section: str, key: str, allowed, path: str):
    raise PipelineError(f"unknown key {key!r} in [{section}]; allowed: "
                        f"{', '.join(sorted(allowed))}", path=path)


def _typed(section: str, key: str, value, want: type, path: str):
    ok = (isinstance(value, want) and not (want is int and isinstance(value, bool))
          or want is float and isinstance(value, int) and not isinstance(value, bool))
    if want is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not ok:
        kind = "a list of strings" if want is list else f"a {want.__name__}"
        raise PipelineError(f"[{section}] {key} should be {kind}; got {value!r}", path=path)
    return float(value) if want is float else value


def _grid_values(key: str, values, path: str) -> list:
    if key not in TRAIN_KEYS:
        _unknown("grid", key, TRAIN_KEYS, path)
    if not isinstance(values, list) or not values:
        raise PipelineError(f"[grid] {key} should be a non-empty list of values; "
                            f"got {values!r}", path=path)
    return [_typed("grid", key, v, TRAIN_KEYS[key][0], path) for v in values]


# ---------------------------------------------------------------------------
# planning


def _read_quietly(path: Path):
    """The wide history, or None when it cannot be read (the trainer resumes or
    restarts it)."""
    from .readers import read_history

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_history(path)
    except HistkitError:
        return None


def _locate(study: Study, name: str, model_dir: str, dataset_dir: str):
    """(path, wide history) of a run: at the study's date, or else the one with
    the most epochs under any date of the root; (None, None) when there is no
    file, a None table when it cannot be read. Each file is read once."""
    root = Path(study.root)
    if study.date:
        path = root / study.date / model_dir / dataset_dir / f"{name}.csv"
        return (path, _read_quietly(path)) if path.is_file() else (None, None)
    found = [(p, _read_quietly(p))
             for p in sorted(root.glob(f"*/{model_dir}/{dataset_dir}/{name}.csv"))]
    return max(found, key=lambda f: _height(f[1]), default=(None, None))


def _height(hist) -> int:
    """Logged epochs of a history; 0 when it cannot be read."""
    return 0 if hist is None else hist.height


def _stopped_early(hist, settings: dict) -> bool:
    """Whether the trainer's early-stopping rule fires at the last logged epoch
    of this history, as it did when the trainer stopped."""
    if settings.get("early_stop_patience") is None:
        return False
    from .analysis.stops import stops_at_last_epoch

    return stops_at_last_epoch(hist, settings["early_stop_patience"],
                               settings.get("early_stop_min_delta", 0.0))


def plan_study(study: Study, *, train_command: list[str] | None = None,
               today: str | None = None) -> Plan:
    """Each run of the grid with its state and the trainer command that
    would train or resume it (``train_command`` + the options)."""
    from .names import parse_run_name
    from .sidecar import read_sidecar

    base = list(train_command or [sys.executable, "-m", "histkit", "train"])
    runs = []
    for settings, cfg in zip(study.settings(), study.configs()):
        name = cfg.name
        parsed = parse_run_name(name)
        path, hist = _locate(study, name, parsed.model_dir, parsed.dataset_dir)
        recorded = (read_sidecar(path) or {}).get("settings") if path is not None else None
        changed = cfg.differences(recorded) if recorded else []
        if changed:
            raise PipelineError(f"run {name} exists trained with {', '.join(changed)}; "
                                "give the study the settings it was trained with, or "
                                "move that run away to train it again", path=str(path))
        logged = _height(hist)
        stopped = 0 < logged < settings["epochs"] and _stopped_early(hist, settings)
        status = ("missing" if path is None
                  else "complete" if logged >= settings["epochs"] or stopped else "partial")
        date = (path.parts[-4] if path is not None else
                study.date or today or datetime.date.today().isoformat())
        if path is None:
            path = Path(study.root) / date / parsed.model_dir / parsed.dataset_dir / f"{name}.csv"
        runs.append(PlannedRun(name, str(path), status, logged, settings["epochs"],
                               tuple(base + _options(settings, study.root, date)), stopped))
    return Plan(study, tuple(runs), tuple(base))


def _options(settings: dict, root: str, date: str) -> list[str]:
    out = []
    for key, (kind, option) in TRAIN_KEYS.items():
        if key not in settings:
            continue
        value = settings[key]
        if kind is bool:  # a flag; --no-probes is given when probes are off
            out += [option] if bool(value) != option.startswith("--no-") else []
        else:
            out += [option, repr(value) if kind is float else str(value)]
    return out + ["--root", root, "--date", date]


# ---------------------------------------------------------------------------
# running


def run_pipeline(study: Study, plan: Plan | None = None, *, only_report: bool = False,
                 jobs: int | None = None, command: str | None = None,
                 on_train: Callable[[int, int, PlannedRun], None] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> PipelineResult:
    """Train the missing and partial runs one after another (each trainer uses
    the whole machine), then build the report over the study's runs.

    A trainer that fails, or leaves a run short of its epochs, is a problem;
    the other runs and the report still go ahead. The trainer's output goes
    to stderr. ``jobs`` is the report's worker count.
    """
    from .render.report import build_report

    plan = plan or plan_study(study)
    problems: list[HistkitError] = []
    trained = []
    todo = [] if only_report else plan.todo
    for i, run in enumerate(todo, 1):
        if on_train:
            on_train(i, len(todo), run)
        error = _train(run)
        if error:
            problems.append(error)
        else:
            trained.append(run.path)
    if todo:
        plan = plan_study(study, train_command=list(plan.train_command))
        for run in plan.runs:
            if run.path in trained and run.status != "complete":
                problems.append(PipelineError(
                    f"the trainer finished but the history has {run.epochs_logged} of "
                    f"{run.epochs} epochs", path=run.path))
    rep = study.report
    paths = [r.path for r in plan.runs if Path(r.path).is_file()]
    report = build_report(paths, rep["output"], labels=rep["labels"],
                          tolerance=rep["tolerance"], group_by=rep["group_by"],
                          jobs=jobs or rep["jobs"], title=rep["title"],
                          formats=rep["formats"], dpi=rep["dpi"], metric=rep["metric"],
                          command=command, progress=progress, pages=rep["pages"])
    return PipelineResult(plan, trained, report, problems + report.problems)


def _train(run: PlannedRun) -> PipelineError | None:
    """Call the trainer for one run; its output goes to our stderr."""
    try:
        done = subprocess.run(run.command, stdout=2, stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        return PipelineError(f"cannot start the trainer {run.command[0]!r}: "
                             f"{exc.strerror or exc}; set --train-command", path=run.path)
    if done.returncode != 0:
        return PipelineError(f"the trainer exited with status {done.returncode} "
                             "(its output is above)", path=run.path)
    return None
