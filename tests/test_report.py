"""histkit.render.report and `histkit report`: end to end on generated histories."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from html import escape
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from histkit.errors import OptionError
from histkit.names import parse_run_name
from histkit.render.report import build_report
from histkit.cli.report import report_command

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
    # not only each group's best run: the mean and spread of its runs
    mean = summary.group_by("dropout").agg(pl.col("best_val_loss").mean(),
                                           sd=pl.col("best_val_loss").std()).sort("dropout")
    assert table["mean_val_loss"].to_list() == pytest.approx(mean["best_val_loss"].to_list())
    assert table["std_val_loss"].to_list() == pytest.approx(mean["sd"].to_list())
    # which factor matters: paired effects over runs that differ in one factor alone
    f = rep.factors
    assert f.metric == "val_loss" and not f.higher_is_better
    effects = f.effects.filter(pl.col("factor") == "dropout").row(0, named=True)
    assert (effects["level"], effects["reference"], effects["pairs"]) == ("0.2", "0.0", 2)
    assert set(f.importance["factor"]) == {"attention", "dropout"}
    html = rep.index.read_text()
    assert 'id="factors"' in html and "Method: paired effects" in html
    assert "mean ± sd of the runs" in html


def test_a_study_larger_than_pages_shows_its_best_and_failed_runs(tmp_path, monkeypatch):
    """Read three histories at a time, draw four runs: the two best by the
    headline metric, the failed one, and the next best; the tables, the
    comparison and the factor analysis still cover all nine runs."""
    import shutil

    import histkit.render.report.study

    monkeypatch.setattr(histkit.render.report.study, "CHUNK", 3)
    for i in range(8):  # a lower rate learns faster: a lower best val_loss
        write_history(tmp_path, history_name(dropout=20 * (i % 2), extra=f"_seed{i}"),
                      rate=1.5 + i)
    stuck = next((Path(__file__).resolve().parent.parent / "bench" / "diagnose_dev" / "runs"
                  / "stuck_ce_sgd_lr1e-6").glob("*/*/*/*.csv"))
    failed = tmp_path / "run" / "2021-03-10" / "stuck" / stuck.name
    failed.parent.mkdir(parents=True)
    shutil.copy(stuck, failed)
    read = []
    rep = build(tmp_path, labels=LABELS, pages=4, group_by=["dropout"],
                reading=lambda done, total: read.append((done, total)))
    assert rep.ok, rep.problems
    assert read == [(0, 9), (3, 9), (6, 9), (9, 9)]
    assert rep.summary.height == 9 and pl.read_csv(tmp_path / "out/summary.csv").height == 9
    runs = {r["path"]: r["run"] for r in rep.summary.iter_rows(named=True)}
    shown = sorted(runs[p] for p in rep.shown)
    assert shown == sorted([history_name(extra="_seed0"), history_name(dropout=20, extra="_seed1"),
                            history_name(extra="_seed2"), stuck.stem])
    assert sorted(rep.rendered) == sorted(rep.shown) and sorted(rep.pages) == sorted(rep.shown)
    figures = sorted((tmp_path / "out/runs").glob("*[0-9a-f].png"))  # not telemetry
    assert len(figures) == 4
    html = rep.index.read_text()
    assert html.count('<tr>\n      <td class="thumb">') == 4
    assert "This study has 9 runs" in html and "1 of the runs diagnosed as failed" in html
    # the comparison covers every run, as a build that holds them all draws it
    table = rep.comparisons["dropout"]
    assert table["runs"].to_list() == [5, 4]
    monkeypatch.setattr(histkit.render.report.study, "CHUNK", 2000)
    whole = build_report(tmp_path / "run", tmp_path / "all", jobs=1, dpi=30, labels=LABELS,
                         group_by=["dropout"])
    assert whole.comparisons["dropout"].equals(table)
    assert set(whole.summary.columns) == set(rep.summary.columns)
    assert whole.summary.drop("figure").equals(
        rep.summary.select(whole.summary.columns).drop("figure"))
    a, b = whole.factors.importance, rep.factors.importance
    assert a.drop("eta_squared").equals(b.drop("eta_squared"))
    assert a["eta_squared"].to_list() == pytest.approx(b["eta_squared"].to_list())
    # more pages draw the rest; fewer remove what is no longer shown
    more = build(tmp_path, labels=LABELS, pages=9, group_by=["dropout"])
    assert len(more.rendered) == 5 and len(more.skipped) == 4
    fewer = build(tmp_path, labels=LABELS, pages=1, group_by=["dropout"])
    assert [runs[p] for p in fewer.shown] == [history_name(extra="_seed0")]
    assert len(fewer.removed) == 8
    assert len(list((tmp_path / "out/runs").glob("*[0-9a-f].png"))) == 1
    with pytest.raises(OptionError, match="pages should be a whole number"):
        build(tmp_path, pages=-1)


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
    code = ("import sys; from histkit.render.report import build_report; "
            "build_report(sys.argv[1], sys.argv[2], jobs=1, dpi=30, tolerance=float(sys.argv[3]), group_by=[])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(study / "run"),
                               str(study / "out"), tol]) for tol in ("0.005", "0.01")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    out = study / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["runs"]) == 4 and len(manifest["pages"]) == 4
    files = {f for part in ("runs", "pages") for e in manifest[part].values()
             for f in e["files"]}
    assert files == {f"runs/{p.name}" for p in (out / "runs").iterdir()}
    assert not list(out.rglob(".*.tmp*"))
    assert pl.read_csv(out / "summary.csv").height == 4


# ---------------------------------------------------------------------------
# the command


def test_cli_exit_code_and_output(study):
    runner = CliRunner()
    res = runner.invoke(report_command, [str(study / "run"), "-o", str(study / "out"),
                                         "-j", "1", "--dpi", "30", "-g", "dropout"])
    assert res.exit_code == 2, res.output
    assert res.stdout.strip() == str(study / "out" / "index.html")
    assert "broken.csv" in res.stderr and "oops" in res.stderr
    (study / "run/2021-03-10/unet_2d_mdice/fat_96x48x1/broken.csv").unlink()
    res = runner.invoke(report_command, [str(study / "run"), "-o", str(study / "out"),
                                         "-j", "1", "--dpi", "30", "--group-by", "dropout"])
    assert res.exit_code == 0, res.output
    assert "0 drawn, 4 unchanged" in res.stderr
    html = (study / "out" / "index.html").read_text()
    assert 'id="compare-dropout"' in html and 'id="compare-attention"' not in html
    res = runner.invoke(report_command, [str(study / "run"), "-o", str(study / "out"),
                                         "-j", "1", "--dpi", "30", "--pages", "3"])
    assert res.exit_code == 0, res.output
    assert "4 runs (3 shown with figures and pages): 0 drawn, 3 unchanged, 1 removed" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--formats", "png,gif"], "should be a comma-separated list of png, pdf, svg"),
    (["--tolerance", "-1"], "tolerance"),
    (["--pages", "-1"], "'--pages': -1 is not in the range x>=0"),
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
    assert not [c for c in report.summary.columns if c.startswith(("best_", "stop_"))
                and re.search(r"lr|learning_rate|grad_norm|runtime|per_second", c)]
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


def test_the_study_is_diagnosed_once_and_each_page_shows_its_runs_findings(tmp_path,
                                                                          monkeypatch):
    import histkit.diagnosis

    root = Path(__file__).resolve().parent.parent / "bench" / "diagnose_dev" / "runs"
    stuck = next((root / "stuck_ce_sgd_lr1e-6").glob("*/*/*/*.csv"))
    healthy = next((root / "healthy_unet_mdice").glob("*/*/*/*.csv"))
    calls = []
    real = histkit.diagnosis.diagnose
    monkeypatch.setattr(histkit.diagnosis, "diagnose",
                        lambda *a, **kw: calls.append(kw.get("by")) or real(*a, **kw))
    rep = build_report([str(stuck), str(healthy)], tmp_path / "rep", formats=["svg"], jobs=1)
    assert calls == [["path"]]
    pages = {p.stem: page_of(tmp_path / "rep", p).read_text() for p in (stuck, healthy)}
    first = rep.summary.filter(pl.col("run") == stuck.stem)["diagnosis_first"][0]
    assert escape(first.split("): ", 1)[1]) in pages[stuck.stem]  # its evidence
    assert ">stuck<" in pages[stuck.stem] and ">stuck<" not in pages[healthy.stem]


DEMO_LINKNET = (Path(__file__).resolve().parent.parent / "run" / "2026-12-02" / "linknet_2d_dice"
                / "fat2_256x128x1" / "linknet_2d_dice_Adam_fat2_256x128x1_N96_E24_L4_FBL16.csv")


@pytest.fixture
def collapsed_study(tmp_path) -> tuple[Path, Path]:
    """The demo's LinkNet Dice run (its history alone: no probes, a quick
    page), which loses its VAT class, beside a healthy run."""
    import shutil

    lost = tmp_path / "run" / "2026-12-02" / "linknet_2d_dice" / DEMO_LINKNET.name
    lost.parent.mkdir(parents=True)
    shutil.copy(DEMO_LINKNET, lost)
    write_history(tmp_path, history_name())
    return tmp_path, lost


def test_failures_list_each_finding_with_rule_severity_epoch_and_evidence(collapsed_study):
    root, lost = collapsed_study
    rep = build(root)
    assert rep.ok, rep.problems
    html = rep.index.read_text()
    failures = html.split('<section id="failures">', 1)[1].split("</section>", 1)[0]
    evidence = escape("validation vsat_dice fell from 0.3562 at epoch 14 to 0.0123 at epoch 23 "
                      "while validation loss kept improving (0.04363 -> 0.02464)")
    page = page_of(root / "out", lost)
    assert f'<a href="runs/{page.name}">{lost.stem}</a>' in failures
    assert '<strong class="verdict failed">failed</strong>' in failures
    assert ('<td class="rule">class_collapse</td><td class="severity error">error</td>'
            '<td>22</td><td>validation vsat_dice</td>') in failures
    assert evidence in failures and history_name() not in failures
    assert 'href="#failures">Failures (1)</a>' in html
    # the runs table's "why" lists every finding, the run's page its table row
    assert f"<li><strong>class_collapse</strong> (error, epoch 22): {evidence}" in html
    text = page.read_text()
    assert ('<tr class="error"><td>class_collapse</td><td>error</td><td>22</td>'
            '<td>validation vsat_dice</td>') in text and evidence in text
    assert "class-balanced loss (mdice)" in text
    assert '<strong class="verdict failed">failed</strong> (1 finding)' in text
    # findings.csv: every finding, one row each, linked from the index
    found = pl.read_csv(root / "out" / "findings.csv")
    assert found.filter(pl.col("rule") == "class_collapse")["path"].to_list() == [str(lost)]
    assert 'href="findings.csv"' in html


def test_a_healthy_study_lists_no_failure(study):
    html = build(study).index.read_text()
    assert "No run failed or is suspect" in html and 'href="#failures">Failures (0)</a>' in html
    assert pl.read_csv(study / "out" / "findings.csv").columns[:3] == ["path", "run", "rule"]


def test_the_failures_list_is_bounded(collapsed_study, monkeypatch):
    """A study with more failed runs than the index lists says how many more
    there are and where their findings are."""
    import shutil

    import histkit.render.report.index

    root, lost = collapsed_study
    twin = lost.with_name(lost.name.replace("_FBL16", "_FBL16_S1"))
    shutil.copy(lost, twin)
    monkeypatch.setattr(histkit.render.report.index, "FAILURES", 1)
    html = build(root).index.read_text()
    failures = html.split('<section id="failures">', 1)[1].split("</section>", 1)[0]
    assert failures.count('<td class="rule">class_collapse</td>') == 1
    assert "1 more failed or suspect run not listed here" in failures
    assert 'href="#failures">Failures (2)</a>' in html
    assert pl.read_csv(root / "out" / "findings.csv")["rule"].to_list().count(
        "class_collapse") == 2


def test_a_page_whose_findings_change_is_drawn_again(collapsed_study, monkeypatch):
    """A new rule or threshold changes a run's findings, not its history: its
    page is drawn again (and only its page)."""
    import histkit.render.report.study

    root, lost = collapsed_study
    build(root)
    assert build(root).pages == []
    real = histkit.render.report.study._findings
    monkeypatch.setattr(histkit.render.report.study, "_findings",
                        lambda *a, **kw: real(*a, **kw).filter(pl.col("rule") != "class_collapse"))
    again = build(root)
    assert again.pages == [str(lost)] and again.rendered == []
    assert "class_collapse" not in page_of(root / "out", lost).read_text()


# ---------------------------------------------------------------------------
# run pages


TINY_TRAIN = dict(shape="32x16x1", n_train=8, n_val=4, levels=2, base_filters=4, epochs=3,
                  batch_size=4, date="2026-11-23", threads=1, progress=False, probe_every=2)
SIDECAR = {"lr": 1.0, "augment": {"flip": True, "note": "<b>bold</b>"}, "seeds": [0, 1]}
HOSTILE = "_<img src=x onerror=alert(1)>"


def probe_study(root: Path) -> tuple[Path, Path]:
    """Under root/run: a tiny run trained by histkit (probes, a sidecar JSON)
    and a history without probes whose name is hostile HTML."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from histkit.train import TrainConfig, train

    trained = Path(train(TrainConfig(root=str(root / "run"), **TINY_TRAIN)))
    trained.with_suffix(".json").write_text(json.dumps(SIDECAR))
    plain = write_history(root, history_name(extra=HOSTILE), epochs=6)
    return trained, plain


