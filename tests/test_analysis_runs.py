"""histkit.analysis.runs and summary: the runs table of a tree, its filters and cache."""

from pathlib import Path

import polars as pl
import pytest
from conftest import RUN, run_path, write_history

from histkit.analysis.runs import RUN_COLUMNS, filter_runs, runs, select_runs
from histkit.errors import OptionError


@pytest.fixture
def tree(tmp_path):
    write_history(run_path(tmp_path, RUN), epochs=10)
    write_history(run_path(tmp_path, RUN + "_DR40", "2021-03-02"), epochs=6)
    bad = run_path(tmp_path, "unet_2d_mdice_ag_Adam_fat_768x384x1_N204_E24_L4_FBL24")
    bad.parent.mkdir(parents=True)
    bad.write_text("epoch,loss\n0,x\n")
    return tmp_path / "run"


def test_one_row_per_history_with_fields_and_val_loss(tree):
    read = []
    table, problems = runs(tree, progress=lambda done, total: read.append((done, total)))
    assert read == [(0, 3), (3, 3)]  # one chunk, the unreadable file counted too
    assert table.columns == list(RUN_COLUMNS) and table.height == 3
    assert [str(e.path).endswith("Adam_fat_768x384x1_N204_E24_L4_FBL24.csv")
            for e in problems] == [True]
    row = table.filter(pl.col("dropout") == 0.4).row(0, named=True)
    assert (row["date"], row["epochs_logged"], row["epochs"]) == ("2021-03-02", 6, 24)
    assert row["best_val_loss_epoch"] == 5
    broken = table.filter(pl.col("optimizer") == "Adam").row(0, named=True)
    assert broken["epochs_logged"] == 0 and broken["best_val_loss"] is None


def test_filter_runs(tree):
    table, _ = runs(tree)
    assert filter_runs(table, ["attention=true"]).height == 1
    assert filter_runs(table, ["dropout=0.4", "optimizer=AdaDelta"]).height == 1
    assert filter_runs(table, ["model=linknet"]).height == 0
    # without case, and in the run name's own spelling
    assert filter_runs(table, ["optimizer=adadelta"]).height == 2
    assert filter_runs(table, ["optimizer=adam"])["run"].to_list() == [
        "unet_2d_mdice_ag_Adam_fat_768x384x1_N204_E24_L4_FBL24"]
    for spelling in ("dropout=DR40", "dropout=dr40", "dropout=40", "dropout=0.4"):
        assert filter_runs(table, [spelling])["dropout"].to_list() == [0.4], spelling
    assert filter_runs(table, ["attention=ag"]).height == 1
    assert filter_runs(table, ["base_filters=FBL24", "n_train=N204"]).height == 3
    assert filter_runs(table, ["seed=0"]).height == 3 and filter_runs(table, ["seed=S1"]).is_empty()
    for bad, match in [("dropout", "expected FIELD=VALUE"), ("attention=maybe", "true or false"),
                       ("levels=four", "is a number"), ("dropout=DRx", "is a number")]:
        with pytest.raises(OptionError, match=match):
            filter_runs(table, [bad])


def test_select_and_sort_runs(tree):
    table, _ = runs(tree)
    out = select_runs(table, ["run", "dropout", "best_val_loss"], ["-dropout", "run"])
    assert out.columns == ["run", "dropout", "best_val_loss"]
    assert out["dropout"].to_list() == [0.4, 0.0, 0.0]
    assert select_runs(table, (), ["best_val_loss"])["best_val_loss"].to_list()[-1] is None
    with pytest.raises(OptionError, match="no column 'colour'; the columns are path, date"):
        select_runs(table, ["colour"])
    with pytest.raises(OptionError, match="no column 'speed'"):
        select_runs(table, (), ["-speed"])


def test_read_in_chunks_gives_the_same_table(tree, monkeypatch):
    from histkit.analysis import runs as catalog
    from histkit.readers import batch as history
    whole, _ = runs(tree)
    read = []

    def one_by_one(paths, **kw):
        for batch in history.read_chunks(paths, chunk=1, **kw):
            read.append(batch.paths)
            yield batch

    monkeypatch.setattr(catalog, "read_chunks", one_by_one)
    chunked, problems = runs(tree)
    assert len(read) == 3 and len(problems) == 1
    assert chunked.equals(whole)


def test_a_missing_root_raises_or_becomes_a_problem(tmp_path):
    from histkit.errors import HistoryError

    with pytest.raises(HistoryError, match="no such file"):
        runs(tmp_path / "nowhere")
    problems = []
    table, _ = runs([tmp_path / "nowhere"], problems=problems)
    assert table.height == 0 and table.columns == list(RUN_COLUMNS) and len(problems) == 1


