"""The ``histkit`` command line: parse options, call the library, print.

Library modules are imported inside the commands so that ``histkit --help``
stays instant. Input problems (:class:`HistkitError`) become one line on
stderr and exit code 2; with several inputs the good ones are still done.
"""

from __future__ import annotations

import atexit
import errno
import gc
import os
import re
import select
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import click

from .. import __version__

EXIT_INPUT = 2
EXIT_PIPE = 141  # the reader of stdout left: what a shell reports for a tool SIGPIPE killed
# commands that read, write whole files and are done in a second or two: after
# them the ``histkit`` program skips the interpreter's teardown (see run())
QUICK = frozenset({"compare", "diagnose", "plot", "runs", "stops"})


def _broken_pipe(exc: BaseException) -> bool:
    """Whether a write failed because stdout's reader left (``| head``).
    polars passes the error on as a plain OSError that names it only in its
    message; a poll of stdout tells it from a broken stderr or other pipe."""
    if not isinstance(exc, OSError) or not (exc.errno == errno.EPIPE
                                            or "Broken pipe" in str(exc)):
        return False
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), 0)  # errors are reported whatever the mask
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):  # no stdout, or not a file
        return False


def _stdout_to_devnull() -> None:
    """After a broken pipe: what is left in stdout's buffer goes nowhere,
    so exiting does not fail on it again (Python's documented recipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _WholeWrites:
    """A binary stream whose ``write`` writes all it is given or raises. A
    buffered stream returns a short count when its pipe breaks part way, and
    polars' writers do not look at the count: the break would go unseen."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        while view:
            view = view[self.stream.write(view):]
        return len(data)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def _writing_stdout():
    """Where a command writes its result: stdout's binary stream (None where
    stdout is a text stream, as under ``contextlib.redirect_stdout``).

    A reader that leaves early (``histkit runs | head``) is not an error: the
    rest of the output goes nowhere, the command finishes its other work (a
    figure, its problems on stderr) and then exits 141, as a tool SIGPIPE
    ends does, unless it has a failure of its own to report. Any other
    failure to write is one line."""
    if sys.stdout is None:
        raise click.ClickException("cannot write to stdout: it is closed")
    try:
        sys.stdout.flush()
        binary = getattr(sys.stdout, "buffer", None)
        yield None if binary is None else _WholeWrites(binary)
        (binary or sys.stdout).flush()
    except OSError as exc:
        if not _broken_pipe(exc):
            reason = exc.strerror or re.sub(r"^\[Errno \d+\] |\s*\(os error \d+\)$", "", str(exc))
            raise click.ClickException(f"cannot write to stdout: {reason}") from None
        _stdout_to_devnull()
        main.pipe_broken = True


def _fail(message: str) -> None:
    click.echo(f"histkit: error: {message}", err=True)


def _warn(message, category, filename, lineno, file=None, line=None):
    click.echo(f"histkit: warning: {message}", err=True)


