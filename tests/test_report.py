"""histkit.report and `histkit report`: end to end on generated histories."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from histkit.names import parse_run_name
from histkit.report import build_report
from histkit.report_cli import report_command

METRICS = ("loss", "sdice", "vsat_dice")  # three facets keep the figures quick
LABELS = {"loss": "Multilabel Balanced Dice Loss", "sdice": "Multilabel Dice <Score>",
          "vsat_dice": "VAT Dice Score"}


def history_name(attention=False, dropout=0, optimizer="AdaDelta", epochs=12, extra=""):
    ag = "_ag" if attention else ""
    dr = f"_DR{dropout}" if dropout else ""
    return f"unet_2d_mdice{ag}_{optimizer}_fat_96x48x1_N32_E{epochs}_L3_FBL8{dr}{extra}"


def write_history(root: Path, name: str, epochs: int = 12, rate: float = 4.0,
                  date: str = "2021-03-10") -> Path:
    """A Keras-CSVLogger-like history (0-based epochs, sorted columns) under
    root/run/<date>/<model_dir>/<dataset_dir>/<name>.csv."""
    r = parse_run_name(name)
    path = root / "run" / date / (r.model_dir or "misc") / (r.dataset_dir or "misc") / f"{name}.csv"
    cols = sorted([*METRICS, *(f"val_{m}" for m in METRICS)])
    lines = [",".join(["epoch", *cols])]
    for e in range(epochs):
        row = []
        for c in cols:
            gap = 0.05 if c.startswith("val_") else 0.0
            x = math.exp(-e / rate)
            row.append(f"{x + gap if c.endswith('loss') else 1 - 0.9 * x - gap:.6f}")
        lines.append(",".join([str(e), *row]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def study(tmp_path) -> Path:
    """Four good runs (attention x dropout) and one broken history."""
    for i, (att, dr) in enumerate([(False, 0), (False, 20), (True, 0), (True, 20)]):
        write_history(tmp_path, history_name(att, dr), rate=3 + i)
    bad = tmp_path / "run" / "2021-03-10" / "unet_2d_mdice" / "fat_96x48x1" / "broken.csv"
    bad.write_text("epoch,loss\n0,0.5\n1,oops\n")
    return tmp_path


def build(root: Path, **kw):
    kw.setdefault("jobs", 1)
    kw.setdefault("dpi", 30)
    kw.setdefault("group_by", [])  # comparisons only where a test looks at them
    return build_report(root / "run", root / "out", **kw)


def test_full_report(study):
    rep = build(study, labels=LABELS, command="histkit report run -o out", group_by=None)
    out = study / "out"
    assert len(rep.rendered) == 4 and not rep.skipped
    assert [p.path for p in rep.problems] == [str(study / "run/2021-03-10/unet_2d_mdice/"
                                                      "fat_96x48x1/broken.csv")]
    assert sorted(rep.comparisons) == ["attention", "dropout"]
    assert len(list((out / "runs").glob("*.png"))) == 4
    assert (out / "compare" / "dropout.png").stat().st_size > 0
    summary = pl.read_csv(out / "summary.csv")
    assert summary.height == 4
    for col in ("run", "attention", "dropout", "epochs_logged", "best_val_loss",
                "best_val_loss_epoch", "stop_val_loss_epoch", "best_sdice", "stop_sdice_epoch"):
        assert col in summary.columns
    assert summary["epochs_logged"].to_list() == [12] * 4
    import pyarrow.parquet as pq

    assert pq.read_table(out / "summary.parquet").num_rows == 4
    html = (out / "index.html").read_text()
    assert html.count('<tr>\n      <td class="thumb">') == 4
    assert "broken.csv" in html and "oops" in html
    assert "histkit report run -o out" in html
    assert "Multilabel Dice &lt;Score&gt;" in html and "<Score>" not in html


def test_group_table_best_and_stop(study):
    rep = build(study, group_by=["dropout"])
    table = rep.comparisons["dropout"]
    assert table["dropout"].to_list() == ["0.0", "0.2"]
    assert table["runs"].to_list() == [2, 2]
    summary = rep.summary
    best = summary.group_by("dropout").agg(pl.col("best_val_loss").min()).sort("dropout")
    assert table["best_val_loss"].to_list() == best["best_val_loss"].to_list()


def test_unknown_group_field(study):
    from histkit.errors import OptionError

    with pytest.raises(OptionError, match="cannot group by 'colour'.*dropout"):
        build(study, group_by=["colour"])


def test_rebuild_skips_unchanged_and_follows_changes(study):
    build(study)
    out = study / "out"
    again = build(study)
    assert not again.rendered and len(again.skipped) == 4

    changed = write_history(study, history_name(True, 20), epochs=10)
    third = build(study)
    assert third.rendered == [str(changed)]
    assert third.summary.filter(pl.col("path") == str(changed))["epochs_logged"][0] == 10

    assert len(build(study, tolerance=0.05, labels=LABELS).rendered) == 4  # settings count

    gone = study / "run/2021-03-10/unet_2d_mdice/fat_96x48x1" / f"{history_name()}.csv"
    figure = json.loads((out / "manifest.json").read_text())["runs"][str(gone)]["files"][0]
    gone.unlink()
    last = build(study, tolerance=0.05, labels=LABELS)
    assert last.removed == [str(gone)] and not last.rendered
    assert not (out / figure).exists()
    assert pl.read_csv(out / "summary.csv").height == 3
    assert history_name() + "<" not in (out / "index.html").read_text()


def test_missing_figure_is_drawn_again(study):
    build(study)
    manifest = json.loads((study / "out" / "manifest.json").read_text())
    victim = next(iter(manifest["runs"].values()))["files"][0]
    (study / "out" / victim).unlink()
    assert len(build(study).rendered) == 1
    assert (study / "out" / victim).exists()


def test_formats_and_parallel(tmp_path):
    for att in (False, True):
        write_history(tmp_path, history_name(att))
    rep = build(tmp_path, formats=["pdf", "svg"], jobs=2, group_by=["attention"])
    assert len(rep.rendered) == 2 and not rep.problems
    out = tmp_path / "out"
    for fmt in ("pdf", "svg"):
        assert len(list((out / "runs").glob(f"*.{fmt}"))) == 2
        assert (out / "compare" / f"attention.{fmt}").exists()
    html = (out / "index.html").read_text()
    assert re.search(r'<img src="runs/[^"]+\.svg"', html)


def test_everything_is_escaped(tmp_path):
    write_history(tmp_path, history_name(extra="_<script>alert(1)&x"))
    write_history(tmp_path, history_name(dropout=20))
    rep = build(tmp_path, labels={"loss": "<b>Loss</b>"}, title="A & <B>",
                command="histkit report '<run>'")
    html = rep.index.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&amp;x" in html
    assert "<b>Loss</b>" not in html and "&lt;b&gt;Loss&lt;/b&gt;" in html
    assert "<title>A &amp; &lt;B&gt;</title>" in html
    # figure names are file- and URL-safe whatever the run is called
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in (tmp_path / "out/runs").iterdir())


def test_self_contained(study):
    html = build(study).index.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    for ref in re.findall(r'(?:src|href)="([^"#]+)"', html):
        assert (study / "out" / ref).exists(), ref


def test_no_runs_still_writes_a_report(tmp_path):
    rep = build_report(tmp_path / "nothing", tmp_path / "out", jobs=1)
    assert rep.problems and "no such file" in str(rep.problems[0])
    assert rep.index.exists() and rep.summary.height == 0


def test_concurrent_builds_leave_a_consistent_report(study):
    code = ("import sys; from histkit.report import build_report; "
            "build_report(sys.argv[1], sys.argv[2], jobs=1, dpi=30, tolerance=float(sys.argv[3]), group_by=[])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(study / "run"),
                               str(study / "out"), tol]) for tol in ("0.005", "0.01")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    out = study / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["runs"]) == 4
    files = {f for e in manifest["runs"].values() for f in e["files"]}
    assert files == {f"runs/{p.name}" for p in (out / "runs").iterdir()}
    assert not list(out.rglob(".*.tmp*"))
    assert pl.read_csv(out / "summary.csv").height == 4


# ---------------------------------------------------------------------------
# the command


def test_cli_exit_code_and_output(study):
    runner = CliRunner()
    res = runner.invoke(report_command, [str(study / "run"), "-o", str(study / "out"),
                                         "-j", "1", "--dpi", "30", "-g", "dropout"])
    assert res.exit_code == 1, res.output
    assert res.stdout.strip() == str(study / "out" / "index.html")
    assert "broken.csv" in res.stderr and "oops" in res.stderr
    (study / "run/2021-03-10/unet_2d_mdice/fat_96x48x1/broken.csv").unlink()
    res = runner.invoke(report_command, [str(study / "run"), "-o", str(study / "out"),
                                         "-j", "1", "--dpi", "30", "--group-by", "dropout"])
    assert res.exit_code == 0, res.output
    assert "0 drawn, 4 unchanged" in res.stderr
    html = (study / "out" / "index.html").read_text()
    assert 'id="compare-dropout"' in html and 'id="compare-attention"' not in html


@pytest.mark.parametrize("args, message", [
    (["--formats", "png,gif"], "should be a comma-separated list of png, pdf, svg"),
    (["--tolerance", "-1"], "tolerance"),
])
def test_cli_bad_options(study, args, message):
    res = CliRunner().invoke(report_command, [str(study / "run"), *args])
    assert res.exit_code == 2 and message in res.output


def test_help_has_examples():
    res = CliRunner().invoke(report_command, ["--help"])
    assert res.exit_code == 0 and "Examples:" in res.output and "histkit report run" in res.output


FIX = Path(__file__).parent / "fixtures" / "sources"


def test_report_over_other_frameworks_with_telemetry(tmp_path):
    import shutil

    runs = tmp_path / "logs"
    shutil.copytree(FIX / "lightning/step_epoch", runs / "lightning")
    shutil.copytree(FIX / "tensorboard/writer", runs / "tb/writer")
    shutil.copytree(FIX / "transformers/out", runs / "hf/out")
    shutil.copytree(FIX / "mlflow/mlruns", runs / "mlruns")
    with pytest.warns(Warning):
        report = build_report(runs, tmp_path / "out", jobs=1, dpi=30)
    assert report.ok, report.problems
    assert sorted(report.summary["run"]) == ["logreg_seed0", "logreg_seed1", "out",
                                             "version_0", "writer"]
    # telemetry gets its own figure and no best_ column
    assert not [c for c in report.summary.columns
                if re.search(r"lr|learning_rate|grad_norm|runtime|per_second", c)]
    tele = sorted(p.name for p in (tmp_path / "out/runs").glob("*.telemetry.png"))
    assert len(tele) == 2  # the Lightning run (lr-SGD) and the HF run (learning_rate)
    index = (tmp_path / "out/index.html").read_text()
    assert index.count('alt="telemetry of ') == 2
    # a second build re-renders nothing: directory runs have content digests too
    again = build_report(runs, tmp_path / "out", jobs=1, dpi=30)
    assert again.rendered == [] and len(again.skipped) == 5


def test_runs_table_and_summary_carry_the_diagnosis(tmp_path):
    root = Path(__file__).resolve().parent.parent / "bench" / "diagnose_dev" / "runs"
    stuck = next((root / "stuck_ce_sgd_lr1e-6").glob("*/*/*/*.csv"))
    healthy = next((root / "healthy_unet_mdice").glob("*/*/*/*.csv"))
    rep = build_report([str(stuck), str(healthy)], tmp_path / "rep", formats=["svg"])
    summary = pl.read_csv(tmp_path / "rep" / "summary.csv")
    by_run = {r["run"]: r for r in summary.iter_rows(named=True)}
    assert by_run[stuck.stem]["diagnosis"] == "failed"
    assert by_run[stuck.stem]["diagnosis_rules"] == "stuck"
    assert "ln 3" in by_run[stuck.stem]["diagnosis_first"]
    assert by_run[healthy.stem]["diagnosis"] == "healthy"
    html = rep.index.read_text()
    assert '<td class="diagnosis failed" data-v="failed"><strong>failed</strong>' in html
    assert "raise the learning rate" in html