def test_the_cache_rereads_only_what_changed(tree, monkeypatch):
    from histkit.analysis import runs as catalog
    from histkit.readers import batch as history
    read = []

    def spy(paths, **kw):
        read.append(sorted(Path(p).name for p in paths))
        return history.read_chunks(paths, **kw)

    monkeypatch.setattr(catalog, "read_chunks", spy)
    first, problems = runs(tree, cache=True)
    assert len(read[0]) == 3 and len(problems) == 1
    again, problems = runs(tree, cache=True)
    assert again.equals(first)
    assert read[1] == [problems[0].path.rsplit("/", 1)[-1]]  # the unreadable file only
    assert len(problems) == 1  # and its error is reported again

    grown = next(tree.rglob("*_DR40.csv"))
    write_history(grown, epochs=9)
    changed, _ = runs(tree, cache=True)
    assert read[2] == sorted([grown.name, read[1][0]])
    row = changed.filter(pl.col("dropout") == 0.4).row(0, named=True)
    assert row["epochs_logged"] == 9
    assert changed.drop("epochs_logged", "best_val_loss", "best_val_loss_epoch",
                        "stop_val_loss_epoch").equals(
        first.drop("epochs_logged", "best_val_loss", "best_val_loss_epoch",
                   "stop_val_loss_epoch"))

    grown.unlink()
    fewer, _ = runs(tree, cache=True)
    assert fewer.height == 2 and not fewer["path"].str.ends_with("_DR40.csv").any()
    # another tolerance is another question: nothing is taken from the first
    runs(tree, cache=True, tolerance=0.1)
    assert len(read[-1]) == 2


def test_a_broken_or_unwritable_cache_still_gives_the_table(tree, monkeypatch, tmp_path):
    from histkit.errors import HistkitWarning
    from histkit.analysis.runs_cache import RunsCache

    monkeypatch.setenv("HISTKIT_CACHE_DIR", str(tmp_path / "cache"))
    fresh, _ = runs(tree)
    runs(tree, cache=True)
    (store,) = (tmp_path / "cache" / "runs").glob("*.parquet")
    store.write_bytes(b"not parquet")
    table, _ = runs(tree, cache=True)
    assert table.equals(fresh)
    assert pl.read_parquet(store).height == 2  # rebuilt: the two readable runs
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("HISTKIT_CACHE_DIR", str(blocker / "cache"))  # cannot be a folder
    with pytest.warns(HistkitWarning, match="cannot keep the runs cache"):
        table, _ = runs(tree, cache=True)
    assert table.equals(fresh)
    assert RunsCache({"a": 1}).path != RunsCache({"a": 2}).path


def test_a_repaired_history_warns_on_every_run_with_the_cache(tree, monkeypatch):
    from histkit.analysis import runs as catalog
    from histkit.readers import batch as history
    from histkit.errors import HistkitWarning

    resumed = next(tree.rglob("*_DR40.csv"))
    lines = resumed.read_text().splitlines()
    resumed.write_text("\n".join(lines + lines[-1:]) + "\n")  # a resumed log repeats an epoch
    read = []

    def spy(paths, **kw):
        read.append([Path(p).name for p in paths])
        return history.read_chunks(paths, **kw)

    monkeypatch.setattr(catalog, "read_chunks", spy)
    for _ in range(3):
        with pytest.warns(HistkitWarning, match=f"{resumed}: 1 repeated epoch") as told:
            table, _ = runs(tree, cache=True)
        assert len([w for w in told if "repeated epoch" in str(w.message)]) == 1
        assert table.filter(pl.col("dropout") == 0.4)["epochs_logged"].item() == 6
    assert resumed.name in read[0] and resumed.name not in read[1] + read[2]  # from the cache


def test_a_log_with_two_trainings_is_two_rows_cached_or_not(tmp_path, monkeypatch):
    # two Keras trainings appended to one CSVLogger file (tests/fixtures/sources)
    import shutil

    monkeypatch.setenv("HISTKIT_CACHE_DIR", str(tmp_path / "cache"))
    logs = tmp_path / "logs"
    logs.mkdir()
    fixture = Path(__file__).parent / "fixtures" / "sources" / "keras" / "append.csv"
    shutil.copy(fixture, logs / "append.csv")
    first, problems = runs(logs, cache=True)
    assert not problems
    assert first["run"].to_list() == ["append", "append#2"]
    assert first["epochs_logged"].to_list() == [5, 3]
    assert first["path"].to_list() == [str(logs / "append.csv"), f"{logs / 'append.csv'}#2"]
    again, _ = runs(logs, cache=True)  # from the cache: the second training kept
    assert again.equals(first)