class _Group(click.Group):
    """Turns every error into one line on stderr and exit code 2, never a
    traceback nor a usage dump."""

    # commands that live beside their libraries, imported when first asked for
    # (they reuse this module's option decorators; none imports torch or plotnine)
    LAZY = {"train": ("histkit.cli.train", "train_command"),
            "report": ("histkit.cli.report", "report_command"),
            "pipeline": ("histkit.cli.report", "pipeline_command")}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx, name):
        if name in self.LAZY and name not in self.commands:
            import importlib

            module, attr = self.LAZY[name]
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    chosen: str | None = None  # the command being run, for run()
    program = False  # run by run(), the histkit program, not main() in a running process
    pipe_broken = False  # stdout's reader left while the command wrote its result

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        self.chosen = name
        return name, command, rest

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        self.pipe_broken = False
        try:
            rv = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            _fail(exc.format_message() + hint)
            sys.exit(EXIT_INPUT)
        except click.ClickException as exc:
            _fail(exc.format_message())
            sys.exit(exc.exit_code)
        except click.Abort:
            _fail("aborted")
            sys.exit(1)
        code = rv if isinstance(rv, int) else 0
        sys.exit(EXIT_PIPE if code == 0 and self.pipe_broken else code)

    def invoke(self, ctx):
        from ..errors import HistkitError

        warnings.showwarning = _warn
        try:
            return super().invoke(ctx)
        except HistkitError as exc:
            _fail(str(exc))
            ctx.exit(EXIT_INPUT)
        except KeyboardInterrupt:
            _fail("interrupted")
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - last line of defence (pyo3 panics too)
            if _broken_pipe(exc):  # a write of its own, not through _writing_stdout
                _stdout_to_devnull()
                ctx.exit(EXIT_PIPE)
            if os.environ.get("HISTKIT_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} "
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


def run() -> None:
    """The ``histkit`` program and ``python -m histkit``: :func:`main`, then,
    after a quick command (:data:`QUICK`), leave without the interpreter's
    teardown, which frees the thousand modules of polars, pandas, matplotlib
    and plotnine one object at a time: 0.15-0.2 s of a 1.7 s ``histkit
    plot`` (bench/plot_speed.py). Exit handlers still run and the standard
    streams are flushed; while another thread is alive Python's own exit is
    kept (it joins the thread). ``main()`` called in a running process (tests,
    scripts, click's CliRunner) exits as usual."""
    main.program = True
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if main.chosen not in QUICK or threading.active_count() > 1:
        gc.unfreeze()  # Python's own exit finalizes only what the collector may see
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with the stream closed (>&-)
                stream.flush()
        except (OSError, ValueError):  # the reader left (histkit runs | head -1)
            pass
    os._exit(code)


@contextmanager
def importing():
    """Around a command's imports of its libraries, in the histkit program
    only: the cycle collector paused while polars, pandas, matplotlib and
    plotnine build their objects (full passes over them as they grow), then
    those objects frozen (``gc.freeze``) so that the collections of the
    command's own work skip them: 0.2 s of a 1.7 s ``histkit plot``
    (bench/plot_speed.py). A process that calls ``main()`` (tests, scripts)
    keeps its collector as it is: freezing there would keep its garbage for
    good."""
    if not main.program or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


# ---------------------------------------------------------------------------
# shared options


def _tolerance(value):
    from ..errors import OptionError
    from ..analysis.stops import check_tolerance

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


def _finish(problems: list) -> None:
    for exc in problems:
        _fail(str(exc))
    if problems:
        sys.exit(EXIT_INPUT)


def _echo_table(table, fmt: str, output: str | None = None) -> None:
    """``table`` in ``fmt`` to ``output`` (written atomically), else to stdout
    as polars writes it: 100,000 runs make no 40 MB string in between."""
    if output is not None:
        from ..files import atomic_target, write_atomic

        if fmt == "parquet":
            with atomic_target(output) as tmp:
                table.write_parquet(tmp)
        else:
            write_atomic(output, _table_text(table, fmt).encode())
        return
    if fmt == "parquet" and sys.stdout is not None and sys.stdout.isatty():
        raise click.UsageError("parquet is binary: give -o FILE or redirect stdout")
    with _writing_stdout() as out:
        if out is None:
            if fmt == "parquet":
                raise click.UsageError("parquet is binary: give -o FILE")
            sys.stdout.write(_table_text(table, fmt))
        elif fmt == "parquet":
            import io

            buffer = io.BytesIO()  # polars' Parquet writer cannot tell a broken pipe
            table.write_parquet(buffer)
            out.write(buffer.getbuffer())
        elif fmt == "csv":
            table.write_csv(out)
        elif fmt == "json":
            table.write_json(out)
            out.write(b"\n")
        else:
            from ..render.text_table import write_markdown

            write_markdown(table, out)


def _table_text(table, fmt: str) -> str:
    if fmt == "csv":
        return table.write_csv()
    if fmt == "json":
        return table.write_json() + "\n"
    from ..render.text_table import markdown

    return markdown(table)


# ---------------------------------------------------------------------------
# plot


def default_output(path: str, suffix: str = ".png", name: str | None = None) -> Path:
    """Where a figure of ``path`` goes by default: mirrored under reports/ for
    a file inside a run/ tree, else ``<run name><suffix>`` in the current
    directory (the file stem when no name is given)."""
    parts = Path(path).parts
    if "run" in parts[:-1]:
        i = len(parts) - 2 - parts[-2::-1].index("run")
        return Path(*parts[:i], "reports", *parts[i + 1:]).with_suffix(suffix)
    return Path(_safe(name or Path(path).stem) + suffix)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(),
              help="Output file (.png, .pdf, .svg) or, with several inputs, a directory.")
