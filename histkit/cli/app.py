"""The ``histkit`` program: the click group, its one-line errors and exit codes.

Each command lives in its own module of this package and is imported when
it is asked for (``histkit --help`` imports them all, and nothing heavy:
library modules are imported inside the commands). Input problems
(:class:`~histkit.errors.HistkitError`) become one line on stderr and exit
code 2; with several inputs the good ones are still done.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import click

from .. import __version__, process
from .output import (EXIT_INPUT, EXIT_PIPE, STDOUT, broken_pipe, fail, show_warning,
                     stdout_to_devnull)

__all__ = ["main", "run", "COMMANDS"]

#: command -> (module of this package, attribute)
COMMANDS = {
    "compare": ("compare", "compare_command"),
    "diagnose": ("diagnose", "diagnose_command"),
    "pipeline": ("pipeline", "pipeline_command"),
    "plot": ("plot", "plot_command"),
    "report": ("report", "report_command"),
    "runs": ("runs", "runs_command"),
    "stops": ("stops", "stops_command"),
    "train": ("train", "train_command"),
}


class _Group(click.Group):
    """Turns every error into one line on stderr and exit code 2, never a
    traceback nor a usage dump."""

    chosen: str | None = None  # the command being run, for run()

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name in COMMANDS and name not in self.commands:
            module, attr = COMMANDS[name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
            self.add_command(command, name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        self.chosen = name
        return name, command, rest

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        STDOUT.broken = False
        given = sys.argv[1:] if args is None else list(args)
        if sys.stdout is None and any(a in ("--help", "--version") for a in given):
            fail("cannot write to stdout: it is closed")  # click would print nowhere
            sys.exit(1)
        try:
            rv = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            fail(exc.format_message() + hint)
            sys.exit(EXIT_INPUT)
        except click.ClickException as exc:
            fail(exc.format_message())
            sys.exit(exc.exit_code)
        except click.Abort:
            fail("aborted")
            sys.exit(1)
        except OSError as exc:  # --help or --version whose stdout failed
            if not _writing_stdout(exc):
                raise
            if broken_pipe(exc):
                stdout_to_devnull()
                sys.exit(EXIT_PIPE)
            fail(f"cannot write to stdout: {exc.strerror or exc}")
            stdout_to_devnull()
            sys.exit(1)
        code = rv if isinstance(rv, int) else 0
        sys.exit(EXIT_PIPE if code == 0 and STDOUT.broken else code)

    def invoke(self, ctx):
        from ..errors import HistkitError, OutputError

        warnings.showwarning = show_warning
        try:
            return super().invoke(ctx)
        except OutputError as exc:  # a full disk: not the input's fault
            fail(str(exc))
            ctx.exit(1)
        except HistkitError as exc:
            fail(str(exc))
            ctx.exit(EXIT_INPUT)
        except KeyboardInterrupt:
            fail("interrupted")
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - last line of defence (pyo3 panics too)
            if broken_pipe(exc):  # a write of its own, not through writing_stdout
                stdout_to_devnull()
                ctx.exit(EXIT_PIPE)
            if isinstance(exc, OSError) and _writing_stdout(exc):  # a command's --help
                fail(f"cannot write to stdout: {exc.strerror or exc}")
                stdout_to_devnull()
                ctx.exit(1)
            if os.environ.get("HISTKIT_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} "
                 "(set HISTKIT_DEBUG=1 for the traceback and report it)")
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"],
                                           "max_content_width": 100})
@click.version_option(__version__, prog_name="histkit")
def main():
    """Turn training histories into answers: figures, early stops, diagnoses, run tables.

    Reads histkit's and Keras' CSV files, Keras history JSON, Lightning
    metrics.csv, TensorBoard event files, Hugging Face trainer_state.json,
    fastai history.csv and MLflow stores; a directory is searched for all of
    them.

    \b
    Examples:
      histkit plot run/2026-11-23/unet_2d_mdice/fat_256x128x1/unet_2d_mdice_AdaDelta_fat_256x128x1_N96_E24_L4_FBL16.csv
      histkit stops run/ --tolerance 0.005
      histkit diagnose run/
      histkit runs run --where attention=true --format csv
    """


def _writing_stdout(exc: OSError) -> bool:
    """Whether ``exc`` came from click writing to stdout (``--help``,
    ``--version``): the innermost frame's ``file`` is stdout."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    target = tb.tb_frame.f_locals.get("file")
    return target is not None and target in (sys.stdout, getattr(sys.stdout, "buffer", None))


def run(args=None) -> None:
    """The ``histkit`` program and ``python -m histkit``: :func:`main`, then
    :func:`~histkit.process.leave`. ``main()`` called in a running
    process (tests, scripts, click's CliRunner) exits as usual."""
    process.PROGRAM.on = True
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    process.leave(code, main.chosen)
