import warnings
from pathlib import Path

import pytest

from histkit.errors import HistkitWarning, RunNameError
from histkit.names import format_run_name, loss_weights, parse_run_name, run_from_path

CANONICAL = [
    "unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20",
    "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24",
    "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR40",
    "linknet_2d_bce25dice75_Adam_fat_96x48x1_N32_E12_L3_FBL8_DR5",
    "res_unet_3d_ce_SGD_fat_mri_64x64x3_N8_E2_L2_FBL4_seed3_aug",
    "unet_2d_ce_Adam_fat_64x64x1_N32_E20_L3_FBL8_BS8_LR5e-2_S1",
    "unet_2d_ce_SGD_fat_64x64x1_N32_E20_L3_FBL8_DR20_LR1e2",
    "unet_2d_ce_SGD_fat_64x64x1_N32_E20_L3_FBL8_LR2.5e-4_S12_aug",
]


@pytest.mark.parametrize("name", CANONICAL)
def test_round_trip_is_exact(name):
    assert format_run_name(parse_run_name(name)) == name


def test_fields_of_the_design_example():
    r = parse_run_name("unet_2d_mdice_ag_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR20")
    assert (r.model, r.dim, r.loss, r.attention, r.optimizer, r.dataset) == \
        ("unet", "2d", "mdice", True, "AdaDelta", "fat")
    assert (r.height, r.width, r.channels) == (768, 384, 1)
    assert (r.n_train, r.epochs, r.levels, r.base_filters, r.dropout) == (204, 24, 4, 24, 0.2)
    assert r.model_dir == "unet_2d_mdice_ag" and r.dataset_dir == "fat_768x384x1"


def test_absent_dropout_is_zero_and_extras_are_kept_in_order():
    r = parse_run_name("res_unet_3d_ce_SGD_fat_mri_64x64x3_N8_E2_L2_FBL4_seed3_aug.csv")
    assert r.dropout == 0.0 and r.model == "res_unet" and r.dataset == "fat_mri"
    assert r.extra == ("seed3", "aug")


def test_batch_size_lr_and_seed_tokens_after_dropout():
    r = parse_run_name("unet_2d_ce_Adam_fat_64x64x1_N32_E20_L3_FBL8_DR20_BS8_LR5e-2_S1")
    assert (r.dropout, r.batch_size, r.lr, r.seed) == (0.2, 8, 0.05, 1)
    plain = parse_run_name("unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24")
    assert (plain.batch_size, plain.lr, plain.seed) == (None, None, 0)  # the defaults
    # written only when given (batch size, lr) or not 0 (seed); lr in one spelling
    base = dict(model="unet", dim="2d", loss="ce", optimizer="Adam", dataset="fat", height=64,
                width=64, channels=1, n_train=32, epochs=20, levels=3, base_filters=8)
    assert format_run_name(**base, seed=0).endswith("_FBL8")
    assert format_run_name(**base, lr=0.001, seed=2).endswith("_FBL8_LR1e-3_S2")
    assert format_run_name(**base, lr=100.0, batch_size=2).endswith("_FBL8_BS2_LR1e2")
    # another spelling of a learning rate is not this token: it stays extra
    odd = parse_run_name("unet_2d_ce_Adam_fat_64x64x1_N32_E20_L3_FBL8_LR0.001")
    assert odd.lr is None and odd.extra == ("LR0.001",)
    with pytest.raises(RunNameError, match="seed -1"):
        format_run_name(**base, seed=-1)


def test_name_outside_grammar_warns_and_loads_empty():
    with pytest.warns(HistkitWarning, match="does not follow the grammar"):
        r = parse_run_name("my_experiment")
    assert not r.valid and r.model is None and r.name == "my_experiment"
    assert format_run_name(r) == "my_experiment"


@pytest.mark.parametrize("bad", ["my_experiment", "unet_2d_mdice_fat_768x384x1_N1_E1_L1_FBL1",
                                 "unet_2d_mdice_Adam_fat_768x384x1_N1_E1_L1"])
def test_strict_raises(bad):
    with pytest.raises(RunNameError):
        parse_run_name(bad, strict=True)


def test_path_adds_date_and_warns_on_disagreement(tmp_path):
    good = "run/2021-03-02/unet_2d_mdice/fat_768x384x1/unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24_DR40.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_from_path(good).date == "2021-03-02"
    bad = "run/2021-03-02/unet_2d_mdice_ag/fat_768x384x1/unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24.csv"
    with pytest.warns(HistkitWarning, match="model directory 'unet_2d_mdice_ag' disagrees"):
        r = run_from_path(bad)
    assert r.attention is False  # the name wins


@pytest.mark.parametrize("spelling", [
    "/data/run/2021-03-02/unet_2d_mdice/fat_768x384x1/{name}.csv",
    "./run/./2021-03-02//unet_2d_mdice/fat_768x384x1/{name}.csv",
    "2021-03-02/unet_2d_mdice/fat_768x384x1/{name}.csv",
])
def test_path_spellings_give_the_date_pathlib_would(spelling):
    name = "unet_2d_mdice_AdaDelta_fat_768x384x1_N204_E24_L4_FBL24"
    path = spelling.format(name=name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the directories agree with the name however spelt
        r = run_from_path(path)
    assert (r.name, r.date, r.loss) == (name, "2021-03-02", "mdice")
    assert run_from_path(Path(path)) == r
    assert run_from_path(f"run/x/y/{name}.csv").date is None  # no date directory


def test_format_from_fields_and_bad_dropout():
    name = format_run_name(model="unet", dim="2d", loss="mdice", attention=True,
                           optimizer="Adam", dataset="fat", height=96, width=48, channels=1,
                           n_train=32, epochs=12, levels=3, base_filters=8, dropout=0.4)
    assert name == "unet_2d_mdice_ag_Adam_fat_96x48x1_N32_E12_L3_FBL8_DR40"
    with pytest.raises(RunNameError, match="dropout"):
        format_run_name(parse_run_name(name), dropout=1.0)
    with pytest.raises(RunNameError, match="without"):
        format_run_name(model="unet")


def test_loss_weights():
    assert loss_weights("bce25dice75") == {"bce": 0.25, "dice": 0.75}
    assert loss_weights("mdice") == {"mdice": 1.0}


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_word = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)


@given(model=_word, loss=_word, attention=st.booleans(),
       optimizer=st.sampled_from(["AdaDelta", "Adam", "SGD", "RMSprop"]),
       dataset=st.lists(_word, min_size=1, max_size=2).map("_".join),
       shape=st.tuples(*[st.integers(1, 4096)] * 3), n=st.integers(1, 10**5),
       e=st.integers(1, 999), lv=st.integers(1, 9), f=st.integers(1, 512),
       dr=st.integers(0, 99))
def test_round_trip_property(model, loss, attention, optimizer, dataset, shape, n, e, lv, f, dr):
    name = format_run_name(model=model, dim="2d", loss=loss, attention=attention,
                           optimizer=optimizer, dataset=dataset, height=shape[0],
                           width=shape[1], channels=shape[2], n_train=n, epochs=e,
                           levels=lv, base_filters=f, dropout=dr / 100)
    run = parse_run_name(name, strict=True)
    assert format_run_name(run) == name
    assert (run.model, run.loss, run.attention, run.dataset, run.dropout) == \
        (model, loss, attention, dataset, dr / 100)
