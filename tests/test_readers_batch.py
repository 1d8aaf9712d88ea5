from contextlib import nullcontext

import pandas as pd
import polars as pl
import pytest
from conftest import write_history

from histkit.errors import HistkitWarning, HistoryError
from histkit.readers import (find_histories, read_chunks, read_histories, read_history,
                             to_history)


def write(tmp_path, text, name="h.csv", mode="w"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


@pytest.mark.parametrize("raw", [
    b"epoch,loss,val_loss\n0,1.5,2\n1,1,1.25\n",
    b"\xef\xbb\xbfepoch,loss,val_loss\r\n0,1.5,2\r\n1,1,1.25\r\n",
    b"epoch;loss;val_loss\n0;1.5;2\n1;1;1.25\n",
    b"epoch\tloss\tval_loss\n0\t1.5\t2\n1\t1\t1.25\n",
    b'"epoch","loss","val_loss"\n"0","1.5","2"\n1,1,1.25\n\n',
])
def test_dialects_read_the_same(tmp_path, raw):
    wide = read_history(write(tmp_path, raw))
    assert wide.columns == ["epoch", "loss", "val_loss"]
    assert wide["epoch"].to_list() == [0, 1]
    assert wide["val_loss"].to_list() == [2.0, 1.25]
    assert wide.schema["epoch"] == pl.Int64


def test_keeps_file_epochs_and_numbers_rows_from_one_without_epoch(tmp_path):
    assert read_history(write(tmp_path, "epoch,loss\n5,1\n6,2\n"))["epoch"].to_list() == [5, 6]
    assert read_history(write(tmp_path, "loss\n1\n2\n3\n"))["epoch"].to_list() == [1, 2, 3]


def test_missing_cells_are_nulls(tmp_path):
    wide = read_history(write(tmp_path, "epoch,loss,val_loss\n0,,nan\n1,NA,1\n2,NaN,null\n"))
    assert wide["loss"].null_count() == 3 and wide["val_loss"].to_list() == [None, 1.0, None]


def test_repeated_epochs_keep_last_and_warn(tmp_path):
    p = write(tmp_path, "epoch,loss\n0,9\n1,8\n2,7\n1,6\n2,5\n3,4\n")
    with pytest.warns(HistkitWarning, match="2 repeated epoch"):
        wide = read_history(p)
    assert wide["epoch"].to_list() == [0, 1, 2, 3]
    assert wide["loss"].to_list() == [9, 6, 5, 4]


@pytest.mark.parametrize("raw, match", [
    (b"", "empty file"),
    (b"\n\n  \n", "empty file"),
    (b"\xef\xbb\xbf", "empty file"),
    (b"\xef\xbb\xbf\r\n \n", "empty file"),
    (b"epoch\n0\n1\n", "no metric column: the history holds only 'epoch'"),
    (b"epoch,loss,val_loss\n", "no rows"),
    (b"epoch,loss\n0,0.5\n1,abc\n", r":3 \(column 'loss'\): non-numeric value 'abc'"),
    (b"epoch,loss\n0,0.5\n1,0.4,0.3\n", r":3: 3 fields where the header has 2"),
    (b"epoch,loss,val_loss\n0,0.5\n", r":2: 2 fields where the header has 3"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    (b"epoch,loss\n0,\xff\xfe\n", "not UTF-8"),
    (b"epoch,loss,loss\n0,1,2\n", r"duplicated column 'loss' \(columns 2 and 3\)"),
    (b"epoch,,loss\n0,1,2\n", "column 2 of the header has no name"),
    (b"epoch,loss\n0.5,1\n", r":2 \(column 'epoch'\): epoch 0.5 is not a whole number"),
    (b"epoch,loss\n0,1\n\n,2\n", r":4 \(column 'epoch'\): epoch is missing"),
])
def test_bad_files_name_file_line_and_column(tmp_path, raw, match):
    p = write(tmp_path, raw)
    with pytest.raises(HistoryError, match=match) as info:
        read_history(p)
    assert str(info.value).startswith(str(p))
    batch = read_histories([p])  # the fast path reports exactly the same error
    assert [str(e) for e in batch.problems] == [str(info.value)]


def test_missing_and_directory_paths(tmp_path):
    with pytest.raises(HistoryError, match="no such file"):
        read_history(tmp_path / "nope.csv")
    with pytest.raises(HistoryError, match="is a directory"):
        read_history(tmp_path)


def test_to_history_matches_r_keras_long_table(tmp_path):
    wide = pl.DataFrame({"epoch": [0, 1], "val_acc": [0.5, 0.6], "loss": [1.0, 0.8],
                         "acc": [0.4, 0.7], "val_loss": [1.1, None], "lr": [0.1, 0.1]})
    long = to_history(wide)
    assert long.columns == ["epoch", "value", "metric", "data"]
    assert long.schema == {"epoch": pl.Int64, "value": pl.Float64, "metric": pl.String,
                           "data": pl.String}
    assert long.select("metric", "data").unique(maintain_order=True).rows() == [
        ("acc", "training"), ("acc", "validation"), ("loss", "training"),
        ("loss", "validation"), ("lr", "training")]
    assert long.filter(pl.col("metric") == "acc")["value"].to_list() == [0.4, 0.7, 0.5, 0.6]
    assert long["value"].null_count() == 1


def test_to_history_accepts_pandas_without_epoch():
    long = to_history(pd.DataFrame({"loss": [3.0, 2.0], "val_loss": [4.0, float("nan")]}))
    assert long["epoch"].to_list() == [1, 2, 1, 2]
    assert long["value"].to_list() == [3.0, 2.0, 4.0, None]
    assert to_history(long) is long  # already long


def test_to_history_rejects_text_metrics():
    with pytest.raises(HistoryError, match="'note' is not numeric"):
        to_history(pl.DataFrame({"epoch": [1], "note": ["x"]}))


def test_batch_equals_one_by_one_and_reports_bad_files(tmp_path):
    paths = [write_history(tmp_path / f"r{i}.csv", epochs=5 + i, rate=2 + i) for i in range(4)]
    paths.append(write(tmp_path, "epoch;loss\n0;1\n1;0.5\n", "semi.csv"))
    paths.append(write(tmp_path, "loss,val_loss\n1,2\n0.5,\n", "noepoch.csv"))
    paths.append(write(tmp_path, "epoch,loss\n0,1\n0,2\n", "dups.csv"))
    paths.append(write(tmp_path, "epoch,loss\n0,x\n", "bad.csv"))
    with pytest.warns(HistkitWarning):
        batch = read_histories(paths)
    assert [e.path for e in batch.problems] == [str(paths[-1])]
    assert batch.histories.schema["metric"] == pl.Categorical
    for p in paths[:-1]:
        got = (batch.histories.filter(pl.col("path") == str(p)).drop("path")
               .with_columns(pl.col("metric", "data").cast(pl.String)))
        with pytest.warns(HistkitWarning) if p.name == "dups.csv" else nullcontext():
            want = to_history(read_history(p))
        assert got.equals(want), p.name
    assert batch.histories["path"].unique(maintain_order=True).to_list() == \
        [str(p) for p in paths[:-1]]


def test_find_histories(tmp_path):
    a = write_history(tmp_path / "x" / "b.csv")
    b = write_history(tmp_path / "x" / "deep" / "a.csv")
    (tmp_path / "x" / "notes.txt").write_text("hi")
    assert find_histories([tmp_path / "x"]) == sorted([str(a), str(b)])
    with pytest.raises(HistoryError, match="no such file or directory"):
        find_histories([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(HistoryError, match="holds no"):
        find_histories([tmp_path / "empty"])


def test_read_chunks_splits_the_files_and_keeps_their_order(tmp_path):
    paths = [write_history(tmp_path / f"r{i}.csv", epochs=3 + i) for i in range(5)]
    (tmp_path / "bad.csv").write_text("epoch,loss\n0,x\n")
    paths.insert(2, tmp_path / "bad.csv")
    batches = list(read_chunks(paths, chunk=2))
    assert [b.paths for b in batches] == [[str(p) for p in paths[i:i + 2]] for i in (0, 2, 4)]
    assert [len(b.problems) for b in batches] == [0, 1, 0]
    whole = read_histories(paths).histories.with_columns(pl.col("path").cast(pl.String))
    pieces = pl.concat([b.histories.with_columns(pl.col("path").cast(pl.String))
                        for b in batches])
    assert pieces.equals(whole)
    (empty,) = read_chunks([])
    assert empty.paths == [] and empty.histories.height == 0


def test_digests_hash_the_bytes_read_and_fingerprint_as_a_second_read_would(tmp_path):
    """A report fingerprints each history for its manifest: with digests=True
    the reader hashes the bytes it read, so the file is not read again, and
    the fingerprint is the one a second read gives (no redraw after an upgrade)."""
    import hashlib

    from histkit.readers import fingerprint

    paths = [str(write_history(tmp_path / f"r{i}.csv", epochs=3 + i)) for i in range(3)]
    (tmp_path / "odd.csv").write_text('epoch,loss\n0,"0.5"\n')  # the exact reader's file
    paths.append(str(tmp_path / "odd.csv"))
    (batch,) = read_chunks(paths, chunk=10, digests=True)
    assert batch.digests == {p: hashlib.sha256(open(p, "rb").read()).digest() for p in paths}
    assert all(fingerprint(p, batch.digests[p]) == fingerprint(p) for p in paths)
    assert read_histories(paths).digests == {}  # only when asked
    assert read_histories(paths, digests=True).histories.equals(read_histories(paths).histories)


def test_owned_copies_every_column_with_its_type():
    from histkit.readers import owned

    frame = pl.DataFrame({"path": ["a/b.csv", "c/d.csv"], "epoch": [0, 1],
                          "value": [0.5, None], "tags": [["x"], []]}).with_columns(
        pl.col("path").cast(pl.Enum(["a/b.csv", "c/d.csv"])),
        metric=pl.Series(["loss", "sdice"], dtype=pl.Categorical))
    small = frame.filter(pl.col("epoch") == 1)
    copy = owned(small)
    assert copy.schema == small.schema and copy.equals(small)
