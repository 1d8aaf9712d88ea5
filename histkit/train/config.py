"""TrainConfig: every option of a training run, checked once (no torch here)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
import re
from pathlib import Path

from ..files import plain_name
from ..names import format_run_name, loss_weights, parse_run_name
from .errors import TrainError

__all__ = ["TrainConfig", "Setting", "settings_of", "MODELS", "LOSS_PARTS", "OPTIMIZERS", "MEMORY_FORMATS", "PRECISIONS",
           "parse_shape"]

MODELS = ("unet", "linknet")
LOSS_PARTS = ("mdice", "dice", "bce", "ce")
OPTIMIZERS = {"adadelta": "AdaDelta", "adam": "Adam", "sgd": "SGD"}
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
PRECISIONS = ("fp32", "bf16")
#: settings that change the training: a run's file is refused when they differ
RESUME_KEYS = ("batch_size", "lr", "momentum", "seed", "n_val", "plateau_patience",
               "plateau_factor", "early_stop_patience", "early_stop_min_delta", "precision")
DEFAULT_LR = {"AdaDelta": 1.0, "Adam": 1e-3, "SGD": 1e-2}
DEFAULT_BATCH_SIZE = 4
N_CLASSES = 3  # background, VAT, SAT


def parse_shape(shape: str | tuple) -> tuple[int, int, int]:
    """``"768x384x1"`` (rows x cols x channels) -> (768, 384, 1)."""
    if isinstance(shape, (tuple, list)):
        shape = "x".join(str(s) for s in shape)
    m = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", str(shape).strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1 or int(m.group(3) or 1) < 1:
        raise TrainError(f"shape {shape!r} is not HxWxC with positive integers, "
                         f"e.g. 768x384x1")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)


def _number(field: str, value, *, low: float, high: float | None = None,
            low_open: bool = False, rule: str) -> float:
    """``value`` as a finite float within its range, else one TrainError
    that says the range (``rule``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not (math.isfinite(x) and (x > low if low_open else x >= low)
            and (high is None or x < high)):
        raise TrainError(f"{field} must be {rule}, got {value!r}")
    return x


def _memory_bytes() -> int | None:
    """This machine's physical memory, where the OS says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _one_of(what: str, value: str, choices) -> str:
    """``value`` if it is one of ``choices``, else a TrainError naming them."""
    if value not in choices:
        raise TrainError(f"{what} {value!r} is unknown; use one of {', '.join(choices)}")
    return value


@dataclasses.dataclass(frozen=True)
class Setting:
    """One field of :class:`TrainConfig` as the command line and study files see it."""

    name: str
    kind: type            # bool, int, float or str
    default: object
    help: str
    cli: bool
    study: bool
    click: dict

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


_KINDS = {"bool": bool, "int": int, "float": float, "str": str}


def settings_of(where: str) -> list[Setting]:
    """The settings of :class:`TrainConfig` that may be given ``where``
    (``"cli"`` or ``"study"``), in field order."""
    out = []
    for f in dataclasses.fields(TrainConfig):
        meta = f.metadata
        if meta and meta[where]:
            kind = _KINDS[str(f.type).split("|")[0].strip()]
            out.append(Setting(f.name, kind, f.default, meta["help"], meta["cli"],
                               meta["study"], dict(meta["click"])))
    return out


def _option(default, help: str, *, cli=True, study=True, **click_kw):
    """A setting: its default, its help, and where it may be given (``cli``:
    an option of ``histkit train``; ``study``: a key of a study file). The
    command line and the study files are built from these, so they cannot
    drift from the trainer."""
    return dataclasses.field(default=default, metadata={"help": help, "cli": cli,
                                                        "study": study, "click": click_kw})


@dataclasses.dataclass
class TrainConfig:
    """One training run: every setting, its default and its help (the one
    definition ``histkit train``'s options and the study-file keys come
    from). ``validate()`` normalises and checks every field."""

    model: str = _option("unet", "unet or linknet.")
    loss: str = _option("mdice", "mdice, dice, bce, ce, or a mix such as bce25dice75.")
    attention: bool = _option(False, "Additive attention gates (Oktay et al. 2018) on the "
                                     "UNet skips.")
    optimizer: str = _option("AdaDelta", "AdaDelta, Adam or SGD.")
    dataset: str | None = _option(None, "Dataset name used in the run name; without --data it "
                                        "picks the phantom: fat, or fat2 (harder: thin broken "
                                        "fat ring, small islands, partial volume) [default: "
                                        "fat, or the --data folder's name].")
    shape: str = _option("768x384x1", "HxWxC of the slices.")
    n_train: int | None = _option(204, "Training slices [default: 204 for the phantom, all but "
                                       "validation for --data].", show_default=False,
                                  cli_default=None)
    n_val: int | None = _option(None, "Validation slices [default: n-train/4].")
    epochs: int = _option(24, "Planned epochs.")
    levels: int = _option(4, "Resolutions (poolings + 1).")
    base_filters: int = _option(24, "Filters of the first level (doubled at each level).")
    dropout: float = _option(0.0, "In [0, 1).")
    batch_size: int = _option(DEFAULT_BATCH_SIZE, "Images per step.")
    lr: float | None = _option(None, "Learning rate [default: 1.0 AdaDelta, 1e-3 Adam, 1e-2 "
                                     "SGD].")
    momentum: float = _option(0.9, "SGD momentum.")
    plateau_patience: int | None = _option(None, "Halve the learning rate after this many "
                                                 "epochs without val_loss progress.")
    plateau_factor: float = _option(0.5, "What the plateau schedule multiplies the rate by.")
    early_stop_patience: int | None = _option(None, "Stop when val_loss has not improved for "
                                                    "this many epochs (Keras rule).")
    early_stop_min_delta: float = _option(0.0, "Smallest val_loss change that counts as an "
                                               "improvement for --early-stop-patience.")
    seed: int = _option(0, "Seed of the data, the initial weights and the batch order.")
    device: str = _option("auto", "auto, cpu, cuda or cuda:N.", study=False)
    threads: int | None = _option(None, "torch CPU threads.", study=False)
    memory_format: str = _option("auto", "Tensor layout; auto times a few steps in each and "
                                         "keeps the faster.", study=False,
                                 type=("choice", MEMORY_FORMATS))
    precision: str = _option("fp32", "bf16: bfloat16 mixed precision for the convolutions "
                                     "(weights, loss and metrics stay fp32); needs a CPU with "
                                     "AMX or AVX512-BF16, or an Ampere+ GPU.",
                             type=("choice", PRECISIONS))
    root: str = _option("run", "Folder of the run/ tree.", study=False)
    date: str | None = _option(None, "YYYY-MM-DD folder [default: today].", study=False)
    data: str | None = _option(None, "Folder with images/ and masks/ (NIfTI or PNG) instead of "
                                     "the phantom.", study=False, type=("dir", None))
    force: bool = _option(False, "Train again even if the run is complete (or exists with "
                                 "other settings).", study=False, flag_only=True)
    progress: bool | None = _option(None, "A progress bar (default: on a terminal).",
                                    cli=False, study=False)
    probes: bool = _option(True, "Write per-epoch probes (weight and gradient norms and "
                                 "histograms, activations, input, prediction images) to "
                                 "<run>.probes/ beside the history.")
    probe_every: int | None = _option(None, "Probe images every N epochs (and at the last) "
                                            "[default: about 5 per run].")

    def validate(self) -> "TrainConfig":
        """Check and normalise in place; raise :class:`TrainError` on bad values."""
        self.dataset = self._dataset()
        self.model = _one_of("model", str(self.model).lower(), MODELS)
        parts = loss_weights(str(self.loss))
        bad = [p for p in parts if p not in LOSS_PARTS]
        if bad:
            raise TrainError(f"loss {self.loss!r} is unknown; use one of "
                             f"{', '.join(LOSS_PARTS)} or a mix such as bce25dice75")
        if len(parts) > 1 and ("ce" in parts or abs(sum(parts.values()) - 1) > 1e-9):
            raise TrainError(f"loss mix {self.loss!r} must combine mdice, dice and bce "
                             f"with percentages summing to 100, e.g. bce25dice75")
        opt = OPTIMIZERS.get(str(self.optimizer).lower())
        if opt is None:
            raise TrainError(f"optimizer {self.optimizer!r} is unknown; use one of "
                             f"{', '.join(OPTIMIZERS.values())}")
        self.optimizer = opt
        if self.model == "linknet" and self.attention:
            raise TrainError("attention gates are for --model unet, not linknet")
        h, w, c = parse_shape(self.shape)
        self.shape = f"{h}x{w}x{c}"
        for field, low in (("epochs", 1), ("levels", 2), ("base_filters", 1), ("batch_size", 1)):
            value = getattr(self, field)
            if not isinstance(value, int) or value < low:
                raise TrainError(f"{field.replace('_', '-')} must be an integer >= {low}, "
                                 f"got {value!r}")
        step = 2 ** (self.levels - 1)
        if h % step or w % step:
            raise TrainError(f"shape {self.shape} does not fit {self.levels} levels: height "
                             f"and width must be multiples of {step}; e.g. "
                             f"{max(step, h - h % step)}x{max(step, w - w % step)}x{c}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise TrainError(f"dropout {self.dropout!r} is outside [0, 1)")
        self.dropout = float(self.dropout)
        if self.n_train is not None and self.n_train < 1:
            raise TrainError(f"n-train must be >= 1, got {self.n_train}")
        if self.data is None and self.n_train is None:
            raise TrainError("n-train is required for the synthetic phantom")
        if self.n_val is not None and self.n_val < 1:
            raise TrainError(f"n-val must be >= 1, got {self.n_val}")
        if self.probe_every is not None and (not isinstance(self.probe_every, int)
                                             or self.probe_every < 1):
            raise TrainError(f"probe-every must be an integer >= 1, got {self.probe_every!r}")
        for field in ("early_stop_patience", "plateau_patience"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise TrainError(f"{field.replace('_', '-')} must be an integer >= 0, "
                                 f"got {value!r}")
        if self.lr is not None:
            self.lr = _number("lr", self.lr, low=0.0, low_open=True, rule="a finite number > 0")
        self.momentum = _number("momentum", self.momentum, low=0.0, high=1.0,
                                rule="in [0, 1)")
        self.plateau_factor = _number("plateau-factor", self.plateau_factor, low=0.0,
                                      low_open=True, high=1.0, rule="in (0, 1)")
        self.early_stop_min_delta = _number("early-stop-min-delta", self.early_stop_min_delta,
                                            low=0.0, rule="a finite number >= 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise TrainError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", self.device):
            raise TrainError(f"device {self.device!r} is unknown; use auto, cpu, cuda or cuda:N")
        self.memory_format = _one_of("memory format",
                                     str(self.memory_format).lower().replace("-", "_"),
                                     MEMORY_FORMATS)
        self.precision = _one_of("precision", str(self.precision).lower(), PRECISIONS)
        if self.date is None:
            self.date = _dt.date.today().isoformat()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(self.date)):
            raise TrainError(f"date {self.date!r} is not YYYY-MM-DD")
        try:
            _dt.date.fromisoformat(str(self.date))
        except ValueError:
            raise TrainError(f"date {self.date!r} is not a real day (YYYY-MM-DD)") from None
        self._fits_in_memory(h, w, c)
        return self

    def _fits_in_memory(self, h: int, w: int, c: int) -> None:
        """Refuse a network whose weights or one batch's activations could
        never fit in this machine's memory, before anything is allocated
        (a 100000x100000 slice, 10^9 base filters). The estimate is rough
        and low: 4 bytes a value, the first level's activations about twice
        over the levels, 4 tensors of them kept for the backward pass."""
        top = self.base_filters * 2 ** (self.levels - 1)
        params = 9 * 4 * top * top + 9 * c * self.base_filters  # the widest convolutions
        need = 4 * (4 * params + 4 * 2 * self.batch_size * h * w * max(self.base_filters, c))
        have = _memory_bytes()
        if have and need > have:
            raise TrainError(f"shape {self.shape} with {self.base_filters} base filters, "
                             f"{self.levels} levels and batches of {self.batch_size} needs at "
                             f"least {need / 2**30:,.0f} GiB; this machine has "
                             f"{have / 2**30:,.0f} GiB (lower the shape, base-filters or "
                             "batch-size)")

    def _dataset(self) -> str:
        """The dataset token: as given, else the --data folder's name (a folder
        names the run after itself, not after a phantom), else fat. It names a
        folder of the run tree, so it is one path component."""
        if self.dataset is not None:
            name = str(self.dataset)
            if not plain_name(name):
                raise TrainError(f"dataset {name!r} must be a plain name (letters, digits, "
                                 "'-'), not a path: it names a folder under --root")
            return name
        if self.data:
            return re.sub(r"[^A-Za-z0-9]+", "", Path(self.data).resolve().name) or "data"
        return "fat"

    @property
    def hwc(self) -> tuple[int, int, int]:
        return parse_shape(self.shape)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    @property
    def image_every(self) -> int:
        """Epochs between probe images: ``probe_every``, else about 5 per run."""
        return self.probe_every or max(1, self.epochs // 4)

    @property
    def val_count(self) -> int:
        return self.n_val if self.n_val is not None else max(1, (self.n_train or 4) // 4)

    @property
    def name(self) -> str:
        """The run name: what was trained. Batch size, learning rate and seed
        appear only where they differ from their defaults (BS, LR, S tokens)."""
        h, w, c = self.hwc
        lr = self.lr if self.lr != DEFAULT_LR.get(self.optimizer) else None
        return format_run_name(
            model=self.model, dim="2d", loss=self.loss, attention=self.attention,
            optimizer=self.optimizer, dataset=self._dataset(), height=h, width=w,
            channels=c, n_train=self.n_train, epochs=self.epochs, levels=self.levels,
            base_filters=self.base_filters, dropout=self.dropout,
            batch_size=self.batch_size if self.batch_size != DEFAULT_BATCH_SIZE else None,
            lr=lr, seed=self.seed)

    @property
    def history_path(self) -> Path:
        run = parse_run_name(self.name, strict=True)
        return Path(self.root) / str(self.date) / run.model_dir / run.dataset_dir / f"{run.name}.csv"

    @property
    def checkpoint_path(self) -> Path:
        return self.history_path.with_suffix(".ckpt")

    def resume_options(self) -> dict:
        """The settings that a resumed or kept run must share with its file (not
        the --data folder: the name's dataset says what it is, its path may move)."""
        return {**{k: getattr(self, k) for k in RESUME_KEYS}, "lr": self.learning_rate}

    def differences(self, recorded: dict) -> list[str]:
        """``--momentum 0.9 (now 0.5)`` for each setting of :data:`RESUME_KEYS`
        that ``recorded`` (a checkpoint's or sidecar's) holds otherwise."""
        from ..sidecar import setting_differences

        recorded = dict(recorded)
        if "lr" in recorded and recorded["lr"] is None:  # the optimizer's default
            recorded["lr"] = DEFAULT_LR.get(self.optimizer)
        return [f"--{key.replace('_', '-')} {was!r} (now {now!r})" for key, was, now in
                setting_differences(recorded, self.resume_options(), RESUME_KEYS)]

    def settings(self) -> dict:
        """Every setting, for the sidecar: the fields that shape the training
        and the values the defaults resolve to (learning rate, validation
        slices); not where it is written nor how it reports progress."""
        out = {k: v for k, v in dataclasses.asdict(self).items()
               if k not in ("root", "force", "progress")}
        out["lr"] = self.lr
        out["learning_rate"] = self.learning_rate
        out["n_val_used"] = self.val_count
        out["image_every"] = self.image_every
        return out

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