@pytest.fixture(scope="module")
def trained_study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("probe_study")
    probe_study(root)
    return root


@pytest.fixture
def pages_study(trained_study, tmp_path) -> tuple[Path, Path, Path]:
    import shutil

    shutil.copytree(trained_study / "run", tmp_path / "run")
    trained = next((tmp_path / "run").rglob("*.probes")).with_suffix(".csv")
    plain = next(p for p in (tmp_path / "run").rglob("*.csv") if "<img" in p.name)
    return tmp_path, trained, plain


def page_of(out: Path, path: Path) -> Path:
    entry = json.loads((out / "manifest.json").read_text())["pages"][str(path)]
    return out / entry["files"][0]


def refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#]+)"', html)


def test_run_pages_with_and_without_probes(pages_study):
    import urllib.parse

    root, trained, plain = pages_study
    rep = build(root, labels={"loss": "Loss", "sdice": "Dice"})
    assert rep.ok, rep.problems
    assert sorted(rep.pages) == sorted([str(trained), str(plain)])
    out = root / "out"
    index = rep.index.read_text()
    probed, bare = page_of(out, trained), page_of(out, plain)
    assert probed.parent == bare.parent == out / "runs"
    # the index links each run name to its page
    for page in (probed, bare):
        assert f'href="runs/{page.name}"' in index
    html = probed.read_text()
    for section in ("history", "telemetry", "settings", "stops", "diagnosis", "probes",
                    "probe-norms", "probe-histograms", "probe-activations", "probe-shares",
                    "probe-images"):
        assert f'id="{section}"' in html, section
    # settings: the name's fields and the sidecar, flattened and escaped
    assert "<th scope=\"row\">base_filters</th><td>4</td>" in html
    assert "augment.flip" in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert f"from {trained.stem}.json" in html
    # stops and a figure per probe table; the probe images copied beside the page
    assert html.count("<tr><td>Loss</td>") == 2  # training and validation
    stem = probed.stem
    for kind in ("norms", "histograms", "activations", "shares"):
        assert f'src="{stem}.{kind}.png"' in html
        assert (out / "runs" / f"{stem}.{kind}.png").stat().st_size > 0
    copied = sorted(p.name for p in (out / "runs" / f"{stem}.probes").iterdir())
    assert copied == sorted(p.name for p in (trained.with_suffix(".probes") / "images").iterdir())
    assert {"0000_predictions.png", "0002_activation0.png", "0002_gradient2.png"} <= set(copied)
    assert f'src="{stem}.probes/0002_predictions.png"' in html
    assert "first ReLU" in html and "last ReLU" in html

    # what each run cost: the trainer's run has it, the plain history not
    cost = rep.summary.select("path", "epoch_time_s", "peak_mem_mb").rows_by_key("path")
    [(seconds, mb)] = cost[str(trained)]
    assert seconds > 0 and mb > 0
    assert cost[str(plain)] == [(None, None)]
    assert "MB, peak" in index and f'data-v="{mb}"' in index

    bare_html = bare.read_text()
    for section in ("history", "telemetry", "settings", "stops", "diagnosis"):
        assert f'id="{section}"' in bare_html, section
    assert 'id="probes"' not in bare_html and 'id="probe-' not in bare_html
    assert "no probes" in bare_html and "No settings file" in bare_html
    # the hostile name is text everywhere, the page's file name is safe
    assert "<img src=x" not in bare_html and "&lt;img src=x onerror=alert(1)&gt;" in bare_html
    assert re.fullmatch(r"[A-Za-z0-9._-]+", bare.name)

    # every link is relative, stays in the report and points at a file
    for page in (probed, bare):
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|file:)?//""", text)
        for ref in refs(text):
            assert not ref.startswith("/"), ref
            assert (page.parent / urllib.parse.unquote(ref)).exists(), ref
    for ref in refs(index):
        assert (out / urllib.parse.unquote(ref)).exists(), ref


