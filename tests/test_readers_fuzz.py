"""No input ends in an internal error: every reader, fed random bytes,
CSV-like text and real files cut short, returns a table or raises a
HistkitError that names the file."""

import json
import shutil
import warnings
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from histkit import readers as sources
from histkit.errors import HistkitError
from histkit.readers import read_histories, read_history

FIX = Path(__file__).parent / "fixtures" / "sources"
READERS = [None, "keras", "lightning", "tensorboard", "transformers", "fastai", "mlflow"]
FILES = sorted(p for p in FIX.rglob("*") if p.is_file() and p.suffix != ".py"
               and p.name != "README.md" and p.suffix != ".yaml")
SETTINGS = settings(max_examples=int(__import__("os").environ.get("HISTKIT_FUZZ", 60)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(path: Path, source=None):
    """A table, or one HistkitError naming ``path``; anything else fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wide = read_history(path, source=source)
        except HistkitError as exc:
            assert str(path) in str(exc) or (exc.path and str(path) in exc.path), exc
            assert "\n" not in str(exc)
            return None
    assert isinstance(wide, pl.DataFrame) and wide.columns[0] == "epoch"
    assert wide.schema["epoch"] == pl.Int64
    return wide


cells = st.one_of(st.floats(allow_nan=True), st.integers(-10**30, 10**30),
                  st.sampled_from(["", "nan", "NA", "inf", "-", "1e999", "0x10", "1_0",
                                   '"', "a,b", "\t", "00:01", "\x00", "é"]),
                  st.text(max_size=6))
names = st.sampled_from(["epoch", "step", "loss", "val_loss", "train_loss", "valid_loss",
                         "time", "loss_step", "loss_epoch", "lr-Adam", "", "epoch",
                         "train_loss_epoch", "x"])


@st.composite
def csv_text(draw):
    header = draw(st.lists(names, min_size=1, max_size=6))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 1), max_size=8))
    lines = [sep.join(header)] + [sep.join(str(c) for c in r) for r in rows]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@SETTINGS
@given(data=st.binary(max_size=400), source=st.sampled_from(READERS))
def test_random_bytes(tmp_path, data, source):
    p = tmp_path / "h.csv"
    p.write_bytes(data)
    check(p, source)


@SETTINGS
@given(data=csv_text(), source=st.sampled_from([None, "keras", "lightning", "fastai"]))
def test_csv_like_text(tmp_path, data, source):
    p = tmp_path / "metrics.csv"
    p.write_bytes(data)
    check(p, source)
    batch = read_histories([p, p.with_name("missing.csv")])
    assert len(batch.problems) >= 1


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(-2**70, 2**70),
              st.text(max_size=5)),
    lambda c: st.one_of(st.lists(c, max_size=4),
                        st.dictionaries(st.sampled_from(["loss", "val_loss", "epoch", "step",
                                                         "log_history", "history",
                                                         "eval_loss", "train_runtime"]),
                                        c, max_size=4)),
    max_leaves=20)


@SETTINGS
@given(obj=json_values, source=st.sampled_from([None, "keras", "transformers"]))
def test_json_like(tmp_path, obj, source):
    p = tmp_path / "history.json"
    p.write_text(json.dumps(obj))
    check(p, source)


@pytest.mark.parametrize("fixture", FILES, ids=lambda p: str(p.relative_to(FIX)))
def test_every_real_file_cut_short(tmp_path, fixture):
    data = fixture.read_bytes()
    for n in sorted({0, 1, 11, 12, 13, len(data) // 3, len(data) // 2, len(data) - 1}):
        if n >= len(data) or n < 0:
            continue
        p = tmp_path / fixture.name
        p.write_bytes(data[:n])
        for source in (None, "keras", "tensorboard", "mlflow", "transformers"):
            check(p, source)


def test_directories_cut_short(tmp_path):
    for d in [FIX / "mlflow/mlruns", FIX / "tensorboard/add_scalars",
              FIX / "lightning/tensorboard/lightning_logs/version_0"]:
        copy = tmp_path / d.name
        shutil.copytree(d, copy)
        for f in sorted(p for p in copy.rglob("*") if p.is_file()):
            f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
        for loc in sources.find_histories([copy], problems=[]) or [str(copy)]:
            check(Path(loc) if "::" not in loc else loc)
        shutil.rmtree(copy)
