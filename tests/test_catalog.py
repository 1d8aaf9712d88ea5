import polars as pl
import pytest
from conftest import RUN, run_path, write_history

from histkit.catalog import RUN_COLUMNS, filter_runs, runs
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
    for bad, match in [("dropout", "expected FIELD=VALUE"), ("attention=yes", "true or false"),
                       ("levels=four", "is a number")]:
        with pytest.raises(OptionError, match=match):
            filter_runs(table, [bad])
