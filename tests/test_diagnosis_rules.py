"""histkit.diagnosis.registry and rules/: every rule registered, documented
and explained by ``histkit diagnose --explain``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from click.testing import CliRunner

from histkit.cli import main
from histkit.diagnosis import RULES, SEVERITIES, THRESHOLDS, explain
from histkit.diagnosis.registry import ORDER
from histkit.errors import OptionError


def test_every_rule_is_registered_once_in_order():
    assert list(RULES) == list(ORDER) and len(set(ORDER)) == 15
    for name, rule in RULES.items():
        assert rule.name == name and rule.severity in SEVERITIES
        assert rule.check.__module__ == f"histkit.diagnosis.rules.{name}", name


@pytest.mark.parametrize("name", ORDER)
def test_every_rule_says_what_why_and_gives_an_example(name):
    rule = RULES[name]
    for part in ("What it detects:", "Why it matters:", "Example:"):
        assert part in rule.doc, (name, part)
    fields = {f.name for f in dataclasses.fields(THRESHOLDS)}
    assert set(rule.thresholds) <= fields, name
    for threshold in rule.thresholds:  # a threshold it reads is one its doc explains
        assert threshold in rule.doc, (name, threshold)
    assert len(rule.advice) > 20


def test_explain_prints_doc_thresholds_and_advice():
    text = explain("stuck")
    assert text.splitlines()[0] == "stuck (error)"
    assert "  stuck_drop = 0.05" in text and "``" not in text
    assert text.rstrip().split("Advice: ", 1)[1].startswith("the network learns nothing")
    assert explain("dead_relu").splitlines()[0] == "dead_relu (warning, reads probes)"
    with pytest.raises(OptionError, match="unknown rule 'nope'; the rules are diverged"):
        explain("nope")


@pytest.mark.parametrize("name", ORDER)
def test_cli_explains_each_rule(name):
    res = CliRunner().invoke(main, ["diagnose", "--explain", name])
    assert res.exit_code == 0, res.output
    assert res.output == explain(name) + "\n"


def test_cli_explain_and_missing_paths_are_one_line_errors():
    for args, needle in ((["diagnose", "--explain", "nope"], "unknown rule 'nope'"),
                         (["diagnose"], "give one history or directory or more")):
        res = subprocess.run([sys.executable, "-m", "histkit", *args], capture_output=True,
                             text=True)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("histkit: error:") and needle in lines[0]


def test_rules_option_lists_every_rule_in_help():
    res = CliRunner().invoke(main, ["diagnose", "--help"])
    flat = " ".join(res.output.split())
    assert all(name in flat for name in ORDER)
    assert "histkit diagnose --explain double_softmax" in res.output
