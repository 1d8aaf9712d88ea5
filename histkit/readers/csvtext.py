"""The one CSV reader: text with a header -> one column per field, with
errors that name the file, the line and the column.

Every CSV source (Keras CSVLogger and histkit's trainer, Lightning's
``metrics.csv``, fastai's ``history.csv``) parses through :func:`parse_csv`;
what a column *means* is the source's business.
"""

from __future__ import annotations

import csv
import math
import warnings

import polars as pl

from ..errors import HistkitWarning, HistoryError, listed

__all__ = ["MISSING", "POLARS_NULLS", "SEGMENT", "decode", "sniff", "header_names",
           "parse_csv", "parse_columns", "peek_header"]

MISSING = ("", "na", "nan", "-nan", "null", "none", "#na#")
POLARS_NULLS = sorted({v for m in MISSING for v in (m, m.upper(), m.capitalize())} | {"NaN"})
_SEPARATORS = (",", ";", "\t")
#: the column :func:`parse_columns` adds where a header is written again
#: further down (each row's part of the file: 1, 2, ...)
SEGMENT = "__segment"


def decode(data: bytes, path: str, *, expected: str = "a CSV header such as "
           "'epoch,loss,val_loss'") -> str:
    """UTF-8 text of a history (a BOM is dropped), or one clear error for an
    empty, binary or non-UTF-8 file."""
    if not data.strip():
        raise HistoryError(f"empty file: expected {expected}", path=path)
    nul = data.find(b"\0", 0, 65536)
    if nul >= 0:
        raise HistoryError(f"binary data (NUL byte at offset {nul}), not a CSV history",
                           path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HistoryError(f"not UTF-8 text (bad byte at offset {exc.start}); "
                           "save the history as UTF-8 CSV", path=path) from None
    if not text.strip():  # a byte-order mark and blanks only
        raise HistoryError(f"empty file: expected {expected}", path=path)
    return text


def sniff(header: str) -> str:
    """The separator of a header line: comma, semicolon or tab."""
    return max(_SEPARATORS, key=header.count)


def header_names(fields: list[str], path: str) -> list[str]:
    """Stripped column names; an unnamed or repeated column is an error."""
    cols = [c.strip() for c in fields]
    seen: dict[str, int] = {}
    for i, c in enumerate(cols, 1):
        if not c:
            raise HistoryError(f"column {i} of the header has no name", path=path, line=1)
        if c in seen:
            raise HistoryError(f"duplicated column {c!r} (columns {seen[c]} and {i})",
                               path=path, line=1, column=c)
        seen[c] = i
    return cols


def peek_header(data: bytes) -> list[str] | None:
    """The column names of the first line, or None when it is not CSV text
    (a cheap look for telling sources apart; never raises)."""
    line = data[:65536].split(b"\n", 1)[0]
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        text = line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return None
    if not text.strip() or "\0" in text:
        return None
    try:
        return [c.strip() for c in next(csv.reader([text], delimiter=sniff(text)))]
    except (csv.Error, StopIteration):
        return None


def parse_csv(data: bytes, path: str, *, text: frozenset[str] = frozenset(),
              partial_rows: bool = False) -> tuple[pl.DataFrame, list[int]]:
    """Parse a CSV history: Float64 columns (``text`` columns stay String) and
    the file line of each row. Empty cells, ``nan`` and ``NA`` are nulls;
    blank lines are skipped; comma, semicolon or tab separated; CRLF is fine.
    ``partial_rows``: see :func:`parse_columns`.
    """
    columns, linenos = parse_columns(data, path, text=text, partial_rows=partial_rows)
    frame = pl.DataFrame({c: pl.Series(c, v, dtype=pl.String if c in text else
                                       pl.Int64 if c == SEGMENT else pl.Float64)
                          for c, v in columns.items()})
    return frame, linenos


def parse_columns(data: bytes, path: str, *, text: frozenset[str] = frozenset(),
                  keep_nan: bool = False, partial_rows: bool = False
                  ) -> tuple[dict[str, list], list[int]]:
    """:func:`parse_csv` as plain lists (``None`` for missing), for readers
    that reshape rows themselves. A header written again further down (an
    appended log) starts a new part, whose columns may differ: the columns
    are then those of every part, and :data:`SEGMENT` numbers each row's.
    A first line with no separator above a header is a title, skipped; an
    unnamed first column with no ``epoch`` beside it (pandas' index) is the
    epoch; both with a warning. ``keep_nan``: a ``nan`` cell is NaN, not
    missing (a reader that tells a diverged value from an unlogged one);
    ``partial_rows``: rows with fewer fields than the header are left out
    with a warning (fastai's learning rate finder), not an error."""
    content = decode(data, path)
    lines = content.splitlines()
    top = 0
    if len(lines) > 2 and _is_title(lines[0], lines[1]):
        warnings.warn(f"{path}: line 1 ({lines[0].strip()[:40]!r}) is a title, not a header; "
                      "read from line 2", HistkitWarning, stacklevel=3)
        top = 1
    sep = sniff(lines[top])
    try:
        header = next(csv.reader([lines[top]], delimiter=sep))
    except csv.Error as exc:
        raise HistoryError(f"unreadable header: {exc}", path=path, line=top + 1) from None
    if (len(header) > 1 and not header[0].strip() and all(h.strip() for h in header[1:])
            and "epoch" not in (h.strip() for h in header)):
        header = ["epoch", *header[1:]]  # pandas' to_csv: the unnamed index is the epoch
        warnings.warn(f"{path}: the first column has no name (a pandas index?); read as the "
                      "epoch", HistkitWarning, stacklevel=3)
    cols = header_names(header, path)
    values: dict[str, list] = {c: [] for c in cols}
    current = cols
    segments: list[int] = []
    segment = 1
    linenos: list[int] = []
    short: list[int] = []
    try:
        rows = list(csv.reader(lines[top + 1:], delimiter=sep, strict=False))
    except csv.Error as exc:
        raise HistoryError(f"unreadable CSV: {exc}", path=path) from None
    for lineno, fields in zip(range(top + 2, len(lines) + 1), rows):
        if not fields or (len(fields) == 1 and not fields[0].strip() and len(current) > 1):
            continue
        if partial_rows and 1 < len(fields) < len(current):
            short.append(lineno)
            continue
        if _is_header(fields, values):  # written again: a log appended to (fastai, a rerun)
            current = header_names(fields, path)
            for c in current:
                values.setdefault(c, [None] * len(linenos))
            segment += 1
            continue
        linenos.append(lineno)
        segments.append(segment)
        if len(fields) != len(current):
            raise HistoryError(f"{len(fields)} fields where the header has {len(current)} "
                               "(ragged row)", path=path, line=lineno)
        for col, cell in zip(current, fields):
            values[col].append(cell.strip() if col in text
                               else _cell(cell, path, lineno, col, keep_nan))
        if len(current) < len(values):
            for col, out in values.items():
                if len(out) < len(linenos):
                    out.append(None)
    if short:
        warnings.warn(f"{path}: line(s) {listed(short)} have fewer fields than the header (a learning "
                      "rate finder's rows, with no validation?); left out", HistkitWarning,
                      stacklevel=3)
    if not linenos:
        raise HistoryError("the header has no rows under it (no epoch was logged)", path=path)
    if segment > 1:
        values[SEGMENT] = segments
    return values, linenos


def _is_header(fields: list[str], known: dict) -> bool:
    """A row that is a header written again: no cell is a number or empty,
    and one names a column already seen (or ``epoch``)."""
    cells = [f.strip() for f in fields]
    return (any(c in known or c == "epoch" for c in cells)
            and not any(c.lower() in MISSING or _numeric(c) for c in cells))


def _is_title(first: str, second: str) -> bool:
    """A first line that is one word of text above a header with separators."""
    words = first.strip()
    if not words or any(sep in words for sep in _SEPARATORS):
        return False
    cells = [c.strip() for c in second.split(sniff(second))]
    return len(cells) > 1 and all(c and not _numeric(c) for c in cells)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _cell(cell: str, path: str, line: int, col: str, keep_nan: bool = False) -> float | None:
    s = cell.strip()
    if keep_nan and s.lower() in ("nan", "-nan"):
        return math.nan
    if s.lower() in MISSING:
        return None
    try:
        v = float(s)
    except ValueError:
        raise HistoryError(f"non-numeric value {cell!r}; metrics must be numbers "
                           "(empty, nan or NA for missing)", path=path, line=line,
                           column=col) from None
    return None if v != v else v