@labels_option
@tolerance_option
@click.option("--no-stops", is_flag=True, help="Do not draw the early-stop lines.")
@click.option("--metrics", "-m", callback=lambda ctx, p, v: v.split(",") if v else None,
              help="Comma-separated series to draw (default: the labelled metrics, or "
                   "every metric), e.g. loss,sdice or lr.")
@click.option("--base-size", type=click.FloatRange(min=1), default=11, show_default=True,
              help="Base font size of theme_bw.")
@click.option("--title", help="Figure title.")
@click.option("--subtitle", help="Figure subtitle.")
@click.option("--caption", help="Caption [default: the run name of the file].")
@click.option("--width", type=click.FloatRange(min=1), help="Width in inches [default: fits the facets].")
@click.option("--height", type=click.FloatRange(min=1), help="Height in inches.")
@click.option("--dpi", type=click.IntRange(min=10), default=150, show_default=True)
@click.option("--overlay", is_flag=True,
              help="One figure: validation curves of every input, coloured by run (short "
                   "labels from the settings that differ; full names in the caption).")
@click.option("--side-by-side", is_flag=True,
              help="One figure: the inputs as columns, a row per metric.")
@click.option("--format", "-f", "fmt", type=click.Choice(["png", "pdf", "svg"]), default="png",
              show_default=True, help="Format of outputs whose name histkit chooses.")
@click.option("--engine", type=click.Choice(["python", "r"]), default="python",
              show_default=True,
              help="Who draws: plotnine (python), or the R package's ggplot2 code through "
                   "rpy2 (r; needs 'pip install histkit[r]' and 'R CMD INSTALL r').")
