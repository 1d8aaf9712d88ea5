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


_R_ESCAPE = re.compile(r"""\\(?:
      (?P<x>x[0-9A-Fa-f]{1,2})
    | (?P<u>u\{[0-9A-Fa-f]{1,4}\}|u[0-9A-Fa-f]{1,4})
    | (?P<U>U\{[0-9A-Fa-f]{1,8}\}|U[0-9A-Fa-f]{1,8})
    | (?P<oct>[0-7]{1,3})
    | (?P<char>.))""", re.X | re.S)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
           "\\": "\\", '"': '"', "'": "'", "`": "`", " ": " "}


def _unquote(tok: str, path: str = "<labels>", line: int | None = None) -> str:
    """A quoted R string's value, its escapes read as R's parser reads them
    (``\\x3c``, ``\\u00e9``, ``\\U{1F600}``, octal ``\\074``); an escape R
    does not know is an error, as in R."""
    body = tok[1:-1]
    if tok[0] == "`":
        return body

    def one(m: re.Match) -> str:
        if m.group("char") is not None:
            c = m.group("char")
            if c not in _SIMPLE:
                raise LabelsError(f"'\\{c}' is an unrecognized escape in {tok}", path=path,
                                  line=line)
            return _SIMPLE[c]
        if m.group("oct") is not None:
            code = int(m.group("oct"), 8)
        else:
            digits = (m.group("x") or m.group("u") or m.group("U"))[1:].strip("{}")
            code = int(digits, 16)
        if code == 0 or code > 0x10FFFF:
            raise LabelsError(f"escape {m.group(0)!r} in {tok} is not a character R allows",
                              path=path, line=line)
        return chr(code)

    value = _R_ESCAPE.sub(one, body)
    kinds = {k for m in _R_ESCAPE.finditer(body) for k in ("x", "oct", "u", "U")
             if m.group(k) is not None}
    if kinds & {"x", "oct"} and kinds & {"u", "U"}:
        raise LabelsError(f"{tok} mixes Unicode and octal/hex escapes, which R does not allow",
                          path=path, line=line)
    return value


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
            line = toks[i - 1][2]
            key = _unquote(key, path, line) if key[0] in "\"'`" else key
            expect(("=",), f"'=' after {key!r}")
            label = _unquote(expect(("string",), f"a quoted label for {key!r}"), path,
                             toks[i - 1][2])
            entries.setdefault(key, label)  # R's labels[[key]] is the first of a name
            if expect((",", ")"), "',' or ')'") == ")":
                break
        vectors[target.strip("`")] = entries
    return vectors
