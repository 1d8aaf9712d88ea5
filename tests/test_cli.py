"""End-to-end checks of the ``histkit`` command: real subprocesses for the
behaviour users see (exit codes, one-line errors, files written), CliRunner
where a fault has to be injected."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import RUN, SEED_LABELS_R, run_path, write_history

from histkit.cli import main
from histkit.cli.plot import default_output


def histkit(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "histkit", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def assert_one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("histkit: error:")]
    assert errors, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert any(needle in e for e in errors), (needle, res.stderr)


def test_version_and_help_examples():
    assert histkit("--version").stdout.strip() == "histkit, version 0.1.0"
    commands = main.list_commands(None)
    assert commands == ["compare", "diagnose", "pipeline", "plot", "report", "runs", "stops",
                        "train"]
    for cmd in commands:
        res = histkit(cmd, "--help")
        assert res.returncode == 0 and "Example" in res.stdout, cmd


def test_help_does_not_import_heavy_modules():
    code = ("import sys\nfrom histkit.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pandas', 'plotnine', 'torch', 'polars', 'matplotlib') "
            "if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip().splitlines()[-1] == "[]"
    assert "histkit plot" in res.stdout


_EXIT = """import atexit, sys, threading, time
class Teardown:
    def __del__(self):
        print("teardown", flush=True)
marker = Teardown()
atexit.register(print, "exit handler")
if sys.argv[1] == "thread":
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()  # alive to the end
del sys.argv[1]
from histkit.cli import run
run()
"""


_COLLECTOR = """import atexit, gc, sys
atexit.register(lambda: print("collector", gc.isenabled(), gc.get_freeze_count() > 0))
import histkit.cli
getattr(histkit.cli, sys.argv.pop(1))()
"""


@pytest.mark.parametrize("entry, frozen", [("run", True), ("main", False)])
def test_the_program_freezes_what_a_quick_command_imported(history_file, entry, frozen):
    """The histkit program imports a command's libraries with the collector
    paused, then freezes them and turns the collector back on
    (bench/plot_speed.py); main() in a running process leaves it alone."""
    res = subprocess.run([sys.executable, "-c", _COLLECTOR, entry, "stops", str(history_file)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == f"collector True {frozen}"


@pytest.mark.parametrize("case, args, rc, teardown", [
    ("quick", ["stops", "HIST", "--format", "csv"], 0, False),
    ("quick", ["stops", "missing.csv"], 2, False),
    ("thread", ["stops", "HIST", "--format", "csv"], 0, True),
    ("long", ["--version"], 0, True),
])
def test_quick_commands_skip_the_teardown_and_keep_exit_handlers_and_output(
        history_file, case, args, rc, teardown):
    """The `histkit` program leaves a quick command without the interpreter's
    teardown (bench/plot_speed.py): exit handlers still run, the output is
    whole, the exit code kept; another thread alive, or any other command,
    gets Python's own exit."""
    args = [str(history_file) if a == "HIST" else a for a in args]
    res = subprocess.run([sys.executable, "-c", _EXIT, case, *args], capture_output=True,
                         text=True)
    assert res.returncode == rc, res.stderr
    lines = res.stdout.splitlines()
    assert lines[-1 - teardown] == "exit handler"
    assert ("teardown" in lines) == teardown
    if args[0] == "stops" and rc == 0:
        table = pl.read_csv(res.stdout.rsplit("exit handler", 1)[0].encode())
        assert table.height == 10 and table["run"].unique().to_list() == [RUN]
    if rc:
        assert_one_line_error(res, "missing.csv")