@all_metrics_option
@telemetry_option
@source_option
@strict_option
def plot(paths, output, labels, tolerance, no_stops, metrics, base_size, title, subtitle, caption,
         width, height, dpi, overlay, side_by_side, fmt, engine, all_metrics, telemetry, source,
         strict):
    """Draw histories: one facet per metric, training and validation, early stops.

    PATH is a history (any source histkit reads) or a directory searched for
    histories. A file under a run/ tree is drawn to the same place under
    reports/; anything else to <run name>.png here. Prints each path written.
    Telemetry (learning rate, epoch time, memory) gets no facet.

    \b
    Examples:
      histkit plot run/2026-11-23/unet_2d_mdice/fat_256x128x1/unet_2d_mdice_AdaDelta_fat_256x128x1_N96_E24_L4_FBL16.csv
      histkit plot run/2026-11-23/unet_2d_mdice_ag -o ag/ --labels pipelines/labels.R --title "UNet"
      histkit plot run/2026-11-23/unet_2d_mdice_ag --overlay -o dropout.png
      histkit plot run/2026-12-02/unet_2d_dice run/2026-12-02/linknet_2d_dice --side-by-side -o dice.png
      histkit plot tests/fixtures/sources/lightning/epoch/lightning_logs/version_0/metrics.csv -o fig.pdf
      histkit plot tests/fixtures/sources/tensorboard/writer tests/fixtures/sources/tensorboard/add_scalars --overlay -o tensorboard.png
    """
    with importing():
        from ..render.plot import prepare_process

        prepare_process()
        from plotnine import labs

        from ..errors import HistkitError
        from ..readers.batch import find_histories, read_histories
        from ..labels import load_labels
        from ..names import run_from_path
        import polars as pl

        from ..render.plot import plot_overlay, plot_run, plot_side_by_side, save_plot
        from ..analysis.stops import early_stoppings

    if overlay and side_by_side:
        raise click.UsageError("--overlay and --side-by-side are two ways of one figure: "
                               "pick one")
    one_figure = overlay or side_by_side
    if engine == "r":
        if one_figure:
            raise click.UsageError("--engine r draws one figure per run; drop --overlay "
                                   "and --side-by-side, or use --engine python")
        from ..rbridge import r_package

        r_package()  # rpy2, R and the R package are there, or one clear error
    problems: list = []
    lookup = load_labels(labels)
    files = find_histories(paths, problems=problems)
    batch = read_histories(files, source=source)
    target = _targets(output, len(files), one_figure, "." + fmt, batch.name,
                      "side_by_side" if side_by_side else "overlay")
    problems += batch.problems
    if one_figure:
        if batch.histories.height:
            labelled, full = _short_labels(batch, strict)
            long = batch.histories.with_columns(
                run=batch.histories["path"].cast(pl.String).replace_strict(labelled)
            ).drop("path")
            segs = None if no_stops else early_stoppings(long, tolerance, by=["run"],
                                                         telemetry=telemetry)
            if side_by_side:
                fig = plot_side_by_side(long, by="run", lookup_table=lookup, segments=segs,
                                        base_size=base_size, metrics=metrics,
                                        all_metrics=all_metrics, telemetry=telemetry)
                n_metrics = len(fig.data["metric"].unique())
                width = width or 2.8 * len(labelled) + 1.5
                height = height or 2.2 * n_metrics + 1.8
            else:
                fig = plot_overlay(long, by="run", lookup_table=lookup, base_size=base_size,
                                   segments=segs, metrics=metrics, all_metrics=all_metrics,
                                   telemetry=telemetry)
            fig += labs(title=title, subtitle=subtitle,
                        caption=full if caption is None else caption)
            click.echo(save_plot(fig, target(None), width=width, height=height, dpi=dpi))
        return _finish(problems)
    groups = batch.histories.partition_by("path", as_dict=True, maintain_order=True,
                                          include_key=False)
    with _progress(len(groups), "plotting") as bar:
        for (path,), hist in groups.items():
            try:
                run = run_from_path(path, strict=strict, name=batch.name(path))
                if engine == "r":
                    from ..rbridge import render_r

                    segs = None if no_stops else early_stoppings(hist, tolerance,
                                                                 telemetry=telemetry)
                    click.echo(render_r(hist, lookup, segs, base_size, title, subtitle,
                                        run.name if caption is None else caption, target(path),
                                        width, height, dpi, metrics=metrics,
                                        all_metrics=all_metrics, telemetry=telemetry))
                    bar.update(1)
                    continue
                fig = plot_run(hist, run.name, lookup, tolerance=None if no_stops else tolerance,
                               base_size=base_size, metrics=metrics, title=title,
                               subtitle=subtitle, caption=caption, all_metrics=all_metrics,
                               telemetry=telemetry)
                click.echo(save_plot(fig, target(path), width=width, height=height, dpi=dpi))
            except HistkitError as exc:
                problems.append(exc if exc.path else type(exc)(exc.message, path=path))
            bar.update(1)
    _finish(problems)


def _short_labels(batch, strict: bool, fields=None) -> tuple[dict[str, str], str]:
    """Path -> a short label from the settings that differ between the runs,
    and a caption that gives each label its full run name (``fields``: the
    runs' name fields, when the caller has read them)."""
    from ..analysis.runs import run_fields
    from ..analysis.compare import short_labels

    if fields is None:
        fields = run_fields(batch.paths, strict=strict, names=batch)
    labels = short_labels(fields)
    full = "\n".join(f"{label}: {name}" if label != name else name
                      for label, name in zip(labels, fields["run"].to_list()))
    return dict(zip(fields["path"].to_list(), labels)), full


