"""Metric label lookups: metric name -> display label, in facet order.

Sources: a dict, a ``.R`` file holding ``name <- c(key = "Label", ...)`` (parsed,
never evaluated), ``.json`` or ``.toml``. The R reader accepts only string
literals, names, ``c()``, ``=``, ``<-`` and comments; anything else is an error
naming the line, so a labels file can never run code.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Mapping

from .errors import LabelsError

__all__ = ["load_labels", "parse_r_labels"]

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f]+) | (?P<newline>\n) | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<backtick>`[^`\n]+`)
  | (?P<assign><-|=)
  | (?P<name>[A-Za-z.][A-Za-z0-9._]*)
  | (?P<punct>[(),])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def load_labels(source=None, *, name: str | None = None) -> dict[str, str]:
    """A label lookup from ``source``: None (no labels), a mapping, or a path
    to a ``.R``, ``.json`` or ``.toml`` file. ``name`` picks one vector of an R
    file holding several (default: the first)."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return _checked(dict(source), "labels")
    path = Path(os.fspath(source))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LabelsError("no such labels file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"cannot read labels file: {exc}", path=str(path)) from None
    suffix = path.suffix.lower()
    if suffix == ".r":
        vectors = parse_r_labels(text, str(path))
        if not vectors:
            raise LabelsError("no 'name <- c(key = \"Label\", ...)' assignment found",
                              path=str(path))
        if name is None:
            return next(iter(vectors.values()))
        if name not in vectors:
            raise LabelsError(f"no vector named {name!r}; the file defines "
                              f"{', '.join(vectors)}", path=str(path))
        return vectors[name]
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    elif suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise LabelsError(f"invalid TOML: {exc}", path=str(path)) from None
        if set(data) == {"labels"} and isinstance(data["labels"], dict):
            data = data["labels"]
    else:
        raise LabelsError(f"unknown labels format {suffix or '(no suffix)'!r}; "
                          "use a .R, .json or .toml file", path=str(path))
    if name is not None and isinstance(data, dict) and isinstance(data.get(name), dict):
        data = data[name]
    return _checked(data, str(path))


def _checked(data, where: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise LabelsError(f"expected a table of metric = \"Label\", got {type(data).__name__}",
                          path=where)
    for k, v in data.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise LabelsError(f"label for {k!r} must be a string, got {v!r}", path=where)
    return data


def _tokens(text: str, path: str):
    line, pos = 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise LabelsError(f"unexpected {text[pos:pos + 20].splitlines()[0]!r}: only "
                              'name <- c(key = "Label", ...) is allowed', path=path, line=line)
        kind, value = m.lastgroup, m.group()
        pos = m.end()
        if kind == "newline":
            line += 1
        elif kind not in ("space", "comment"):
            yield kind, value, line


def _unquote(tok: str) -> str:
    body = tok[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def parse_r_labels(text: str, path: str = "<labels>") -> dict[str, dict[str, str]]:
    """Every ``name <- c(key = "Label", ...)`` of an R source, without running it."""
    toks = list(_tokens(text, path))
    vectors: dict[str, dict[str, str]] = {}
    i = 0

    def expect(kinds, what):
        nonlocal i
        if i >= len(toks):
            last = toks[-1][2] if toks else 1
            raise LabelsError(f"file ends where {what} was expected", path=path, line=last)
        kind, value, line = toks[i]
        if kind not in kinds and value not in kinds:
            raise LabelsError(f"expected {what}, found {value!r}; only "
                              'name <- c(key = "Label", ...) is allowed', path=path, line=line)
        i += 1
        return value

    while i < len(toks):
        target = expect(("name", "backtick"), "a variable name")
        expect(("<-", "="), "'<-'")
        if expect(("name",), "c(") != "c":
            raise LabelsError("only c(...) may be assigned", path=path, line=toks[i - 1][2])
        expect(("(",), "'('")
        entries: dict[str, str] = {}
        while True:
            if toks[i:i + 1] and toks[i][1] == ")":
                i += 1
                break
            key = expect(("name", "string", "backtick"), "a metric name")
            key = _unquote(key) if key[0] in "\"'`" else key
            expect(("=",), f"'=' after {key!r}")
            entries[key] = _unquote(expect(("string",), f"a quoted label for {key!r}"))
            if expect((",", ")"), "',' or ')'") == ")":
                break
        vectors[target.strip("`")] = entries
    return vectors
