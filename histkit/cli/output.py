"""What the commands print: one-line errors and warnings, exit codes, tables
on stdout, progress bars on stderr.

Every command's result goes to stdout through :func:`writing_stdout`, so a
reader that leaves early (``histkit runs | head``) is not an error: the rest
of the output goes nowhere, the command finishes its other work and then
exits 141, as a tool ended by SIGPIPE does.
"""

from __future__ import annotations

import errno
import os
import re
import select
import sys
from contextlib import ExitStack, contextmanager

import click

__all__ = ["EXIT_FAILED", "EXIT_INPUT", "EXIT_PIPE", "fail", "show_warning", "finish",
           "echo_table", "echo_text", "table_text", "writing_stdout", "broken_pipe", "stdout_to_devnull",
           "STDOUT", "progress_bar", "progress_callback", "reading", "read_in_chunks"]

EXIT_FAILED = 1  # a run failed: a diagnosis of severity error, a trainer that failed
EXIT_INPUT = 2   # bad input: a history, option or study file that cannot be used
EXIT_PIPE = 141  # the reader of stdout left: what a shell reports for a tool SIGPIPE killed


class _Stdout:
    """Whether stdout's reader left while a command wrote its result."""

    broken = False


STDOUT = _Stdout()


def fail(message: str) -> None:
    """One line on stderr: ``histkit: error: <message>``."""
    click.echo(f"histkit: error: {message}", err=True)


_TOLD: set[str] = set()


def show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` for the commands: one line, no source line,
    and each line once (a log split into trainings parses its name for each)."""
    text = f"histkit: warning: {message}"
    if text not in _TOLD:
        _TOLD.add(text)
        click.echo(text, err=True)


def finish(problems: list) -> None:
    """Name each input that could not be used (or output that could not be
    written), then exit :data:`EXIT_INPUT` (:data:`EXIT_FAILED` when an
    output failed: a full disk is not the input's fault); nothing when there
    is none."""
    from ..errors import OutputError

    for exc in problems:
        fail(str(exc))
    if problems:
        sys.exit(EXIT_FAILED if any(isinstance(e, OutputError) for e in problems)
                 else EXIT_INPUT)


# ---------------------------------------------------------------------------
# stdout


def broken_pipe(exc: BaseException) -> bool:
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


def stdout_to_devnull() -> None:
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
def writing_stdout():
    """Where a command writes its result: stdout's binary stream (None where
    stdout is a text stream, as under ``contextlib.redirect_stdout``).

    A reader that leaves early is not an error: the rest of the output goes
    nowhere (:data:`STDOUT` says so, and the program then exits
    :data:`EXIT_PIPE` unless it has a failure of its own to report). Any
    other failure to write is one line."""
    if sys.stdout is None:
        raise click.ClickException("cannot write to stdout: it is closed")
    try:
        sys.stdout.flush()
        binary = getattr(sys.stdout, "buffer", None)
        yield None if binary is None else _WholeWrites(binary)
        (binary or sys.stdout).flush()
    except OSError as exc:
        if not broken_pipe(exc):
            reason = exc.strerror or re.sub(r"^\[Errno \d+\] |\s*\(os error \d+\)$", "", str(exc))
            raise click.ClickException(f"cannot write to stdout: {reason}") from None
        stdout_to_devnull()
        STDOUT.broken = True


def echo_text(text: str) -> None:
    """A command's result as text on stdout, or one line where it cannot go
    (stdout closed, a full disk); a reader that leaves early is not an error."""
    with writing_stdout() as out:
        data = (text + "\n").encode()
        if out is None:
            sys.stdout.write(text + "\n")
        else:
            out.write(data)


def echo_table(table, fmt: str, output: str | None = None) -> None:
    """``table`` in ``fmt`` (table, csv, json, parquet) to ``output``
    (written atomically), else to stdout as polars writes it: 100,000 runs
    make no 40 MB string in between."""
    if output is not None:
        from ..files import atomic_target, write_atomic

        if fmt == "parquet":
            with atomic_target(output) as tmp:
                table.write_parquet(tmp)
        else:
            write_atomic(output, table_text(table, fmt).encode())
        return
    if fmt == "parquet" and sys.stdout is not None and sys.stdout.isatty():
        raise click.UsageError("parquet is binary: give -o FILE or redirect stdout")
    with writing_stdout() as out:
        if out is None:
            if fmt == "parquet":
                raise click.UsageError("parquet is binary: give -o FILE")
            sys.stdout.write(table_text(table, fmt))
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


def table_text(table, fmt: str) -> str:
    """``table`` as text in ``fmt`` (table, csv or json)."""
    if fmt == "csv":
        return table.write_csv()
    if fmt == "json":
        return table.write_json() + "\n"
    from ..render.text_table import markdown

    return markdown(table)


# ---------------------------------------------------------------------------
# progress on stderr


def progress_bar(n: int, label: str):
    """A progress bar on stderr; click hides it when stderr is not a terminal."""
    tty = sys.stderr.isatty()
    return click.progressbar(length=n, label=label if tty else None, file=sys.stderr)


@contextmanager
def progress_callback(label: str, at_least: int = 1):
    """A ``progress(done, total)`` callback drawing a bar on stderr (a
    terminal only); the bar starts at the first call whose total is
    ``at_least`` or more, and ends when ``done`` reaches the total."""
    stack = ExitStack()
    state = {"bar": None, "done": 0, "ended": False}

    def progress(done: int, total: int) -> None:
        if state["ended"] or (state["bar"] is None
                              and (total < at_least or not sys.stderr.isatty())):
            return
        if state["bar"] is None:
            state["bar"] = stack.enter_context(progress_bar(total, label))
        state["bar"].update(done - state["done"])
        state["done"] = done
        if done >= total:
            state["ended"] = True
            stack.close()  # the next bar starts on a line of its own

    with stack:
        yield progress


def reading():
    """The bar of histories read, for a tree read in more than one chunk
    (a few seconds or more; a smaller one is read before a bar would show)."""
    from ..readers import CHUNK

    return progress_callback("reading", at_least=CHUNK + 1)


def read_in_chunks(paths: list[str], source: str | None):
    """:func:`histkit.read_chunks` of ``paths``, with the bar of :func:`reading`."""
    from ..readers import read_chunks

    with reading() as bar:
        yield from read_chunks(paths, source=source, progress=bar)