def _targets(output: str | None, n_inputs: int, overlay: bool, suffix: str, name_of,
             default: str = "overlay"):
    """A function input path -> figure path, after checking ``-o`` once.
    Histories outside a run/ tree are named for their run (``name_of``), so
    two Lightning ``metrics.csv`` files do not land on one figure."""
    from ..render.plot import check_output

    if output is None:
        if overlay:
            return lambda _: Path(default + suffix)
        return _unique(lambda path: default_output(path, suffix, name_of(path)))
    out = Path(output)
    if out.is_dir() or output.endswith(("/", os.sep)):
        return _unique(lambda path: out / (_safe(name_of(path)) + suffix))
    check_output(out)
    if n_inputs > 1 and not overlay:
        raise click.UsageError(f"-o {output!r} is one file but there are {n_inputs} "
                               "inputs: give a directory (ending in /), --overlay or "
                               "--side-by-side")
    return lambda _: out


def _unique(target):
    """``target`` made one-to-one: a second input whose figure would land on
    the same file (two ``version_0`` runs) gets a hash of its path added."""
    import hashlib

    taken: dict[Path, str] = {}

    def pick(path: str) -> Path:
        out = target(path)
        if taken.setdefault(out, path) != path:
            out = out.with_name(f"{out.stem}-{hashlib.sha1(path.encode()).hexdigest()[:8]}"
                                f"{out.suffix}")
        return out
    return pick


def _runs_of_paths(paths, batch, strict: bool):
    """Run names for a column of paths of ``batch``, as an Enum: a column of
    millions of rows holds an index per row, not a copy of the name."""
    import polars as pl

    from ..names import run_from_path

    if not isinstance(paths.dtype, pl.Enum):
        paths = paths.cast(pl.String)
        paths = paths.cast(pl.Enum(paths.unique(maintain_order=True).drop_nulls()))
    # a name per file, not per row: the path Enum's codes pick from them
    codes = paths.to_physical()
    files = paths.dtype.categories
    names = {i: run_from_path(files[i], strict=strict, name=batch.name(files[i])).name
             for i in codes.unique(maintain_order=True)}
    per_code = pl.Series([names.get(i) for i in range(len(files))],
                         dtype=pl.Enum(list(dict.fromkeys(names.values()))))
    return per_code.gather(codes)


def _safe(name: str) -> str:
    """A run name as a file name."""
    import re

    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", name).strip("._") or "run"


def _progress(n: int, label: str):
    """A progress bar on stderr; click hides it when stderr is not a terminal."""
    tty = sys.stderr.isatty()
    return click.progressbar(length=n, label=label if tty else None, file=sys.stderr)


@contextmanager
def _progress_callback(label: str, at_least: int = 1):
    """A ``progress(done, total)`` callback drawing a bar on stderr (a
    terminal only); the bar starts at the first call whose total is
    ``at_least`` or more, and ends when ``done`` reaches the total."""
    from contextlib import ExitStack

    stack = ExitStack()
    state = {"bar": None, "done": 0, "ended": False}

    def progress(done: int, total: int) -> None:
        if state["ended"] or (state["bar"] is None
                              and (total < at_least or not sys.stderr.isatty())):
            return
        if state["bar"] is None:
            state["bar"] = stack.enter_context(_progress(total, label))
        state["bar"].update(done - state["done"])
        state["done"] = done
        if done >= total:
            state["ended"] = True
            stack.close()  # the next bar starts on a line of its own

    with stack:
        yield progress


def _reading():
    """The bar of histories read, for a tree read in more than one chunk
    (a few seconds or more; a smaller one is read before a bar would show)."""
    from ..readers.batch import CHUNK

    return _progress_callback("reading", at_least=CHUNK + 1)


