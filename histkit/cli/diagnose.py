"""``histkit diagnose``: did each run fail, and why."""

from __future__ import annotations

import click

from ..diagnosis.registry import ORDER
from ..errors import HistkitError
from .options import format_option, source_option, strict_option, telemetry_option
from .output import EXIT_FAILED, echo_table, echo_text, finish, read_in_chunks
from ..process import importing

__all__ = ["diagnose_command"]


def _rules(ctx, param, value):
    from ..diagnosis import RULES

    if not value:
        return None
    chosen = [r.strip() for r in value.split(",") if r.strip()]
    for r in chosen:
        if r not in RULES:
            raise click.BadParameter(f"unknown rule {r!r}; choose from {', '.join(RULES)}")
    return chosen


def _explain(ctx, param, value):
    """``--explain RULE``: print the rule's documentation and stop."""
    if value is None or ctx.resilient_parsing:
        return value
    from ..diagnosis import explain

    try:
        text = explain(value)
    except HistkitError as exc:
        raise click.BadParameter(str(exc)) from None
    echo_text(text)
    ctx.exit(0)


@click.command("diagnose")
@click.argument("paths", nargs=-1, metavar="PATH_OR_DIR...")
@click.option("--classes", "-k", type=click.IntRange(min=2), default=None,
              help="Number of classes K, for the ln K (chance) and double-softmax checks "
                   "[default: from per-class metric names such as background_dice].")
@click.option("--rules", callback=_rules, metavar="RULE,...",
              help=f"Only these rules: {', '.join(ORDER)}.")
@click.option("--explain", metavar="RULE", callback=_explain, expose_value=False,
              is_eager=True,
              help="Print what RULE detects, why it matters, an example, its thresholds "
                   "and its advice, and exit.")
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
    code 0 when no run failed, 1 when one did, 2 on bad input. --explain
    RULE says what a rule looks for.

    \b
    Examples:
      histkit diagnose run/
      histkit diagnose bench/diagnose_dev/runs/stuck_ce_sgd_lr1e-6
      histkit diagnose bench/diagnose_dev/keras/double_softmax.csv --classes 4
      histkit diagnose run/ --format csv > findings.csv
      histkit diagnose --explain double_softmax
    """
    if not paths:
        raise click.UsageError("give one history or directory or more (PATH_OR_DIR...), "
                               "or --explain RULE")
    with importing():
        import polars as pl

        from ..diagnosis import diagnose, verdicts
        from ..readers import find_histories

    problems: list = []
    found, named = [], []
    for batch in read_in_chunks(find_histories(paths, problems=problems), source):
        problems += batch.problems
        long = batch.histories
        long = long.with_columns(run=batch.run_column(long["path"], strict=strict))
        findings = diagnose(long, classes, rules=rules, by=["path", "run"], telemetry=telemetry)
        found.append(findings.with_columns(pl.col("path", "run").cast(pl.String)))
        named.append(long.select("path", "run").unique(maintain_order=True)
                     .with_columns(pl.col("path", "run").cast(pl.String)))
    findings, runs = pl.concat(found), pl.concat(named)
    shared = runs["run"].n_unique() < runs.height
    if fmt == "table":
        table = verdicts(findings, runs)
        table = table.select("run", *(["path"] if shared else []), "verdict", "rules",
                             "diagnosis", "advice")
    else:
        table = findings.select("run", *(["path"] if shared else []),
                                *[c for c in findings.columns if c not in ("run", "path")])
    if runs.height:
        echo_table(table, fmt)
    finish(problems)
    return EXIT_FAILED if (findings["severity"] == "error").any() else 0
