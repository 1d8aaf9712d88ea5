"""histkit.pipeline and `histkit pipeline`: study files, plans, a faked trainer."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from histkit.pipeline import PipelineError, load_study, plan_study, run_pipeline
from histkit.cli.pipeline import pipeline_command

REPO = Path(__file__).resolve().parents[1]

STUDY = """
[study]
name = "mini"
root = "run"
date = "2024-01-02"

[train]
model = "unet"
loss = "mdice"
optimizer = "AdaDelta"
dataset = "fat"
shape = "96x48x1"
n_train = 8
epochs = 6
levels = 3
base_filters = 8
batch_size = 2
seed = 1

[grid]
attention = [false, true]
dropout = [0.0, 0.2]

[report]
output = "reports/mini"
tolerance = 0.01
group_by = ["attention", "dropout"]
title = "Mini <study>"
formats = ["png"]
dpi = 30
jobs = 1
"""

# A stand-in for `histkit train`: it writes (or completes) the history the real
# trainer would write, logs its arguments, and fails for seed 666.
FAKE_TRAINER = '''
import json, sys
from pathlib import Path
argv = sys.argv[1:]
opts = {}
i = 0
while i < len(argv):
    if argv[i] == "--attention":
        opts["attention"] = True; i += 1
    else:
        opts[argv[i].lstrip("-").replace("-", "_")] = argv[i + 1]; i += 2
Path(opts["root"]).mkdir(parents=True, exist_ok=True)
with open(Path(opts["root"]) / "calls.jsonl", "a") as fh:
    fh.write(json.dumps(argv) + "\\n")
if opts.get("seed") == "666":
    sys.exit(3)
from histkit.train.config import TrainConfig
cfg = TrainConfig(model=opts["model"], loss=opts["loss"], attention=opts.get("attention", False),
                  optimizer=opts["optimizer"], dataset=opts["dataset"], shape=opts["shape"],
                  n_train=int(opts["n_train"]), epochs=int(opts["epochs"]),
                  levels=int(opts["levels"]), base_filters=int(opts["base_filters"]),
                  dropout=float(opts.get("dropout", 0)),
                  batch_size=int(opts.get("batch_size", 4)), seed=int(opts.get("seed", 0)),
                  lr=float(opts["lr"]) if "lr" in opts else None,
                  root=opts["root"], date=opts["date"]).validate()
path = cfg.history_path
path.parent.mkdir(parents=True, exist_ok=True)
lines = path.read_text().splitlines() if path.exists() else ["epoch,loss,val_loss"]
for e in range(len(lines) - 1, int(opts["epochs"])):
    lines.append(f"{e},{1 / (e + 1):.5f},{1.1 / (e + 1):.5f}")
path.write_text("\\n".join(lines) + "\\n")
print(path)
'''


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mini.toml").write_text(STUDY)
    (tmp_path / "fake_train.py").write_text(FAKE_TRAINER)
    return tmp_path


def fake_command(work: Path) -> list[str]:
    return [sys.executable, str(work / "fake_train.py")]


def calls(work: Path) -> list[list[str]]:
    log = work / "run" / "calls.jsonl"
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def test_load_study(work):
    study = load_study("mini.toml")
    assert study.name == "mini" and study.date == "2024-01-02"
    assert study.grid == {"attention": [False, True], "dropout": [0.0, 0.2]}
    assert len(study.settings()) == 4
    assert study.report["title"] == "Mini <study>" and study.report["labels"] is None


@pytest.mark.parametrize("edit, message", [
    (("dropout = [0.0, 0.2]", "dropuot = [0.0, 0.2]"), "unknown key 'dropuot' in [grid]"),
    (("title =", "titel ="), "unknown key 'titel' in [report]"),
    (("[report]", "[reprot]"), "unknown section [reprot]"),
    (("n_train = 8", 'n_train = "8"'), "[train] n_train should be a int; got '8'"),
    (("attention = [false, true]", "attention = [0, 1]"), "[grid] attention should be a bool"),
    (("dropout = [0.0, 0.2]", "dropout = []"), "[grid] dropout should be a non-empty list"),
    (("seed = 1", "seed = 1\ndropout = 0.1"), "'dropout' is in both [train] and [grid]"),
    (("levels = 3", ""), "the runs need levels"),
    (('shape = "96x48x1"', 'shape = "96-48"'), "shape '96-48' is not HxWxC"),
    (("levels = 3", "levels = 6"), "shape 96x48x1 does not fit 6 levels"),
    (("tolerance = 0.01", "tolerance = 0"), "[report] tolerance must be a positive number"),
    (("n_train = 8", "n_train = 0"), "n-train must be >= 1"),
    (("dropout = [0.0, 0.2]", "dropout = [0.0, 1.2]"),
     "dropout 1.2 is outside [0, 1) (the run with attention=False, dropout=1.2)"),
    (("dropout = [0.0, 0.2]", 'precision = ["fp32", "bf16"]'),
     "the grid gives two runs with one name"),
    (('date = "2024-01-02"', 'date = "yesterday"'), "date 'yesterday' should be YYYY-MM-DD"),
    (("[train]", "[train"), "invalid TOML"),
    (('formats = ["png"]', 'formats = ["gif"]'), "[report] figure format should be one of png, pdf, svg; got 'gif'"),
    (('group_by = ["attention", "dropout"]', 'group_by = ["colour"]'),
     "[report] group_by: 'colour' should be one of"),
    (("jobs = 1", "jobs = 1\npages = -1"), "[report] pages should be a whole number, 0 or more; got -1"),
    (("jobs = 1", "jobs = 1\npages = true"), "[report] pages should be a int; got True"),
    (('name = "mini"', 'name = "../outside"'), "[study] name '../outside' must be a plain name"),
    (('dataset = "fat"', 'dataset = "../../x"'), "dataset '../../x' must be a plain name"),
    (("seed = 1", "seed = 1\nmomentum = -5.0"), "momentum must be in [0, 1), got -5.0"),
    (('name = "mini"', 'name = "mini"\nmax_runs = 3'),
     "the grid plans 4 runs, more than 3; run it with --yes, or set [study] max_runs"),
])
def test_bad_study_files(work, edit, message):
    (work / "bad.toml").write_text(STUDY.replace(*edit))
    with pytest.raises(PipelineError) as err:
        load_study("bad.toml")
    assert message in str(err.value) and "bad.toml" in str(err.value)


def test_plan_reads_the_histories(work):
    study = load_study("mini.toml")
    plan = plan_study(study, train_command=["trainer"])
    assert [r.status for r in plan.runs] == ["missing"] * 4
    first = plan.runs[0]
    assert first.path == ("run/2024-01-02/unet_2d_mdice/fat_96x48x1/"
                          "unet_2d_mdice_AdaDelta_fat_96x48x1_N8_E6_L3_FBL8_BS2_S1.csv")
    assert list(first.command) == shlex.split(
        "trainer --model unet --loss mdice --optimizer AdaDelta --dataset fat --shape 96x48x1 "
        "--n-train 8 --epochs 6 --levels 3 --base-filters 8 --dropout 0.0 --batch-size 2 "
        "--seed 1 --root run --date 2024-01-02")
    assert "--attention" in plan.runs[2].command and "DR20" in plan.runs[3].name
    (work / "bf16.toml").write_text(STUDY.replace("seed = 1\n", 'seed = 1\nprecision = "bf16"\n'))
    bf16 = plan_study(load_study("bf16.toml"), train_command=["trainer"]).runs[0]
    assert bf16.command[-8:-4] == ("--seed", "1", "--precision", "bf16")
    assert bf16.name == first.name  # an unnamed setting: recorded in the sidecar
    Path(first.path).parent.mkdir(parents=True)
    Path(first.path).write_text("epoch,loss\n0,1\n1,0.5\n")
    Path(plan.runs[1].path).write_text("epoch,loss\n" + "".join(f"{e},1\n" for e in range(6)))
    again = plan_study(study)
    assert [(r.status, r.epochs_logged) for r in again.runs[:3]] == [
        ("partial", 2), ("complete", 6), ("missing", 0)]
    assert [r.action for r in again.todo] == ["resume", "train", "train"]
    assert again.runs[0].command[:3] == (sys.executable, "-m", "histkit")


def test_a_run_the_trainer_stopped_early_is_complete(work):
    study_text = STUDY.replace("seed = 1\n", "seed = 1\nearly_stop_patience = 1\n")
    (work / "stop.toml").write_text(study_text)
    study = load_study("stop.toml")
    plan = plan_study(study, train_command=["trainer"])
    assert plan.runs[0].command[-8:-4] == ("--early-stop-patience", "1", "--seed", "1")
    stopped, still_improving = (Path(r.path) for r in plan.runs[:2])
    stopped.parent.mkdir(parents=True)
    # val_loss best at epoch 0, no better at 1: with patience 1 Keras stops after epoch 1
    stopped.write_text("epoch,loss,val_loss\n0,1,0.5\n1,0.9,0.6\n")
    still_improving.write_text("epoch,loss,val_loss\n0,1,0.5\n1,0.9,0.4\n")
    runs = plan_study(study).runs
    assert [(r.status, r.stopped_early) for r in runs[:2]] == [("complete", True),
                                                             ("partial", False)]
    assert [r.path for r in plan_study(study).todo][0] == str(still_improving)
    lines = plan_study(study).describe()
    assert lines[0].startswith("keep    complete    2/6") and lines[0].endswith("(stopped early)")
    # without the rule in the study the same history is an interrupted run
    assert plan_study(load_study("mini.toml")).runs[0].status == "partial"


def test_plan_without_date_finds_runs_under_any_date(work):
    (work / "nodate.toml").write_text(STUDY.replace('date = "2024-01-02"', ""))
    study = load_study("nodate.toml")
    plan = plan_study(study, today="2030-05-06")
    assert all("/2030-05-06/" in r.path for r in plan.runs)
    old = Path(plan.runs[0].path.replace("2030-05-06", "2020-01-01"))
    old.parent.mkdir(parents=True)
    old.write_text("epoch,loss\n0,1\n")
    run = plan_study(study, today="2030-05-06").runs[0]
    assert run.path == str(old) and run.status == "partial"
    assert run.command[-2:] == ("--date", "2020-01-01")      # resumed where it is


def test_dry_run_changes_nothing(work):
    res = CliRunner().invoke(pipeline_command, ["mini.toml", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert res.output.count("train   missing") == 4
    assert "--attention" in res.output and "reports/mini/index.html" in res.output
    assert not (work / "run").exists() and not (work / "reports").exists()


def test_pipeline_trains_resumes_and_reports(work):
    cmd = shlex.join(fake_command(work))
    plan = plan_study(load_study("mini.toml"))
    partial = Path(plan.runs[1].path)
    partial.parent.mkdir(parents=True)
    partial.write_text("epoch,loss,val_loss\n0,1,1.1\n1,0.5,0.55\n")

    res = CliRunner().invoke(pipeline_command, ["mini.toml", "--train-command", cmd])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(Path("reports/mini/index.html"))
    assert len(calls(work)) == 4
    assert [r.status for r in plan_study(load_study("mini.toml")).runs] == ["complete"] * 4
    assert len(partial.read_text().splitlines()) == 7          # resumed, not restarted
    html = (work / "reports/mini/index.html").read_text()
    assert html.count('<td class="thumb">') == 4 and "Mini &lt;study&gt;" in html
    assert 'id="compare-dropout"' in html

    res = CliRunner().invoke(pipeline_command, ["mini.toml", "--train-command", cmd])
    assert res.exit_code == 0 and len(calls(work)) == 4        # nothing left to train

    (work / "two.toml").write_text((work / "mini.toml").read_text()
                                   .replace("jobs = 1", "jobs = 1\npages = 2"))
    res = CliRunner().invoke(pipeline_command, ["two.toml", "--only-report"])
    assert res.exit_code == 0, res.output
    html = (work / "reports/mini/index.html").read_text()
    assert html.count('<td class="thumb">') == 2 and "This study has 4 runs" in html


def test_only_report_trains_nothing(work, monkeypatch):
    monkeypatch.setenv("HISTKIT_TRAIN_COMMAND", shlex.join(fake_command(work)))
    res = CliRunner().invoke(pipeline_command, ["mini.toml", "--only-report"])
    assert res.exit_code == 0, res.output
    assert calls(work) == [] and (work / "reports/mini/index.html").exists()


def test_failed_training_is_a_problem_not_a_lost_report(work):
    (work / "mini.toml").write_text(STUDY.replace("dropout = [0.0, 0.2]",
                                                  "dropout = [0.0, 0.2]\nseed = [1, 666]")
                                    .replace("seed = 1\n", ""))
    study = load_study("mini.toml")
    result = run_pipeline(study, plan_study(study, train_command=fake_command(work)))
    assert len(result.trained) == 4 and len(result.problems) == 4
    assert all("exited with status 3" in str(p) for p in result.problems)
    assert result.report.summary.height == 4 and result.report.index.exists()


def test_short_training_is_a_problem(work, tmp_path):
    lazy = tmp_path / "lazy.py"
    lazy.write_text("pass\n")
    study = load_study("mini.toml")
    result = run_pipeline(study, plan_study(study, train_command=[sys.executable, str(lazy)]))
    assert len(result.problems) == 4
    assert "the trainer finished but the history has 0 of 6 epochs" in str(result.problems[0])


def test_shipped_study_file_is_valid():
    study = load_study(REPO / "pipelines" / "fat_study.toml")
    assert set(study.grid) == {"attention", "dropout", "optimizer"}
    assert len(study.settings()) == 12
    assert study.report["output"] == "reports/fat_study"
    assert study.report["group_by"] == ["attention", "dropout", "optimizer"]


def test_help_has_examples():
    res = CliRunner().invoke(pipeline_command, ["--help"])
    assert res.exit_code == 0 and "Examples:" in res.output and "--dry-run" in res.output


def test_probe_settings_reach_the_trainer():
    from histkit.pipeline import _options
    on = _options({"probe_every": 12, "probes": True, "attention": False}, "run", "2026-12-02")
    assert on == ["--probe-every", "12", "--root", "run", "--date", "2026-12-02"]
    off = _options({"probes": False}, "run", "2026-12-02")
    assert off[:1] == ["--no-probes"]


def test_a_grid_over_lr_and_seed_gives_distinct_runs(work):
    """A sweep never collapses into one run (the name shows lr and seed)."""
    text = (STUDY.replace("seed = 1\n", "").replace("attention = [false, true]\n", "")
            .replace("dropout = [0.0, 0.2]", "lr = [1e-4, 1e-3, 1e-2]\nseed = [0, 1]"))
    (work / "sweep.toml").write_text(text)
    plan = plan_study(load_study("sweep.toml"), train_command=fake_command(work))
    names = [r.name for r in plan.runs]
    assert len(set(names)) == 6 and len({r.path for r in plan.runs}) == 6
    assert names[:2] == ["unet_2d_mdice_AdaDelta_fat_96x48x1_N8_E6_L3_FBL8_BS2_LR1e-4",
                         "unet_2d_mdice_AdaDelta_fat_96x48x1_N8_E6_L3_FBL8_BS2_LR1e-4_S1"]
    res = CliRunner().invoke(pipeline_command, ["sweep.toml", "--train-command",
                                                shlex.join(fake_command(work))])
    assert res.exit_code == 0, res.output
    assert len(calls(work)) == 6
    assert all(Path(r.path).is_file() for r in plan.runs)


def test_a_kept_run_with_other_settings_is_refused(work):
    """Its sidecar says how it was trained: not 'complete' under other settings."""
    plan = plan_study(load_study("mini.toml"), train_command=["trainer"])
    first = Path(plan.runs[0].path)
    first.parent.mkdir(parents=True)
    first.write_text("epoch,loss\n" + "".join(f"{e},1\n" for e in range(6)))
    first.with_suffix(".json").write_text(json.dumps(
        {"run": first.stem, "settings": {"precision": "bf16", "batch_size": 2, "seed": 1}}))
    with pytest.raises(PipelineError, match=r"exists trained with --precision 'bf16' "
                                            r"\(now 'fp32'\)"):
        plan_study(load_study("mini.toml"))
    import subprocess

    res = subprocess.run([sys.executable, "-m", "histkit", "pipeline", "mini.toml", "--dry-run"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "--precision 'bf16'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    first.with_suffix(".json").write_text(json.dumps({"settings": {"precision": "fp32"}}))
    assert plan_study(load_study("mini.toml")).runs[0].status == "complete"


def test_a_large_grid_needs_yes(work):
    (work / "big.toml").write_text(STUDY.replace('name = "mini"', 'name = "mini"\nmax_runs = 3'))
    assert len(load_study("big.toml", yes=True).settings()) == 4
