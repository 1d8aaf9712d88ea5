"""The training loop: ``train(config) -> path of the history CSV``.

Single process by default; under ``torchrun`` each process trains on its share
of every batch through DistributedDataParallel (gloo on CPU, nccl on CUDA) and
only rank 0 writes the history and the checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from ..files import locked
from ..sidecar import read_sidecar, sidecar_path, write_sidecar
from .checkpoint import (COLUMNS, append_row, load_checkpoint, read_rows, remove_stale_temps,
                         save_checkpoint, write_history)
from .config import TrainConfig
from .data import batches, load_data
from .errors import TrainError
from .layout import FORMATS, choose_memory_format
from .losses import class_dice, make_loss, probabilities
from .models import build_model
from .precision import check_precision, forward
from ..probes import probes_dir
from ..probes.recorder import Probes

__all__ = ["train"]


def train(config: TrainConfig | None = None, *, log=None, **options) -> Path:
    """Train the run ``config`` describes (or resume it) and return its CSV path.

    A finished run is not trained again unless ``config.force``; a run another
    process is training is a TrainError. ``log`` gets one-line messages
    (default: nothing).
    """
    config = (config or TrainConfig(**options)).validate()
    rank, world = _init_distributed(config)
    if log is None or rank != 0:  # one voice under torchrun
        log = lambda msg: None  # noqa: E731
    device = _device(config, rank)
    check_precision(config.precision, device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + rank)

    data = load_data(config)  # also fixes n_train for folders, hence the run's name
    with _sole_trainer(config.history_path, rank):
        return _train(config, data, rank, world, device, log)


@contextlib.contextmanager
def _sole_trainer(path: Path, rank: int):
    """Rank 0 holds ``.<run>.lock`` beside the history while it trains: a second
    trainer of the same run (another shell, a pipeline started twice) stops
    with one line instead of interleaving rows and checkpoints with the first."""
    if rank != 0:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(f".{path.stem}.lock")
    held = contextlib.ExitStack()
    try:
        held.enter_context(locked(lock, wait=False))
    except BlockingIOError:
        raise TrainError(f"{path}: another histkit train is training this run now (it holds "
                         f"{lock.name}); wait for it to finish or stop it") from None
    with held:
        yield


def _train(config: TrainConfig, data, rank: int, world: int, device, log) -> Path:
    """Train or resume the run under its lock; see :func:`train`."""
    (x_train, y_train), (x_val, y_val) = data
    path, ckpt_path = config.history_path, config.checkpoint_path
    state, done = _existing(config, rank, world)
    if done is not None:
        log(f"run {config.name} is complete ({done}/{config.epochs} epochs); "
            f"use --force to train it again")
        _shutdown(world)
        return path
    if state is None and rank == 0:  # a fresh start: no probes of an earlier run
        shutil.rmtree(probes_dir(path), ignore_errors=True)

    model = build_model(config).to(device)
    loss_fn = make_loss(config.loss)
    layout = _memory_format(config, state, model, loss_fn, x_train, y_train, device,
                            rank, world, log)
    memory_format = FORMATS[layout]
    model = model.to(memory_format=memory_format)
    optimizer = _optimizer(config, model)
    scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.plateau_factor, patience=config.plateau_patience)
        if config.plateau_patience is not None else None)
    rows: list[list[float]] = []
    start = 0
    if state is not None:
        _load_states(state, model, optimizer, scheduler, ckpt_path)
        _set_rng(state.get("rng", {}), rank, config.seed + state["epoch"])
        rows, start = [list(r) for r in state["rows"]], state["epoch"] + 1
        log(f"resuming {config.name} after epoch {state['epoch']}")
    if rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_history(path, rows)  # drops a partial or repeated last row of a killed run
        record = _start_record(path, config, device, layout, resumed=state is not None)
    probes = Probes(model, probes_dir(path), x_val, y_val,
                    probabilities=lambda logits: probabilities(logits, config.loss),
                    every=config.image_every, epochs=config.epochs,
                    enabled=config.probes and rank == 0)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    show = config.progress if config.progress is not None else sys.stderr.isatty()

    diverged = None
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        lr = optimizer.param_groups[0]["lr"]

        probes.start_epoch()
        with _progress(show and rank == 0, -(-len(x_train[rank::world]) // config.batch_size),
                       f"epoch {epoch + 1}/{config.epochs}") as bar:
            train_m = _train_epoch(model, optimizer, loss_fn, probes, x_train, y_train, config,
                                   epoch, rank, world, device, memory_format, bar)
        val_m, shares = _evaluate(model, loss_fn, x_val, y_val, config, device, memory_format,
                                  rank, world)

        row = [epoch, *train_m, *val_m, lr, time.perf_counter() - t0, _peak_mem_mb(device)]
        rows.append(row)
        diverged = _diverged(epoch, train_m[0], val_m[0])
        stop = diverged is not None or _early_stop(rows, config)
        if scheduler is not None:
            scheduler.step(val_m[0])
        if rank == 0:  # probes, checkpoint, row: a resumed epoch rewrites its probes
            probes.end_epoch(epoch, device, memory_format,
                             lambda m, x: forward(m, x, config.precision), loss_fn, shares)
            save_checkpoint({
                "model": _unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else {},
                "rng": _get_rng(), "epoch": epoch, "rows": rows,
                "finished": stop or epoch == config.epochs - 1, "name": config.name,
                "memory_format": layout, "config": config.resume_options(),
            }, ckpt_path)
            append_row(path, row)
            log(epoch_line(row, config.epochs))
        if diverged is not None:
            log(diverged)
            break
        if stop:
            log(f"early stopping after epoch {epoch}")
            break
    if rank == 0:
        record.update(finished=_now(), epochs_logged=len(rows),
                      stopped=("diverged" if diverged is not None
                               else "early stopping" if len(rows) < config.epochs else None))
        write_sidecar(path, record)
    _shutdown(world)
    return path


def _existing(config: TrainConfig, rank: int, world: int) -> tuple[dict | None, int | None]:
    """What is there of the run already: its checkpoint (None for a fresh
    start), and its number of epochs when it is finished (else None). With
    ``force`` it is removed first; a run trained with other settings is
    refused."""
    path, ckpt_path = config.history_path, config.checkpoint_path
    if rank == 0:
        remove_stale_temps(path, ckpt_path)
        if config.force:
            path.unlink(missing_ok=True)
            ckpt_path.unlink(missing_ok=True)
    _barrier(world)
    state = load_checkpoint(ckpt_path) if ckpt_path.exists() else None
    done = _completed_epochs(path, state, config)
    if state is not None:
        _check_same_settings(state.get("config"), config, ckpt_path,
                             "finished" if done is not None else "partial")
    elif done is not None:  # a kept run without its checkpoint (a fresh clone of run/)
        recorded = read_sidecar(path)
        _check_same_settings((recorded or {}).get("settings"), config, sidecar_path(path),
                             "finished")
    return state, done


def _train_epoch(model, optimizer, loss_fn, probes, x_train, y_train, config: TrainConfig,
                 epoch: int, rank: int, world: int, device, memory_format, bar) -> list[float]:
    """One epoch of training steps on this rank's share of the shuffled
    training set; the epoch's training metrics over every rank's images."""
    model.train()
    sums = torch.zeros(5, device=device)  # loss, dice bg/VAT/SAT, images
    for x, y in batches(x_train, y_train, config.batch_size,
                        shuffle_seed=config.seed * 100_003 + epoch, rank=rank, world=world):
        x, y = _to(x, device, memory_format), _to(y, device, memory_format)
        logits = forward(model, x, config.precision)
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        probes.after_backward()
        optimizer.step()
        sums += _batch_sums(loss.detach(), logits.detach(), y, config.loss)
        bar.update(1)
    return _reduce(sums, world)


def epoch_line(row: list, epochs: int) -> str:
    """One epoch as Keras prints it: ``epoch 3/24 - 11.3s - loss: 0.2345 - val_loss:
    0.2501 - val_sdice: ...`` (the loss, then every validation series)."""
    values = dict(zip(COLUMNS, row))
    shown = ["loss", *(c for c in COLUMNS if c.startswith("val_"))]
    return " - ".join([f"epoch {int(values['epoch']) + 1}/{epochs}",
                       f"{values['epoch_time_s']:.1f}s",
                       *(f"{c}: {values[c]:.4f}" for c in shown)])


@torch.no_grad()
def _evaluate(model, loss_fn, x_val, y_val, config, device, memory_format, rank,
              world) -> tuple[list, torch.Tensor]:
    """The validation metrics, and the pixel counts per class (predicted, true)."""
    model.eval()
    sums = torch.zeros(5, device=device)
    counts = torch.zeros(2, 3, device=device)
    for x, y in batches(x_val, y_val, config.batch_size, rank=rank, world=world):
        x, y = _to(x, device, memory_format), _to(y, device, memory_format)
        logits = forward(model, x, config.precision)
        sums += _batch_sums(loss_fn(logits, y), logits, y, config.loss)
        counts[0] += torch.bincount(logits.argmax(1).reshape(-1), minlength=3)[:3]
        counts[1] += torch.bincount(y.argmax(1).reshape(-1), minlength=3)[:3]
    if world > 1:
        dist.all_reduce(counts)
    return _reduce(sums, world), counts.cpu()


def _batch_sums(loss, logits, y, loss_name: str) -> torch.Tensor:
    """Batch-size-weighted loss and per-class Dice sums, plus the image count."""
    n = y.shape[0]
    dice = class_dice(y, probabilities(logits, loss_name)).sum(dim=0)  # (3,)
    return torch.cat([(loss * n).reshape(1), dice, loss.new_tensor([n])])


def _reduce(sums: torch.Tensor, world: int) -> list[float]:
    """[loss, sdice, background_dice, vsat_dice, scat_dice] over every rank's images."""
    if world > 1:
        dist.all_reduce(sums)
    s = (sums[:4] / sums[4].clamp(min=1)).tolist()
    return [s[0], sum(s[1:]) / 3, *s[1:]]


