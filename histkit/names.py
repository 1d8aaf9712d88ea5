"""Run-name grammar: parse and format, with an exact round trip.

    <model>_<dim>_<loss>[_ag]_<optimizer>_<dataset>_<H>x<W>x<C>_N<n>_E<e>_L<l>_FBL<f>[_DR<d>][_BS<b>][_LR<lr>][_S<s>]

e.g. ``unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20``. The
tokens after ``DR`` (batch size, learning rate, seed) are written only when
the trainer's value differs from its default, so that two runs that trained
differently never share a file while the seed's names stay as they are.
The dimension token (``2d``) and the shape token (``768x384x1``) anchor the
parse, so a model or dataset may itself hold underscores. Unknown tokens are
kept in ``extra``, in order. The trainer names what it writes only through
:func:`format_run_name`, so a name always describes what was trained.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import warnings
from pathlib import Path

from .errors import HistkitWarning, RunNameError

__all__ = ["RunName", "parse_run_name", "format_run_name", "run_from_path",
           "loss_weights", "lr_token", "split_training", "with_training", "FIELDS", "TOKENS"]

_DIM = re.compile(r"^\d+d$")
_SHAPE = re.compile(r"^(\d+)x(\d+)x(\d+)$")
# keyed tokens in canonical order: prefix -> field
_KEYED = (("N", "n_train"), ("E", "epochs"), ("L", "levels"),
          ("FBL", "base_filters"), ("DR", "dropout"), ("BS", "batch_size"), ("LR", "lr"),
          ("S", "seed"))
_KEYED_RE = re.compile(r"^(FBL|DR|BS|N|E|L|S)(\d+)$|^(LR)(\d+(?:\.\d+)?e-?\d+)$")
#: what a name token stands for, for people and for --where: field -> prefix
TOKENS = {field: prefix for prefix, field in _KEYED}
_LOSS_PART = re.compile(r"([a-z]+)(\d+)")


@dataclasses.dataclass(frozen=True)
class RunName:
    """The hyperparameters a run name encodes, plus where the file lives.

    Fields the name does not give are ``None`` (``dropout`` is 0.0 when the
    name is in the grammar but has no ``DR`` token).
    """

    name: str
    model: str | None = None
    dim: str | None = None
    loss: str | None = None
    attention: bool | None = None
    optimizer: str | None = None
    dataset: str | None = None
    height: int | None = None
    width: int | None = None
    channels: int | None = None
    n_train: int | None = None
    epochs: int | None = None
    levels: int | None = None
    base_filters: int | None = None
    dropout: float | None = None
    batch_size: int | None = None   # None: the trainer's default (no BS token)
    lr: float | None = None         # None: the optimizer's default (no LR token)
    seed: int | None = None         # 0 when the name has no S token
    extra: tuple[str, ...] = ()
    date: str | None = None
    valid: bool = True

    @property
    def model_dir(self) -> str | None:
        """Directory one level under the date: ``unet_2d_mdice_ag``."""
        if not self.valid:
            return None
        return "_".join([self.model, self.dim, self.loss] + (["ag"] if self.attention else []))

    @property
    def dataset_dir(self) -> str | None:
        """Directory under the model directory: ``fat_768x384x1``."""
        if not self.valid:
            return None
        return f"{self.dataset}_{self.height}x{self.width}x{self.channels}"

    def as_dict(self) -> dict:
        """The fields as a plain dict (``extra`` joined with ``_``)."""
        d = {f: getattr(self, f) for f in FIELDS}
        d["extra"] = "_".join(self.extra)
        return d


FIELDS = ("date", "name", "model", "dim", "loss", "attention", "optimizer", "dataset",
          "height", "width", "channels", "n_train", "epochs", "levels",
          "base_filters", "dropout", "batch_size", "lr", "seed", "extra")


def parse_run_name(name: str, *, strict: bool = False) -> RunName:
    """Parse a run name (a file stem; a ``.csv`` suffix is dropped).

    A name outside the grammar returns a ``RunName`` with empty fields and
    ``valid=False`` after a :class:`HistkitWarning`; ``strict=True`` raises
    :class:`RunNameError` instead.
    """
    name = str(name)
    if name.endswith(".csv"):
        name = name[:-4]
    try:
        return _parse(name)
    except ValueError as exc:
        msg = (f"run name {name!r} does not follow the grammar "
               f"<model>_<dim>_<loss>[_ag]_<optimizer>_<dataset>_<H>x<W>x<C>"
               f"_N<n>_E<e>_L<l>_FBL<f>[_DR<d>][_BS<b>][_LR<lr>][_S<s>]: {exc}")
        if strict:
            raise RunNameError(msg) from None
        warnings.warn(msg, HistkitWarning, stacklevel=2)
        return RunName(name=name, valid=False)


@functools.lru_cache(maxsize=8192)  # a sweep reads each name twice (run column, hints)
def _parse(name: str) -> RunName:
    tokens = name.split("_")
    dim_at = next((i for i, t in enumerate(tokens) if _DIM.match(t)), None)
    if not dim_at:
        raise ValueError("no dimension token such as '2d' after the model")
    shape_at = next((i for i, t in enumerate(tokens) if _SHAPE.match(t)), None)
    if shape_at is None:
        raise ValueError("no shape token such as '768x384x1'")
    head = tokens[dim_at + 1:shape_at]
    if not head:
        raise ValueError("no loss, optimizer or dataset between dimension and shape")
    loss, rest = head[0], head[1:]
    attention = bool(rest) and rest[0] == "ag"
    if attention:
        rest = rest[1:]
    if len(rest) < 2:
        raise ValueError("expected '<loss>[_ag]_<optimizer>_<dataset>' before the shape")
    h, w, c = (int(x) for x in _SHAPE.match(tokens[shape_at]).groups())
    keyed: dict[str, str] = {}
    extra: list[str] = []
    for tok in tokens[shape_at + 1:]:
        m = _KEYED_RE.match(tok)
        key, value = (m.group(1) or m.group(3), m.group(2) or m.group(4)) if m else (None, None)
        # an LR spelled otherwise than format_run_name writes it stays extra: round trip
        if key and key not in keyed and (key != "LR" or lr_token(float(value)) == value):
            keyed[key] = value
        else:
            extra.append(tok)
    missing = [f"{p}<{field}>" for p, field in _KEYED[:4] if p not in keyed]
    if missing:
        raise ValueError("missing " + ", ".join(missing))
    return RunName(
        name=name, model="_".join(tokens[:dim_at]), dim=tokens[dim_at], loss=loss,
        attention=attention, optimizer=rest[0], dataset="_".join(rest[1:]),
        height=h, width=w, channels=c,
        n_train=int(keyed["N"]), epochs=int(keyed["E"]), levels=int(keyed["L"]),
        base_filters=int(keyed["FBL"]),
        dropout=int(keyed["DR"]) / 100 if "DR" in keyed else 0.0,
        batch_size=int(keyed["BS"]) if "BS" in keyed else None,
        lr=float(keyed["LR"]) if "LR" in keyed else None,
        seed=int(keyed["S"]) if "S" in keyed else 0,
        extra=tuple(extra),
    )


def lr_token(lr: float) -> str:
    """A learning rate as the name writes it: ``1e-3``, ``5e-2``, ``2.5e-4``, ``1e2``."""
    mantissa, exponent = f"{float(lr):.6e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def format_run_name(run: RunName | None = None, **fields) -> str:
    """Build the canonical name from a ``RunName`` or from keyword fields.

    ``format_run_name(parse_run_name(s)) == s`` for every canonical name.
    ``batch_size`` and ``lr`` are written when given (the caller leaves out
    defaults), ``seed`` when it is not 0.
    """
    if run is not None:
        if not run.valid:
            return run.name
        fields = {**{f.name: getattr(run, f.name) for f in dataclasses.fields(run)}, **fields}
    required = ("model", "dim", "loss", "optimizer", "dataset", "height", "width",
                "channels", "n_train", "epochs", "levels", "base_filters")
    missing = [f for f in required if fields.get(f) is None]
    if missing:
        raise RunNameError(f"cannot format a run name without {', '.join(missing)}")
    dropout = float(fields.get("dropout") or 0.0)
    if not 0.0 <= dropout < 1.0:
        raise RunNameError(f"dropout must be in [0, 1), got {dropout}")
    parts = [fields["model"], fields["dim"], fields["loss"]]
    if fields.get("attention"):
        parts.append("ag")
    parts += [fields["optimizer"], fields["dataset"],
              f"{fields['height']}x{fields['width']}x{fields['channels']}",
              f"N{fields['n_train']}", f"E{fields['epochs']}", f"L{fields['levels']}",
              f"FBL{fields['base_filters']}"]
    dr = round(dropout * 100)
    if dr:
        parts.append(f"DR{dr}")
    for key, check in (("batch_size", lambda v: isinstance(v, int) and v >= 1),
                       ("lr", lambda v: isinstance(v, (int, float)) and v > 0),
                       ("seed", lambda v: isinstance(v, int) and v >= 0)):
        value = fields.get(key)
        if value is not None and (isinstance(value, bool) or not check(value)):
            raise RunNameError(f"{key} {value!r} cannot be written in a run name")
    if fields.get("batch_size") is not None:
        parts.append(f"BS{fields['batch_size']}")
    if fields.get("lr") is not None:
        parts.append(f"LR{lr_token(fields['lr'])}")
    if fields.get("seed"):
        parts.append(f"S{fields['seed']}")
    parts += list(fields.get("extra") or ())
    return "_".join(str(p) for p in parts)


_TRAINING = re.compile(r"^(?P<base>.+)#(?P<k>[2-9]|[1-9]\d+)$", re.S)


def split_training(locator: str) -> tuple[str, int]:
    """``(history, k)`` of a locator: ``x.csv#2`` is the second training a
    log holds (:mod:`histkit.readers` splits a log whose epochs or steps start
    again); a locator without the suffix, or a file that is really named so,
    is the first."""
    m = _TRAINING.match(locator)
    if m is None or os.path.lexists(locator):
        return locator, 1
    return m.group("base"), int(m.group("k"))


def with_training(locator: str, k: int) -> str:
    """The locator of the ``k``-th training of a log (the first is the log's own)."""
    return locator if k == 1 else f"{locator}#{k}"


def run_from_path(path: str | Path, *, strict: bool = False,
                  name: str | None = None) -> RunName:
    """Parse the run name of a history file and add ``date`` from its path.

    For ``run/<date>/<model_dir>/<dataset_dir>/<run>.csv`` the directories are
    checked against the name; where they disagree a warning says so and the
    name wins. ``name`` is the run's name where the file's stem is not (a
    framework's ``metrics.csv``, an MLflow run): a name other frameworks gave
    is not expected to follow histkit's grammar, so it is parsed without a
    warning, and ``strict`` does not apply to it.
    """
    # os.path rather than pathlib: a sweep names 100,000 files
    path = os.fspath(path)
    if "#" in path:
        base, k = split_training(path)
        if k > 1:
            mark = f"#{k}"
            run = run_from_path(base, strict=strict,
                                name=name.removesuffix(mark) if name else None)
            return dataclasses.replace(run, name=run.name + mark)
    stem, suffix = os.path.splitext(os.path.basename(path.rstrip("/")))
    if name is not None and (name != stem or suffix.lower() != ".csv"):
        try:
            return _parse(name)
        except ValueError:
            return RunName(name=name, valid=False)
    run = parse_run_name(stem, strict=strict)
    parts = [p for p in path.split("/") if p not in ("", ".")]  # Path(path).parts, less root
    date = None
    if len(parts) >= 4 and re.match(r"^\d{4}-\d{2}-\d{2}$", parts[-4]):
        date = parts[-4]
        if run.valid:
            for got, want, what in ((parts[-3], run.model_dir, "model directory"),
                                    (parts[-2], run.dataset_dir, "dataset directory")):
                if got != want:
                    warnings.warn(f"{path}: {what} {got!r} disagrees with the run name "
                                  f"(expected {want!r}); trusting the name",
                                  HistkitWarning, stacklevel=2)
    return run if date is None else dataclasses.replace(run, date=date)  # frozen: shared


def loss_weights(loss: str) -> dict[str, float]:
    """Split a loss token into its parts: ``bce25dice75`` -> {bce: .25, dice: .75}.

    A plain token (``mdice``) is one part of weight 1.
    """
    parts = _LOSS_PART.findall(loss)
    if parts and "".join(f"{a}{b}" for a, b in parts) == loss:
        return {a: int(b) / 100 for a, b in parts}
    return {loss: 1.0}
