"""Tables as Markdown text, the CLI's ``--format table``.

polars prints a DataFrame as a Markdown table too, but it lays out 100,000
rows cell by cell; here each column is formatted and padded as a whole and
the rows are written by polars' CSV writer (bench/ingest.py, "runs (table
format)", measures both). The layout is
polars' ASCII_MARKDOWN one: left-aligned cells, ``null`` for a missing
value, floats with four decimals; a ``|`` or line break in a cell or a name is
escaped so that every row stays one line of the table.
"""

from __future__ import annotations

import io
import math
from typing import BinaryIO

import polars as pl

__all__ = ["markdown", "write_markdown"]

DECIMALS = 4


def _float(x: float | None) -> str:
    if x is None:
        return "null"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{DECIMALS}f}" if abs(x) < 1e15 else f"{x:.{DECIMALS}e}"


def _floats(column: pl.Series) -> pl.Series:
    """Floats as :func:`_float` writes them. polars' CSV writer rounds as
    Python does (ties to even on the exact binary value), in one call rather
    than one per value; only the rare huge values are redone."""
    text = column.to_frame().write_csv(include_header=False, float_precision=DECIMALS,
                                       null_value="null", quote_style="never")
    cells = pl.Series(column.name, text.split("\n")[:-1], pl.String)
    huge = (column.abs() >= 1e15) & column.is_finite()
    if huge.any():
        cells = cells.scatter(huge.arg_true(), [_float(x) for x in column.filter(huge)])
    return cells


_ESCAPES = (("|", r"\|"), ("\r\n", r"\n"), ("\n", r"\n"), ("\r", r"\r"))  # in this order


def _escaped(text: pl.Expr) -> pl.Expr:
    for old, new in _ESCAPES:
        text = text.str.replace_all(old, new, literal=True)
    return text


def _escaped_name(name: str) -> str:
    for old, new in _ESCAPES:
        name = name.replace(old, new)
    return name


def _cells(table: pl.DataFrame) -> pl.DataFrame:
    """The table as text, one cell per value; one ``select``, so polars
    works on the columns side by side."""
    out: list[pl.Expr] = []
    for name, dtype in table.schema.items():
        if dtype.is_float():
            out.append(pl.lit(_floats(table[name])))
            continue
        if dtype.is_nested():
            text = pl.lit(pl.Series(name, [None if v is None else repr(v)
                                           for v in table[name].to_list()], pl.String))
        else:
            text = pl.col(name).cast(pl.String)
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum) or dtype.is_nested():
            text = _escaped(text)
        out.append(text.fill_null("null"))
    return table.select(out)


def _layout(table: pl.DataFrame) -> tuple[str, pl.DataFrame]:
    """The header and rule lines, and the rows as a one-column frame of lines."""
    cells = _cells(table)
    longest = cells.select(pl.all().str.len_chars().max()).row(0)  # None for no rows
    names = [_escaped_name(c) for c in cells.columns]
    widths = [max(len(name), n or 0) for name, n in zip(names, longest)]
    head = "| " + " | ".join(n.ljust(w) for n, w in zip(names, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    parts: list[pl.Expr] = [pl.lit("| ")]
    for i, (c, w) in enumerate(zip(cells.columns, widths)):
        parts += [pl.col(c).str.pad_end(w), pl.lit(" | " if i < len(widths) - 1 else " |")]
    return f"{head}\n{rule}\n", cells.select(line=pl.concat_str(parts))


def write_markdown(table: pl.DataFrame, file: BinaryIO) -> None:
    """Write ``table`` as a Markdown table to a binary file, a line per row.

    The rows go out as polars writes them, never as one Python string: the
    100,000 rows of a sweep are 40 MB of text."""
    if not table.width:
        return
    top, lines = _layout(table)
    file.write(top.encode())
    if lines.height:  # into the same buffer: a short table is one write
        lines.write_csv(file, include_header=False, quote_style="never")


def markdown(table: pl.DataFrame) -> str:
    """``table`` as a Markdown table, a line per row, ending with a newline."""
    buffer = io.BytesIO()
    write_markdown(table, buffer)
    return buffer.getvalue().decode()