def test_run_pages_are_incremental(pages_study):
    root, trained, plain = pages_study
    out = root / "out"
    build(root)
    again = build(root)
    assert again.ok and again.pages == [] and again.rendered == []

    # a probe image gone from the run: its page again (not its figure), the copy gone
    stem = page_of(out, trained).stem
    (trained.with_suffix(".probes") / "images" / "0000_predictions.png").unlink()
    third = build(root)
    assert third.pages == [str(trained)] and third.rendered == []
    assert not (out / "runs" / f"{stem}.probes" / "0000_predictions.png").exists()
    assert (out / "runs" / f"{stem}.probes" / "0002_predictions.png").exists()

    # the sidecar changes: the page again; a page deleted: drawn again
    trained.with_suffix(".json").write_text(json.dumps({**SIDECAR, "lr": 0.5}))
    assert build(root).pages == [str(trained)]
    page_of(out, plain).unlink()
    assert build(root).pages == [str(plain)]

    # a sidecar that is not JSON is a problem; the page is still written
    trained.with_suffix(".json").write_text("{not json")
    bad = build(root)
    assert [p.path for p in bad.problems] == [str(trained.with_suffix(".json"))]
    assert "No settings file" in page_of(out, trained).read_text()
    trained.with_suffix(".json").unlink()

    # unreadable probes: a problem, a page without them, tried again next time,
    # also when the run's figure is drawn in the same build (they share a key)
    scalars = trained.with_suffix(".probes") / "scalars" / "0001.parquet"
    good = scalars.read_bytes()
    scalars.write_bytes(b"not parquet")
    (out / "runs" / f"{stem}.png").unlink()
    broken = build(root)
    assert broken.rendered == [str(trained)] and broken.pages == []
    assert [p.path for p in broken.problems] == [str(trained)]
    assert "probes cannot be read" in str(broken.problems[0])
    page = page_of(out, trained)
    assert "probes cannot be read" in page.read_text()
    assert f'href="runs/{page.name}"' in broken.index.read_text()
    assert [p.path for p in build(root).problems] == [str(trained)]  # said every time
    scalars.write_bytes(good)
    mended = build(root)
    assert mended.ok and mended.pages == [str(trained)] and mended.rendered == []
    assert 'id="probe-norms"' in page_of(out, trained).read_text()

    # a run gone: its page, figures and copied images go with it
    probe_dir = out / "runs" / f"{stem}.probes"
    import shutil

    shutil.rmtree(trained.with_suffix(".probes"))
    trained.unlink()
    last = build(root)
    assert last.removed == [str(trained)]
    assert not probe_dir.exists() and not list((out / "runs").glob(f"{stem}*"))


