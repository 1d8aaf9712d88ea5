"""The jinja2 environment of the report's templates (``templates/``) and its
filters, shared by the index and the run pages."""

from __future__ import annotations

import functools

__all__ = ["template_env", "number"]


@functools.cache
def template_env():
    """The jinja2 environment of the report's templates (autoescaped), one
    per process, so each template is compiled once for all pages and the
    index."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("histkit.render.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = number
    return env


def number(value, digits: int = 4) -> str:
    """Numbers for people (the ``num`` filter): floats to ``digits``
    significant digits, None and NaN as blank."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}g}"
    return str(value)