def _read_in_chunks(paths: list[str], source: str | None):
    """:func:`histkit.read_chunks` of ``paths``, with the bar of :func:`_reading`."""
    from ..readers.batch import read_chunks

    with _reading() as reading:
        yield from read_chunks(paths, source=source, progress=reading)


# ---------------------------------------------------------------------------
# stops


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH_OR_DIR...")
@tolerance_option
@click.option("--relative", is_flag=True,
              help="Read the tolerance as a fraction of |best| (0.01 = within 1%).")
@format_option("table", "csv", "json")
@telemetry_option
@source_option
@strict_option
def stops(paths, tolerance, relative, fmt, telemetry, source, strict):
    """Early-stop epochs: the first epoch within the tolerance of each series' best.

    Loss-like metrics (a name token loss, error, mse, mae, rmse or
    crossentropy) are minimised, the others maximised; telemetry (learning
    rate, times, memory) gets no stop. Directories are searched recursively
    for histories of every source.

    \b
    Examples:
      histkit stops run/2026-11-23/unet_2d_mdice/fat_256x128x1/unet_2d_mdice_AdaDelta_fat_256x128x1_N96_E24_L4_FBL16.csv
      histkit stops run/ --tolerance 0.01 --relative --format csv > stops.csv
      histkit stops tests/fixtures/sources/lightning tests/fixtures/sources/mlflow/mlruns
    """

    with importing():
        import polars as pl

        from ..readers.batch import find_histories
        from ..analysis.stops import early_stoppings

    problems: list = []
    parts = []
    for batch in _read_in_chunks(find_histories(paths, problems=problems), source):
        problems += batch.problems
        part = early_stoppings(batch.histories, tolerance, relative=relative, by=["path"],
                               telemetry=telemetry)
        parts.append(part.with_columns(run=_runs_of_paths(part["path"], batch, strict)
                                       .cast(pl.String), path=pl.col("path").cast(pl.String)))
    table = pl.concat(parts)
    # frameworks give many runs one name (version_0): then the path tells them apart
    shared = table.group_by("run").agg(pl.col("path").n_unique() > 1)["path"].any()
    table = (table.select("run", *(["path"] if shared else []), "metric", "data", "epoch",
                          "value", "best_epoch", "best_value")
             .sort("run", *(["path"] if shared else []), "metric", "epoch",
                   maintain_order=True))
    if table.height:
        _echo_table(table, fmt)
    _finish(problems)


# ---------------------------------------------------------------------------
# diagnose


def _rules(ctx, param, value):
    from ..diagnosis import RULES

    if not value:
        return None
    chosen = [r.strip() for r in value.split(",") if r.strip()]
    for r in chosen:
        if r not in RULES:
            raise click.BadParameter(f"unknown rule {r!r}; choose from {', '.join(RULES)}")
    return chosen


@main.command("diagnose")
@click.argument("paths", nargs=-1, required=True, metavar="PATH_OR_DIR...")
@click.option("--classes", "-k", type=click.IntRange(min=2), default=None,
              help="Number of classes K, for the ln K (chance) and double-softmax checks "
                   "[default: from per-class metric names such as background_dice].")
@click.option("--rules", callback=_rules, metavar="RULE,...",
              help="Only these rules (diverged, stuck, double_softmax, collapse_to_background, "
                   "overfitting, oscillating, val_better_than_train, too_slow, wasted_epochs).")