def test_probe_figures_pick_layers_and_refuse_empty_probes():
    from histkit.errors import OptionError
    from histkit.render.probe_plots import (main_layers, plot_activations, plot_histograms,
                                     plot_norms, plot_shares, representative_layers)
    from histkit.probes import RunProbes

    # conv weights (9 values, no bias), a norm layer (weight and bias of 3), a head
    sizes = {"c0.weight": 27, "n0.weight": 3, "n0.bias": 3, "c1.weight": 27, "c2.weight": 27,
             "c3.weight": 27, "head.weight": 6, "head.bias": 2}
    layers = list(sizes)
    scalars = pl.DataFrame({"epoch": [0] * len(layers), "layer": layers,
                            "weight_norm": [1.0] * len(layers), "grad_norm": [0.1] * len(layers),
                            "update_ratio": [0.01] * len(layers)})
    hist = pl.DataFrame({"epoch": [0] * len(layers), "layer": layers,
                         "kind": ["weight"] * len(layers), "bin": [20] * len(layers),
                         "lo": [0.0] * len(layers), "hi": [1e-8] * len(layers),
                         "count": list(sizes.values())})
    empty = pl.DataFrame(schema={"epoch": pl.Int64})
    probes = RunProbes(scalars, hist, empty, empty, empty)
    assert main_layers(probes) == ["c0.weight", "c1.weight", "c2.weight", "c3.weight",
                                   "head.weight"]
    assert representative_layers(probes) == ["c0.weight", "c2.weight", "head.weight"]
    assert plot_norms(probes) is not None and plot_histograms(probes) is not None
    for draw, what in ((plot_activations, "activation"), (plot_shares, "class shares")):
        with pytest.raises(OptionError, match=what):
            draw(probes)
    nothing = RunProbes(empty, empty, empty, empty, empty)
    with pytest.raises(OptionError, match="norms"):
        plot_norms(nothing)
    with pytest.raises(OptionError, match="histograms"):
        plot_histograms(nothing)