def test_plot_mirrors_run_tree_under_reports(tmp_path, history_file):
    res = histkit("plot", history_file.relative_to(tmp_path), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    want = Path("reports/2021-03-10/unet_2d_mdice/fat_768x384x1") / f"{RUN}.png"
    assert res.stdout.strip() == str(want)
    assert (tmp_path / want).read_bytes().startswith(b"\x89PNG")


def test_default_output():
    assert default_output("run/d/m/x/a.csv") == Path("reports/d/m/x/a.png")
    assert default_output("/s/run/d/m/x/a.csv", ".pdf") == Path("/s/reports/d/m/x/a.pdf")
    assert default_output("/data/a.csv") == Path("a.png")


def test_plot_options_output_and_labels_env(tmp_path, history_file):
    labels = tmp_path / "l.R"
    labels.write_text(SEED_LABELS_R)
    out = tmp_path / "fig.svg"
    res = histkit("plot", history_file, "-o", out, "--base-size", 12, "--title", "T",
                  "--width", 6, "--height", 4, "--no-stops", env={"HISTKIT_LABELS": str(labels)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(out) and out.read_text().startswith("<?xml")


def test_plot_several_inputs_into_a_directory_and_overlay(tmp_path):
    a = write_history(tmp_path / "a.csv", 6)
    b = write_history(tmp_path / "b.csv", 9, rate=3)
    res = histkit("plot", a, b, "-o", f"{tmp_path}/figs/", "-f", "pdf", "--no-stops")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["a.pdf", "b.pdf"]
    res = histkit("plot", a, b, "--overlay", "-o", tmp_path / "both.png")
    assert res.returncode == 0 and (tmp_path / "both.png").exists(), res.stderr
    res = histkit("plot", a, b, "-o", tmp_path / "one.png")
    assert_one_line_error(res, "is one file but there are 2 inputs")


def test_plot_side_by_side_draws_runs_as_columns(tmp_path):
    from PIL import Image

    a = write_history(run_path(tmp_path, RUN), 6)
    b = write_history(run_path(tmp_path, RUN + "_DR20"), 6, rate=3)
    c = write_history(run_path(tmp_path, RUN + "_DR40"), 6, rate=2)
    res = histkit("plot", a, b, "--side-by-side", "-o", tmp_path / "two.png", "--dpi", "50")
    assert res.returncode == 0, res.stderr
    res = histkit("plot", a, b, c, "--side-by-side", "-o", tmp_path / "three.png",
                  "--dpi", "50")
    assert res.returncode == 0, res.stderr
    two, three = (Image.open(tmp_path / f).size for f in ("two.png", "three.png"))
    assert three[0] - two[0] == pytest.approx(2.8 * 50, abs=2)  # a column more
    assert three[1] == two[1]
    res = histkit("plot", a, b, "--side-by-side", "--overlay", "-o", tmp_path / "x.png")
    assert res.returncode == 2 and "pick one" in res.stderr


def test_compare_shows_what_differs_and_draws_one_figure(tmp_path):
    a = write_history(run_path(tmp_path, RUN), 8)
    write_history(run_path(tmp_path, RUN + "_DR20"), 8, rate=3)
    res = histkit("compare", a, RUN + "_DR20", "--metric", "loss", "--format", "csv",
                  "-o", "cmp.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(res.stdout.encode())
    assert table.columns == ["label", "dropout", "best_val_loss", "best_val_loss_epoch",
                             "stop_val_loss_epoch", "epochs_logged", "run"]
    assert table["label"].to_list() == ["DR0", "DR20"]
    assert table["run"].to_list() == [RUN, RUN + "_DR20"]
    assert res.stderr.strip() == "figure: cmp.png"
    assert (tmp_path / "cmp.png").read_bytes().startswith(b"\x89PNG")
    missing = histkit("compare", a, "no_such_run", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no file and no run named 'no_such_run' under run/" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_plot_goes_on_past_bad_files(tmp_path):
    good = write_history(tmp_path / "good.csv", 5)
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,loss\n0,1\n1,oops\n")
    res = histkit("plot", bad, tmp_path / "missing.csv", good, cwd=tmp_path)
    assert_one_line_error(res, f"{bad}:3 (column 'loss'): non-numeric value 'oops'",
                          "missing.csv: no such file or directory")
    assert res.stdout.strip() == "good.png" and (tmp_path / "good.png").exists()
    assert not (tmp_path / "bad.png").exists()


BAD_INPUTS = {
    "empty.csv": (b"", "empty file"),
    "header.csv": (b"epoch,loss\n", "no rows"),
    "text.csv": (b"epoch,loss\n0,1\n1,two\n", ":3 (column 'loss'): non-numeric value 'two'"),
    "ragged.csv": (b"epoch,loss\n0,1,2\n", ":2: 3 fields where the header has 2"),
    "binary.csv": (b"\x00\x01\x02\xff" * 20, "binary data"),
    "dupcol.csv": (b"epoch,loss,loss\n0,1,1\n", "duplicated column 'loss'"),
}


@pytest.mark.parametrize("cmd", ["plot", "stops", "runs"])
@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_history_files(tmp_path, cmd, name):
    raw, message = BAD_INPUTS[name]
    (tmp_path / name).write_bytes(raw)
    res = histkit(cmd, tmp_path / name, cwd=tmp_path)
    assert_one_line_error(res, f"{tmp_path / name}", message)


@pytest.mark.parametrize("cmd", ["plot", "stops", "runs"])
def test_missing_path_and_empty_directory(tmp_path, cmd):
    assert_one_line_error(histkit(cmd, tmp_path / "nope"), "nope: no such file or directory")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(histkit(cmd, tmp_path / "empty"), "directory holds no history")


def test_unreadable_file(tmp_path, monkeypatch, history_file):
    real_open = os.open

    def deny(path, *args, **kwargs):  # as chmod 000 would for a user (CI runs as root)
        if os.fspath(path) == str(history_file):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    res = CliRunner().invoke(main, ["stops", str(history_file)])
    assert res.exit_code == 2
    assert res.output.strip() == f"histkit: error: {history_file}: cannot read: Permission denied"


def test_labels_file_with_code(tmp_path, history_file):
    labels = tmp_path / "evil.R"
    labels.write_text('training_labels <- c(loss = "L")\nsystem("touch pwned")\n')
    res = histkit("plot", history_file, "--labels", labels, cwd=tmp_path)
    assert_one_line_error(res, f"{labels}:2: expected '<-'")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("tol", ["0", "-0.1", "abc", "nan"])
def test_bad_tolerance(history_file, tol):
    assert_one_line_error(histkit("stops", history_file, "--tolerance", tol),
                          "tolerance must be a positive number")


@pytest.mark.parametrize("out", ["fig.jpg", "fig"])
def test_unknown_output_suffix(tmp_path, history_file, out):
    res = histkit("plot", history_file, "-o", tmp_path / out)
    assert_one_line_error(res, "the suffix should be one of .png, .pdf, .svg")
    assert list(tmp_path.glob("fig*")) == []


def test_stops_formats_and_sorting(tmp_path):
    write_history(tmp_path / "b_run.csv", 10, rate=2)
    write_history(tmp_path / "a_run.csv", 12, rate=4)
    res = histkit("stops", tmp_path, "--format", "csv", "-t", "0.05")
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(res.stdout.encode())
    assert table.columns == ["run", "metric", "data", "epoch", "value", "best_epoch", "best_value"]
    assert table.height == 20
    assert table.rows() == table.sort("run", "metric", "epoch", maintain_order=True).rows()
    loss = table.filter((pl.col("run") == "a_run") & (pl.col("metric") == "loss")
                        & (pl.col("data") == "training")).row(0, named=True)
    assert loss["best_epoch"] == 11 and loss["epoch"] < 11
    js = json.loads(histkit("stops", tmp_path, "-f", "json", "-t", "0.5").stdout)
    assert js[0]["run"] == "a_run" and set(js[0]) == set(table.columns)
    text = histkit("stops", tmp_path).stdout
    assert "| run" in text and "b_run" in text


def test_runs_table(tmp_path):
    for name, date in [(RUN, "2021-03-10"), (RUN + "_DR20", "2021-03-02"),
                       ("unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24", "2021-03-01")]:
        write_history(run_path(tmp_path, name, date), epochs=24)
    res = histkit("runs", "--format", "csv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    t = pl.read_csv(res.stdout.encode())
    assert t.columns[:3] == ["path", "date", "run"] and t.height == 3
    assert set(t["dropout"]) == {0.0, 0.2} and t["epochs_logged"].to_list() == [24] * 3
    assert t["best_val_loss_epoch"].to_list() == [23] * 3
    res = histkit("runs", "run", "--where", "attention=true", "-f", "json", cwd=tmp_path)
    assert [r["date"] for r in json.loads(res.stdout)] == ["2021-03-01"]
    res = histkit("runs", "-w", "dropout=0.2", "-w", "levels=4", "-f", "parquet",
                  "-o", tmp_path / "r.parquet", cwd=tmp_path)
    assert res.returncode == 0 and pl.read_parquet(tmp_path / "r.parquet").height == 1
    assert_one_line_error(histkit("runs", "-w", "colour=red", cwd=tmp_path),
                          "--where 'colour=red': expected FIELD=VALUE")
    assert_one_line_error(histkit("runs", cwd=tmp_path / "run"), "run: no such file")


def _sweep(root: Path, n: int = 600) -> Path:
    """``n`` small histories: 150 kB of ``runs`` output or more, past what a pipe buffers."""
    root.mkdir()
    for i in range(n):
        (root / f"unet_2d_mdice_AdaDelta_fat_96x48x1_N32_E3_L3_FBL8_seed{i}.csv"
         ).write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.5,0.6\n2,0.4,0.5\n")
    return root


def _read_10_bytes(*args):
    """Run histkit, read 10 bytes of its stdout and leave, as ``| head -c 10``
    does: (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "histkit", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(), err


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])  # parquet: too small to fill a pipe
def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path, fmt):
    tree = _sweep(tmp_path / "sweep")
    code, err = _read_10_bytes("runs", tree, "--no-cache", "--format", fmt)
    assert code == 141 and err == "", err  # as a shell reports a tool SIGPIPE ended
    # the command still finishes: a broken history is reported, with its exit code
    (tree / "zz_broken.csv").write_text("epoch,loss\n0,1.0\n1,oops\n")
    code, err = _read_10_bytes("runs", tree, "--no-cache", "--format", fmt)
    assert code == 2, err
    assert any(line.startswith("histkit: error: ") and "zz_broken.csv:3" in line
               for line in err.splitlines()), err
    assert "Traceback" not in err and "internal error" not in err


def test_stdout_that_cannot_be_written_is_one_line(tmp_path):
    tree = _sweep(tmp_path / "sweep", 3)
    prog = [sys.executable, "-m", "histkit", "runs", tree, "--no-cache"]
    for fmt in ("table", "csv", "json", "parquet") if Path("/dev/full").exists() else ():
        with open("/dev/full", "w") as full:
            res = subprocess.run([*prog, "-f", fmt], stdout=full, stderr=subprocess.PIPE,
                                 text=True)
        assert res.returncode == 1
        assert res.stderr == "histkit: error: cannot write to stdout: No space left on device\n"
    res = subprocess.run(prog, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: os.close(1))  # started with stdout closed (>&-)
    assert res.returncode == 1
    assert res.stderr == "histkit: error: cannot write to stdout: it is closed\n"
    res = subprocess.run([*prog, "-o", tmp_path / "runs.csv", "-f", "csv"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: os.close(1))
    assert res.returncode == 0 and res.stderr == ""
    assert pl.read_csv(tmp_path / "runs.csv").height == 3


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_main_in_a_script_that_captures_stdout_as_text(tmp_path, fmt):
    import contextlib
    import io

    tree = _sweep(tmp_path / "sweep", 3)
    text = io.StringIO()
    with contextlib.redirect_stdout(text), pytest.raises(SystemExit) as exit_:
        main(["runs", str(tree), "--no-cache", "--format", fmt])
    assert exit_.value.code == 0
    assert text.getvalue() == histkit("runs", tree, "--no-cache", "--format", fmt).stdout


# ---------------------------------------------------------------------------
# every source, telemetry

FIX = Path(__file__).parent / "fixtures" / "sources"
STEP_EPOCH = FIX / "lightning/step_epoch/lightning_logs/version_0/metrics.csv"


def test_stops_on_a_lightning_log_has_only_its_metrics():
    res = histkit("stops", STEP_EPOCH, "-f", "csv")
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(res.stdout.encode())
    assert sorted(zip(table["metric"], table["data"])) == [("loss", "training"),
                                                          ("loss", "validation")]
    assert set(table["run"]) == {"version_0"}
    assert "repeated epoch" not in res.stderr and "grammar" not in res.stderr
    assert "'lr-SGD'" in res.stderr  # the reduction of the per-step lr is said


def test_a_directory_of_every_source_goes_on_past_the_broken_file():
    res = histkit("stops", FIX, "-f", "csv")
    assert res.returncode == 2
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("histkit: error:")]
    assert len(errors) == 1 and "truncated event file" in errors[0]
    table = pl.read_csv(res.stdout.encode())
    assert table.columns[:2] == ["run", "path"]  # many runs are called version_0
    assert {"logreg_seed0", "out", "writer", "fastai", "version_1"} <= set(table["run"])


def test_telemetry_gets_no_stop_and_user_telemetry_too(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("epoch,loss,val_loss,lr,epoch_time_s,peak_mem_mb,gpu_temp\n"
                 "0,1,2,0.1,3,500,60\n1,0.5,1,0.1,3.1,510,61\n")
    table = pl.read_csv(histkit("stops", p, "-f", "csv").stdout.encode())
    assert set(table["metric"]) == {"loss", "gpu_temp"}
    res = histkit("stops", p, "-f", "csv", "--telemetry", "gpu_temp")
    assert set(pl.read_csv(res.stdout.encode())["metric"]) == {"loss"}


def test_plot_of_two_runs_with_one_name_writes_two_figures(tmp_path):
    runs = [FIX / "lightning/resumed/lightning_logs/version_0",
            FIX / "lightning/epoch/lightning_logs/version_0"]
    res = histkit("plot", *runs, "-o", f"{tmp_path}/", "--dpi", "30")
    assert res.returncode == 0, res.stderr
    written = res.stdout.split()
    assert len(set(written)) == 2 and all(Path(w).is_file() for w in written)
    assert Path(written[0]).name == "version_0.png"


def test_source_forces_a_reader(tmp_path):
    p = tmp_path / "log.csv"
    p.write_bytes((FIX / "fastai/history.csv").read_bytes())
    res = histkit("stops", p, "-f", "csv")
    assert "val_loss" not in res.stdout and res.returncode == 0
    forced = histkit("stops", p, "-f", "csv", "--source", "keras")
    assert_one_line_error(forced, "non-numeric value '00:00'")
    assert_one_line_error(histkit("stops", p, "--source", "wandb"), "'wandb' is not one of")


def test_plot_values_beyond_a_figure_are_left_out_with_a_warning(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("epoch,loss,val_loss\n0,inf,1\n1,1e308,0.5\n2,0.5,0.25\n")
    res = histkit("plot", p, "-o", tmp_path / "f.png", "--dpi", "30")
    assert res.returncode == 0, res.stderr
    assert "2 value(s) too large to draw were left out" in res.stderr
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


def _on_a_terminal(*args, cwd=None):
    """Run ``histkit`` with its stderr on a pseudo-terminal: (exit code, what
    the terminal showed)."""
    import pty

    main_fd, term = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "histkit", *map(str, args)], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=term)
    os.close(term)
    shown = b""
    while True:
        try:
            got = os.read(main_fd, 65536)
        except OSError:  # the other end closed
            break
        if not got:
            break
        shown += got
    os.close(main_fd)
    return proc.wait(), shown.decode(errors="replace")


@pytest.mark.parametrize("cmd", ["stops", "diagnose", "runs", "report"])
def test_a_tree_of_more_than_one_chunk_shows_reading_on_a_terminal_only(tmp_path, cmd):
    from histkit.readers import CHUNK

    tree = tmp_path / "sweep"
    tree.mkdir()
    for i in range(CHUNK + 1):
        (tree / f"h{i}.csv").write_text(f"epoch,loss,val_loss\n0,1.0,1.1\n1,{0.5 + i % 7 / 100},"
                                        "0.6\n2,0.4,0.5\n")
    args = [cmd, tree, *({"report": ["-o", tmp_path / "rep", "--pages", "0"],
                          "runs": ["--no-cache"]}.get(cmd, ["--format", "csv"]))]
    code, shown = _on_a_terminal(*args, cwd=tmp_path)
    assert code == 0, shown
    assert "reading" in shown and "100%" in shown, shown
    res = histkit(*args, cwd=tmp_path)
    assert res.returncode == 0 and "reading" not in res.stderr and "%" not in res.stderr
    few = tmp_path / "few"
    few.mkdir()
    (few / "h.csv").write_text((tree / "h0.csv").read_text())
    code, shown = _on_a_terminal(cmd, few, *args[2:], cwd=tmp_path)
    assert code == 0 and "reading" not in shown, shown  # one chunk: read before a bar shows


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["stops", "--help"],
                                  ["diagnose", "--explain", "stuck"]])
def test_help_version_and_explain_on_a_full_or_closed_stdout_say_so(args):
    import shlex

    cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "histkit", *args])
    for redirect, said in (("> /dev/full", "No space left on device"),
                           (">&-", "it is closed")):
        out = subprocess.run(["bash", "-c", f"{cmd} {redirect}"], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 1, (redirect, out.stderr)
        assert out.stderr == f"histkit: error: cannot write to stdout: {said}\n"


def test_compare_takes_run_names_literally_and_never_leaves_its_root(tmp_path):
    root = tmp_path / "run"
    for name in ("unet_2d_mdice_AdaDelta_fat_64x32x1_N4_E3_L2_FBL4",
                 "unet_2d_mdice_AdaDelta_fat_64x32x1_N4_E3_L2_FBL4_DR20"):
        write_history(run_path(root, name=name), epochs=3)
    outside = tmp_path / "outside"
    outside.mkdir()
    write_history(outside / "secret.csv", epochs=3)
    out = histkit("compare", "--root", str(root), "*", cwd=tmp_path / "run")
    assert out.returncode == 2 and "no file and no run named '*'" in out.stderr
    out = histkit("compare", "--root", str(root), "../outside/secret",
                  "unet_2d_mdice_AdaDelta_fat_64x32x1_N4_E3_L2_FBL4", cwd=tmp_path / "run")
    assert out.returncode == 2
    assert "a run name is a file name, not a path" in out.stderr and "secret" not in out.stdout