@format_option("table", "csv", "json")
@telemetry_option
@source_option
@strict_option
def diagnose_command(paths, classes, rules, fmt, telemetry, source, strict):
    """Say whether each run failed, and why, from its history alone.

    The table has one line per run: its verdict (failed, suspect, advice or
    healthy), the rules that fired, the first finding with its numbers and
    what to try. --format csv or json gives the findings themselves, one row
    each (run, rule, severity, epoch, metric, data, evidence, advice). Exit
    code 0 when no run failed, 1 when one did, 2 on bad input.

    \b
    Examples:
      histkit diagnose run/
      histkit diagnose bench/diagnose_dev/runs/stuck_ce_sgd_lr1e-6
      histkit diagnose bench/diagnose_dev/keras/double_softmax.csv --classes 4
      histkit diagnose run/ --format csv > findings.csv
    """
    with importing():
        import polars as pl

        from ..diagnosis import diagnose, summarise
        from ..readers.batch import find_histories

    problems: list = []
    found, named = [], []
    for batch in _read_in_chunks(find_histories(paths, problems=problems), source):
        problems += batch.problems
        long = batch.histories
        long = long.with_columns(run=_runs_of_paths(long["path"], batch, strict))
        findings = diagnose(long, classes, rules=rules, by=["path", "run"], telemetry=telemetry)
        found.append(findings.with_columns(pl.col("path", "run").cast(pl.String)))
        named.append(long.select("path", "run").unique(maintain_order=True)
                     .with_columns(pl.col("path", "run").cast(pl.String)))
    findings, runs = pl.concat(found), pl.concat(named)
    shared = runs["run"].n_unique() < runs.height
    if fmt == "table":
        table = summarise(findings, runs)
        table = table.select("run", *(["path"] if shared else []), "verdict", "rules",
                             "diagnosis", "advice")
    else:
        table = findings.select("run", *(["path"] if shared else []),
                                *[c for c in findings.columns if c not in ("run", "path")])
    if runs.height:
        _echo_table(table, fmt)
    _finish(problems)
    return 1 if (findings["severity"] == "error").any() else 0


# ---------------------------------------------------------------------------
# runs


def _list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


@main.command("runs")
@click.argument("root", nargs=-1, metavar="[ROOT=run]...")
@format_option("table", "csv", "json", "parquet")
@click.option("--where", "-w", multiple=True, metavar="FIELD=VALUE",
              help="Keep runs whose field equals the value (repeatable, all must hold); "
                   "text without case, the name's spelling too (dropout=DR20, attention=ag).")
@click.option("--columns", "-c", metavar="A,B,...", default=None,
              help="Show only these columns, in this order.")
@click.option("--sort", "-s", "sort", metavar="A,-B", default=None,
              help="Sort by these columns; a leading - sorts descending.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write to this file instead of stdout.")
@click.option("--no-cache", is_flag=True,
              help="Read every history again instead of only those changed since the "
                   "last run (the table is kept in ~/.cache/histkit).")
@tolerance_option
@source_option
@strict_option
def runs_command(root, fmt, where, columns, sort, output, no_cache, tolerance, source, strict):
    """List the runs of a run/ tree: parsed name fields, epochs logged, val_loss.

    One row per history: path, date, run, model, dim, loss, attention,
    optimizer, dataset, height, width, channels, n_train, epochs, levels,
    base_filters, dropout, batch_size, lr, seed, extra, epochs_logged,
    best_val_loss, best_val_loss_epoch, stop_val_loss_epoch. batch_size and
    lr are empty where the run used the trainer's default (the name has no
    BS or LR token; shown as null, empty in CSV). The table is kept in a
    cache, so a rerun reads only the histories that changed.

    \b
    Examples:
      histkit runs
      histkit runs run/2026-12-02 --where model=unet --where optimizer=adam
      histkit runs run/2026-12-02 --where dropout=DR20 --columns run,best_val_loss
      histkit runs --columns run,epochs_logged,best_val_loss --sort best_val_loss
      histkit runs --format parquet -o runs.parquet
    """
    with importing():
        from ..analysis.runs import filter_runs, runs, select_runs

    problems: list = []
    with _reading() as reading:
        table, unread = runs(root or ["run"], tolerance=tolerance, strict=strict,
                             source=source, cache=not no_cache, problems=problems,
                             progress=reading)
    problems += unread
    found = table.height
    table = filter_runs(table, where)
    table = select_runs(table, _list(columns), _list(sort))
    if found:
        _echo_table(table, fmt, output)
    _finish(problems)


