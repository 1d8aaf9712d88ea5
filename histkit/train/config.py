"""TrainConfig: every option of a training run, checked once (no torch here)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from pathlib import Path

from ..names import format_run_name, loss_weights, parse_run_name
from .errors import TrainError

__all__ = ["TrainConfig", "MODELS", "LOSS_PARTS", "OPTIMIZERS", "MEMORY_FORMATS", "PRECISIONS",
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


def _one_of(what: str, value: str, choices) -> str:
    """``value`` if it is one of ``choices``, else a TrainError naming them."""
    if value not in choices:
        raise TrainError(f"{what} {value!r} is unknown; use one of {', '.join(choices)}")
    return value


@dataclasses.dataclass
class TrainConfig:
    """One training run. ``validate()`` normalises and checks every field."""

    model: str = "unet"
    loss: str = "mdice"
    attention: bool = False
    optimizer: str = "AdaDelta"
    dataset: str = "fat"
    shape: str = "768x384x1"
    n_train: int | None = 204
    n_val: int | None = None
    epochs: int = 24
    levels: int = 4
    base_filters: int = 24
    dropout: float = 0.0
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float | None = None
    momentum: float = 0.9
    plateau_patience: int | None = None
    plateau_factor: float = 0.5
    early_stop_patience: int | None = None
    early_stop_min_delta: float = 0.0
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    memory_format: str = "auto"
    precision: str = "fp32"
    root: str = "run"
    date: str | None = None
    data: str | None = None
    force: bool = False
    progress: bool | None = None
    probes: bool = True
    probe_every: int | None = None  # images every N epochs [default: about 5 per run]

    def validate(self) -> "TrainConfig":
        """Check and normalise in place; raise :class:`TrainError` on bad values."""
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
        if self.lr is not None and not self.lr > 0:
            raise TrainError(f"lr must be > 0, got {self.lr}")
        if self.lr is not None:
            self.lr = float(self.lr)
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
        return self

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
            optimizer=self.optimizer, dataset=self.dataset, height=h, width=w,
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
