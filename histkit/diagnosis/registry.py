"""The diagnosis rules: one small registered function per rule.

A rule is a function in a module of :mod:`histkit.diagnosis.rules`,
registered with :func:`rule`, which records its name, severity, the
thresholds it reads (fields of :class:`~.thresholds.Thresholds`) and the
advice a finding carries; the function's docstring is its documentation
(what it detects, why it matters, an example), printed by ``histkit
diagnose --explain RULE`` as ``ruff rule`` prints a lint rule's.

Two kinds of rules: a *history* rule reads the features of every run's
history at once (:class:`~.features.Features`) and returns frames of
findings; a *probe* rule reads one run's probe features (a dict, see
:func:`~.probe_features.probe_features`) and returns its findings as
``(epoch, metric, evidence)`` tuples.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from typing import Callable

__all__ = ["Rule", "rule", "RULES", "ORDER", "SEVERITIES", "FINDING_COLUMNS", "explain",
           "fill"]

SEVERITIES = ("error", "warning", "info")
FINDING_COLUMNS = ("run", "rule", "severity", "epoch", "metric", "data", "evidence", "advice")

#: every rule, in the order findings of one severity and epoch are listed
ORDER = ("diverged", "double_softmax", "stuck", "collapse_to_background", "class_collapse",
         "one_class_predictions", "overfitting", "oscillating", "val_better_than_train",
         "exploding_gradients", "vanishing_gradients", "dead_relu", "saturated",
         "unnormalized_input", "too_slow", "wasted_epochs")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One diagnosis rule: its name, severity, thresholds and advice, the
    function that checks it and whether that reads probes."""

    name: str
    severity: str
    advice: str
    thresholds: tuple[str, ...]
    check: Callable
    probes: bool = False

    @property
    def doc(self) -> str:
        """What it detects, why it matters, an example: the function's docstring."""
        return inspect.cleandoc(self.check.__doc__ or "")


_REGISTERED: dict[str, Rule] = {}


def rule(name: str, *, severity: str, advice: str, thresholds: tuple[str, ...] = (),
         probes: bool = False):
    """Register the decorated function as the rule ``name``."""
    if name not in ORDER or severity not in SEVERITIES:
        raise ValueError(f"rule {name!r} ({severity}) is not in ORDER or SEVERITIES")

    def register(check: Callable) -> Callable:
        _REGISTERED[name] = Rule(name, severity, advice, tuple(thresholds), check, probes)
        return check
    return register


#: every rule by name, in :data:`ORDER`; filled by :mod:`histkit.diagnosis.rules`
#: once all its modules have registered theirs
RULES: dict[str, Rule] = {}


def fill() -> None:
    """Put the registered rules into :data:`RULES`, in :data:`ORDER`."""
    missing = [name for name in ORDER if name not in _REGISTERED]
    if missing:
        raise RuntimeError(f"rules without a registered function: {', '.join(missing)}")
    RULES.clear()
    RULES.update((name, _REGISTERED[name]) for name in ORDER)


def explain(name: str) -> str:
    """The documentation of rule ``name`` as ``histkit diagnose --explain``
    prints it: severity, what it detects (its docstring), the thresholds it
    reads with their values, and its advice. Needs the rules registered
    (:mod:`histkit.diagnosis.rules` imported)."""
    from .thresholds import THRESHOLDS

    if name not in RULES:
        from ..errors import OptionError

        raise OptionError(f"unknown rule {name!r}; the rules are {', '.join(RULES)}")
    r = RULES[name]
    lines = [f"{r.name} ({r.severity}{', reads probes' if r.probes else ''})", "",
             r.doc.replace("``", "")]
    if r.thresholds:
        lines += ["", "Thresholds (histkit.diagnosis.Thresholds):"]
        lines += [f"  {t} = {getattr(THRESHOLDS, t)}" for t in r.thresholds]
    lines += ["", *textwrap.wrap(f"Advice: {r.advice}", 76)]
    return "\n".join(lines)