# ---------------------------------------------------------------------------
# compare


def _resolve_runs(items, root: str, problems: list) -> list[str]:
    """Paths of the inputs: a file or directory as it is, else a run name
    looked up under ``root`` (every date that has it)."""
    from ..errors import OptionError

    out = []
    for item in items:
        if Path(item).exists():
            out.append(item)
            continue
        name = item[:-4] if item.endswith(".csv") else item
        found = sorted(str(p) for p in Path(root).glob(f"**/{name}.csv"))
        if found:
            out += found
        else:
            problems.append(OptionError(f"no file and no run named {name!r} under {root}/"))
    return out


@main.command("compare")
@click.argument("items", nargs=-1, required=True, metavar="RUN_OR_PATH...")
@click.option("--root", default="run", show_default=True,
              help="Where run names (not paths) are looked up.")
@click.option("--metric", "-m", default=None, metavar="SERIES",
              help="The series whose best value and stop are shown (sdice: its validation "
                   "series) [default: the first labelled metric's validation series].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="compare.png",
              show_default=True, help="The figure of their curves (.png, .pdf, .svg).")
@format_option("table", "csv", "json")
@labels_option
@tolerance_option
@source_option
@strict_option
def compare_command(items, root, metric, output, fmt, labels, tolerance, source, strict):
    """Compare runs side by side: the settings that differ, best values and stops.

    RUN_OR_PATH is a history, a directory of histories, or a run name looked
    up under --root. Prints one row per run: a short label built from the
    settings that differ (attention=true, DR20), those settings, the best
    value of the metric with its epoch, the stop epoch within the tolerance,
    the epochs logged, time per epoch and peak memory where logged, and the
    full run name. Draws one figure of their curves (training solid,
    validation dashed; the legend has the short labels, the caption the full
    names) and says where on stderr.

    \b
    Examples:
      histkit compare run/2026-12-02/unet_2d_dice run/2026-12-02/linknet_2d_dice
      histkit compare unet_2d_bce_Adam_fat2_256x128x1_N96_E24_L4_FBL16 linknet_2d_bce_Adam_fat2_256x128x1_N96_E24_L4_FBL16 --labels pipelines/labels.R -o bce.png
      histkit compare run/2026-12-02/unet_2d_mdice run/2026-12-02/unet_2d_mdice_ag --metric val_loss --format csv
    """
    with importing():
        import polars as pl

        from ..render.plot import prepare_process

        prepare_process()
        from plotnine import labs

        from ..analysis.runs import run_fields, summarise
        from ..analysis.compare import side_by_side
        from ..readers.batch import find_histories, read_histories
        from ..labels import load_labels
        from ..render.plot import check_output, plot_overlay, save_plot
        from ..analysis.stops import early_stoppings

    check_output(output)
    lookup = load_labels(labels)
    problems: list = []
    paths = _resolve_runs(items, root, problems)
    batch = read_histories(find_histories(paths, problems=problems), source=source)
    problems += batch.problems
    if len(batch.paths) < 2:
        _finish(problems)
        raise click.UsageError(f"compare needs two runs or more; {len(batch.paths)} could be "
                               "read")
    fields = run_fields(batch.paths, strict=strict, names=batch)
    summary = summarise(batch.histories, fields, tolerance)
    table = side_by_side(summary, metric, lookup)
    _echo_table(table, fmt)
    labelled, full = _short_labels(batch, strict, fields)
    long = batch.histories.with_columns(
        run=batch.histories["path"].cast(pl.String).replace_strict(labelled)).drop("path")
    segs = early_stoppings(long, tolerance, by=["run"])
    fig = plot_overlay(long, by="run", lookup_table=lookup, data=None, segments=segs)
    click.echo(f"figure: {save_plot(fig + labs(caption=full), output)}", err=True)
    _finish(problems)