def test_a_report_inside_its_input_tree_does_not_read_itself(tmp_path):
    # `histkit report . -o reports/x` twice: its own summary.csv and
    # findings.csv are no histories
    for i, att in enumerate([False, True]):
        write_history(tmp_path, history_name(att), rate=3 + i)
    out = tmp_path / "run" / "reports" / "study"
    first = build_report(tmp_path / "run", out, jobs=1, dpi=30, group_by=[])
    assert not first.problems and (out / "summary.csv").exists()
    again = build_report(tmp_path / "run", out, jobs=1, dpi=30, group_by=[])
    assert not again.problems, again.problems
    assert pl.read_csv(out / "summary.csv").height == 2


def test_a_history_named_at_the_file_system_limit_gets_its_page(tmp_path):
    # a 254-byte file name: its <stem>.probes would pass 255 bytes, which
    # stopped the whole report with "File name too long"
    (tmp_path / "logs").mkdir()
    name = "a" * 250 + ".csv"
    write = tmp_path / "logs" / name
    write.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.5,0.6\n2,0.4,0.5\n")
    report = build_report(tmp_path / "logs", tmp_path / "out", jobs=1, dpi=30, group_by=[])
    assert not report.problems
    pages = list((tmp_path / "out" / "runs").glob("*.html"))
    assert len(pages) == 1 and len(pages[0].name.encode()) < 255
    assert "a" * 250 in pages[0].read_text()  # the page keeps the full name


def test_a_killed_build_leaves_no_worker_and_its_temporary_files_go_next_time(tmp_path):
    import os
    import signal
    import time

    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(12):
        write_history(logs, history_name(dropout=10 * (i % 2), extra=f"_seed{i}"), epochs=20)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "histkit", "report", str(logs / "run"),
                             "-o", str(out), "-j", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    for _ in range(600):  # the pool starts once the study is read
        time.sleep(0.1)
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)],
                              capture_output=True, text=True).stdout.split()
        if len(kids) >= 2 or proc.poll() is not None:
            workers = [int(k) for k in kids]
            break
    assert proc.poll() is None and workers, "the build ended before its workers started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    def alive(pid: int) -> bool:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        return "zombie" not in status.lower()

    for _ in range(100):
        if not any(alive(w) for w in workers):
            break
        time.sleep(0.1)
    assert not [w for w in workers if alive(w)]
    # what a killed writer leaves is removed by the next build (which holds the lock)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    stale = out / "runs" / ".some-run.abcd1234.tmp.png"
    stale.write_bytes(b"half a figure")
    build_report(logs / "run", out, jobs=1, dpi=30, group_by=[])
    assert not stale.exists()
