"""Tables as Markdown text, the CLI's ``--format table``.

polars prints a DataFrame as a Markdown table too, but it lays out 100,000
rows cell by cell (2.5 s and 700 MB for ``histkit runs`` over a sweep); here
each column is formatted and padded as a whole, so the same table takes
about a fifth of that (bench/ingest.py, "runs (table format)"). The layout is
polars' ASCII_MARKDOWN one: left-aligned cells, ``null`` for a missing
value, floats with four decimals; a ``|`` or line break inside a cell is
escaped so that every row stays one line of the table.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["markdown"]

DECIMALS = 4


def _float(x: float | None) -> str:
    if x is None:
        return "null"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{DECIMALS}f}" if abs(x) < 1e15 else f"{x:.{DECIMALS}e}"


def _cells(column: pl.Series) -> pl.Series:
    """The column as text, one cell per row."""
    if column.dtype.is_float():
        return pl.Series(column.name, [_float(x) for x in column.to_list()], pl.String)
    if column.dtype.is_nested():
        text = pl.Series(column.name, [None if v is None else repr(v)
                                       for v in column.to_list()], dtype=pl.String)
    else:
        text = column.cast(pl.String)
    if column.dtype in (pl.String, pl.Categorical) or isinstance(column.dtype, pl.Enum):
        text = (text.str.replace_all("|", r"\|", literal=True)
                .str.replace_all("\r\n", r"\n", literal=True)
                .str.replace_all("\n", r"\n", literal=True))
    return text.fill_null("null")


def markdown(table: pl.DataFrame) -> str:
    """``table`` as a Markdown table, a line per row, ending with a newline."""
    cells = pl.DataFrame([_cells(table[c]) for c in table.columns]) if table.width else None
    if cells is None:
        return ""
    widths = [max(len(c), cells[c].str.len_chars().max() or 0) for c in cells.columns]
    head = "| " + " | ".join(c.ljust(w) for c, w in zip(cells.columns, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    parts: list[pl.Expr] = [pl.lit("| ")]
    for i, (c, w) in enumerate(zip(cells.columns, widths)):
        parts += [pl.col(c).str.pad_end(w), pl.lit(" | " if i < len(widths) - 1 else " |")]
    rows = cells.select(pl.concat_str(parts).str.join("\n")).item()
    return "\n".join([head, rule, rows] if table.height else [head, rule]) + "\n"
