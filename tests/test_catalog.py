import polars as pl
import pytest
from conftest import RUN, run_path, write_history

from histkit.catalog import RUN_COLUMNS, filter_runs, runs, select_runs
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
    table, batch = runs(tree)
    assert table.columns == list(RUN_COLUMNS) and table.height == 3
    assert [str(e.path).endswith("Adam_fat_768x384x1_N204_E24_L4_FBL24.csv")
            for e in batch.problems] == [True]
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