def _memory_format(config, state, model, loss_fn, x_train, y_train, device, rank, world,
                   log) -> str:
    """The layout to train in: the configured one, the one a resumed run measured,
    or (auto) the faster of the two on one training batch, rank 0 deciding."""
    if config.memory_format != "auto":
        return config.memory_format
    if state is not None and state.get("memory_format") in FORMATS:
        return state["memory_format"]
    choice = 0
    if rank == 0:
        x = x_train[:config.batch_size].to(device)
        y = y_train[:config.batch_size].to(device)
        fastest, seconds = choose_memory_format(model, x, y, loss_fn,
                                                precision=config.precision)
        choice = list(FORMATS).index(fastest)
        log(f"memory format: {fastest} (a training step took "
            + ", ".join(f"{s:.3g} s in {name}" for name, s in seconds.items()) + ")")
    if world > 1:
        flag = torch.tensor([choice], device=device)
        dist.broadcast(flag, src=0)
        choice = int(flag.item())
    return list(FORMATS)[choice]


def _load_states(state: dict, model, optimizer, scheduler, ckpt_path: Path) -> None:
    """Restore model, optimizer and scheduler; a checkpoint whose tensors do not
    fit this model (one saved by another histkit version) is a clear error."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        raise TrainError(f"checkpoint does not fit the model this histkit builds ({detail}); "
                         f"delete it or use --force to start over", path=str(ckpt_path)) from None


def _check_same_settings(recorded: dict | None, config: TrainConfig, where: Path,
                         status: str) -> None:
    """Refuse a finished or partial run whose file was trained with settings
    that differ from these (schedules, momentum, precision...): never call it
    complete, never mix two trainings into one history."""
    if not recorded:
        return  # a run from before the settings were recorded
    changed = config.differences(recorded)
    if changed:
        raise TrainError(f"run {config.name} exists ({status}) trained with "
                         f"{', '.join(changed)}; train with the same settings, or use "
                         f"--force to replace it", path=str(where))


def _now() -> str:
    import datetime

    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _start_record(path: Path, config: TrainConfig, device, layout: str, *,
                  resumed: bool) -> dict:
    """Write the sidecar as the run starts (or resumes); returns it for the end."""
    import platform

    import numpy

    from .. import __version__

    old = read_sidecar(path) if resumed else None
    record = {
        "run": config.name, "settings": config.settings(),
        "versions": {"histkit": __version__, "python": platform.python_version(),
                     "torch": torch.__version__, "numpy": numpy.__version__},
        "device": {"type": device.type, "name": _device_name(device),
                   "threads": torch.get_num_threads(),
                   "world_size": int(os.environ.get("WORLD_SIZE", "1"))},
        "memory_format": layout,
        "started": (old or {}).get("started") or _now(),
        "resumed": [*(old or {}).get("resumed", []), *([_now()] if resumed else [])],
        "finished": None,
    }
    write_sidecar(path, record)
    return record


def _device_name(device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return platform.processor() or platform.machine()


def _diverged(epoch: int, loss: float, val_loss: float) -> str | None:
    """The finding that stops a run whose loss is NaN or infinite (the
    epoch's row is written first, so the history shows it)."""
    bad = [(n, v) for n, v in (("loss", loss), ("val_loss", val_loss)) if not math.isfinite(v)]
    if not bad:
        return None
    from ..diagnosis import RULES

    what = ", ".join(f"{n} is {v}" for n, v in bad)
    return (f"diverged (epoch {epoch}): {what}; training stops here. "
            f"Advice: {RULES['diverged'].advice}")


def _early_stop(rows: list[list[float]], config: TrainConfig) -> bool:
    if config.early_stop_patience is None:
        return False
    import polars as pl
    from ..analysis.stops import stops_at_last_epoch
    hist = pl.DataFrame(rows, schema=list(COLUMNS), orient="row")
    return stops_at_last_epoch(hist, config.early_stop_patience, config.early_stop_min_delta)


def _completed_epochs(path: Path, state: dict | None, config: TrainConfig) -> int | None:
    """Number of epochs of a finished run, or None when there is training to do."""
    if state is not None:
        return len(state["rows"]) if state.get("finished") else None
    if not path.exists():
        return None
    rows = read_rows(path)
    if len(rows) >= config.epochs:
        return len(rows)
    if rows:
        raise TrainError(f"history has {len(rows)} of {config.epochs} epochs but no checkpoint "
                         f"{config.checkpoint_path.name} to resume from; use --force to start over",
                         path=str(path))
    return None


def _optimizer(config: TrainConfig, model) -> torch.optim.Optimizer:
    params, lr = model.parameters(), config.learning_rate
    if config.optimizer == "AdaDelta":
        return torch.optim.Adadelta(params, lr=lr, rho=0.95, eps=1e-7)  # Keras defaults
    if config.optimizer == "Adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum)


def _device(config: TrainConfig, rank: int) -> torch.device:
    if config.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
        return torch.device("cpu")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainError(f"device {config.device!r} asked for but CUDA is not available; use --device cpu")
    return torch.device(config.device)


def _init_distributed(config: TrainConfig) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        cuda = config.device != "cpu" and torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


def _shutdown(world: int) -> None:
    if world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _to(t: torch.Tensor, device, memory_format) -> torch.Tensor:
    return t.to(device, non_blocking=True).contiguous(memory_format=memory_format)


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def _get_rng() -> dict:
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def _set_rng(rng: dict, rank: int, fallback_seed: int) -> None:
    # only rank 0's streams are saved; other ranks reseed so they still differ
    if rank == 0 and "torch" in rng:
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
    else:
        torch.manual_seed(fallback_seed * 1_000 + rank)


def _peak_mem_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextlib.contextmanager
def _progress(enabled: bool, length: int, label: str):
    """A click progress bar over one epoch's batches on stderr, or a silent stand-in."""
    if not enabled:
        yield _NoBar()
        return
    import click
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar


class _NoBar:
    def update(self, n: int) -> None:
        pass
