import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from histkit.errors import HistkitError  # noqa: E402
from histkit.train import TrainConfig, TrainError  # noqa: E402
from histkit.train.data import batches, load_data, load_folder  # noqa: E402
from histkit.train.phantom import phantom, phantoms  # noqa: E402


@pytest.mark.parametrize("h, w", [(32, 16), (33, 17), (96, 48), (20, 40)])
def test_phantom_any_size_one_hot_masks(h, w):
    image, mask = phantom(h, w, seed=0, index=0)
    assert image.shape == (h, w) and mask.shape == (3, h, w)
    assert image.dtype == np.float32 and mask.dtype == np.float32
    assert np.array_equal(mask.sum(0), np.ones((h, w)))
    assert 0 <= image.min() and image.max() <= 1.0


def test_phantom_has_background_vat_and_sat_with_fat_brighter():
    image, mask = phantom(128, 64, seed=3, index=5)
    fractions = mask.mean(axis=(1, 2))
    assert fractions[0] > 0.5 and fractions[1] > 0.005 and fractions[2] > 0.02
    fat = image[(mask[1] + mask[2]) > 0].mean()
    assert fat > image[mask[0] > 0].mean() + 0.3


def test_phantom_is_deterministic_per_seed_and_index():
    a, ma = phantom(64, 32, seed=1, index=2)
    b, mb = phantom(64, 32, seed=1, index=2)
    c, _ = phantom(64, 32, seed=2, index=2)
    d, _ = phantom(64, 32, seed=1, index=3)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_phantoms_stack():
    x, y = phantoms(3, 32, 16, seed=0)
    assert x.shape == (3, 1, 32, 16) and y.shape == (3, 3, 32, 16)


def _config(**kw):
    return TrainConfig(**{"shape": "32x16x1", "n_train": 6, "n_val": 2, "levels": 2,
                          "base_filters": 4, "epochs": 1, **kw}).validate()


def test_split_is_fixed_by_seed():
    (xa, _), (va, _) = load_data(_config(seed=4))
    (xb, _), (vb, _) = load_data(_config(seed=4))
    (xc, _), _ = load_data(_config(seed=5))
    assert xa.shape == (6, 1, 32, 16) and va.shape == (2, 1, 32, 16)
    assert torch.equal(xa, xb) and torch.equal(va, vb)
    assert not torch.equal(xa, xc)
    # no slice is in both sets
    flat_t, flat_v = xa.flatten(1), va.flatten(1)
    assert not any(torch.equal(t, v) for t in flat_t for v in flat_v)


def test_batches_cover_every_image_once_and_split_across_ranks():
    x = torch.arange(10).float()[:, None]
    seen = torch.cat([b for b, _ in batches(x, x, 3, shuffle_seed=1)])
    assert sorted(seen[:, 0].tolist()) == list(range(10))
    r0 = torch.cat([b for b, _ in batches(x, x, 2, shuffle_seed=1, rank=0, world=2)])
    r1 = torch.cat([b for b, _ in batches(x, x, 2, shuffle_seed=1, rank=1, world=2)])
    assert sorted(torch.cat([r0, r1])[:, 0].tolist()) == list(range(10))
    assert not set(r0[:, 0].tolist()) & set(r1[:, 0].tolist())


def _write_png(path, array):
    from PIL import Image
    Image.fromarray(array.astype(np.uint8)).save(path)


def _png_folder(tmp_path, n=4, h=32, w=16):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i in range(n):
        image, mask = phantom(h, w, seed=0, index=i)
        _write_png(tmp_path / "images" / f"s{i}.png", image * 255)
        _write_png(tmp_path / "masks" / f"s{i}.png", mask.argmax(0))
    return tmp_path


def test_png_folder_loads_images_and_one_hot_masks(tmp_path):
    folder = _png_folder(tmp_path)
    x, y = load_folder(folder, (32, 16, 1))
    assert x.shape == (4, 1, 32, 16) and y.shape == (4, 3, 32, 16)
    _, mask = phantom(32, 16, seed=0, index=0)
    assert np.array_equal(y[0], mask)
    (xt, _), (xv, _) = load_data(_config(data=str(folder), n_train=None, n_val=1))
    assert len(xt) == 3 and len(xv) == 1
    with pytest.raises(TrainError, match="4 slices cannot give 6 training and 2 validation"):
        load_data(_config(data=str(folder)))


def test_nifti_volume_gives_one_slice_per_z(tmp_path):
    nib = pytest.importorskip("nibabel")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    pairs = [phantom(32, 16, seed=0, index=i) for i in range(3)]
    vol = np.stack([p[0] for p in pairs], axis=-1)
    lab = np.stack([p[1].argmax(0) for p in pairs], axis=-1).astype(np.uint8)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "images" / "a.nii.gz")
    nib.save(nib.Nifti1Image(lab, np.eye(4)), tmp_path / "masks" / "a.nii.gz")
    x, y = load_folder(tmp_path, (32, 16, 1))
    assert x.shape == (3, 1, 32, 16)
    assert np.array_equal(y[2], pairs[2][1])


def test_missing_mask_is_a_clear_error(tmp_path):
    folder = _png_folder(tmp_path)
    (folder / "masks" / "s2.png").unlink()
    with pytest.raises(TrainError, match="s2.png has no mask"):
        load_folder(folder, (32, 16, 1))


def test_mismatched_mask_shape_is_a_clear_error(tmp_path):
    folder = _png_folder(tmp_path)
    _write_png(folder / "masks" / "s1.png", np.zeros((30, 16)))
    with pytest.raises(TrainError, match="32x16 does not match mask shape 30x16 of masks/s1.png"):
        load_folder(folder, (32, 16, 1))


def test_image_size_other_than_shape_is_a_clear_error(tmp_path):
    folder = _png_folder(tmp_path)
    with pytest.raises(HistkitError, match="32x16x1 .* but --shape is 64x16x1"):
        load_folder(folder, (64, 16, 1))


def test_missing_subfolder_and_bad_labels(tmp_path):
    with pytest.raises(TrainError, match="images/ and masks/"):
        load_folder(tmp_path, (32, 16, 1))
    folder = _png_folder(tmp_path)
    _write_png(folder / "masks" / "s0.png", np.full((32, 16), 7))
    with pytest.raises(TrainError, match="found 7"):
        load_folder(folder, (32, 16, 1))


def test_masks_in_other_encodings_say_what_they_look_like(tmp_path):
    folder = _png_folder(tmp_path)
    _write_png(folder / "masks" / "s0.png", (phantom(32, 16, seed=0, index=0)[1][2] > 0) * 255)
    with pytest.raises(TrainError, match="found 0, 255: 0/255 is a binary mask"):
        load_folder(folder, (32, 16, 1))
    from PIL import Image
    one_hot = phantom(32, 16, seed=0, index=0)[1].transpose(1, 2, 0) * 255
    Image.fromarray(one_hot.astype(np.uint8), "RGB").save(folder / "masks" / "s0.png")
    with pytest.raises(TrainError, match="has 3 channels .*one-hot"):
        load_folder(folder, (32, 16, 1))


def test_interpolated_nifti_mask_and_nan_image_are_refused(tmp_path):
    nib = pytest.importorskip("nibabel")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    image, mask = phantom(32, 16, seed=0, index=0)
    nib.save(nib.Nifti1Image(image[..., None], np.eye(4)), tmp_path / "images" / "a.nii.gz")
    smooth = mask.argmax(0).astype(np.float32)[..., None] * 0.5
    nib.save(nib.Nifti1Image(smooth, np.eye(4)), tmp_path / "masks" / "a.nii.gz")
    with pytest.raises(TrainError, match="non-integer values .*nearest-neighbour"):
        load_folder(tmp_path, (32, 16, 1))
    nib.save(nib.Nifti1Image(mask.argmax(0).astype(np.uint8)[..., None], np.eye(4)),
             tmp_path / "masks" / "a.nii.gz")
    image[3, 3] = np.nan
    nib.save(nib.Nifti1Image(image[..., None], np.eye(4)), tmp_path / "images" / "a.nii.gz")
    with pytest.raises(TrainError, match="NaN or infinite pixels"):
        load_folder(tmp_path, (32, 16, 1))


def test_a_class_without_pixels_in_the_training_set_is_refused(tmp_path):
    folder = _png_folder(tmp_path)
    for i in range(4):  # SAT relabelled background everywhere
        lab = phantom(32, 16, seed=0, index=i)[1].argmax(0)
        _write_png(folder / "masks" / f"s{i}.png", np.where(lab == 2, 0, lab))
    with pytest.raises(TrainError, match=r"no pixel of class sat \(label 2\) in the 3 training"):
        load_data(_config(data=str(folder), n_train=None, n_val=1))


def test_fat2_is_a_harder_phantom_named_by_the_dataset_token():
    from histkit.train.phantom import STYLES
    a, ma = phantom(128, 64, seed=0, index=1, style="fat2")
    b, mb = phantom(128, 64, seed=0, index=1, style="fat2")
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert ma.sum(0).min() == 1 and ma.sum(0).max() == 1  # one-hot
    fat1 = np.stack([phantom(128, 64, seed=0, index=i)[1] for i in range(8)])
    fat2 = np.stack([phantom(128, 64, seed=0, index=i, style="fat2")[1] for i in range(8)])
    # thinner, broken ring and smaller islands: less foreground of each class
    assert fat2[:, 2].mean() < 0.6 * fat1[:, 2].mean()
    assert fat2[:, 1].mean() < 0.6 * fat1[:, 1].mean()
    assert set(STYLES) == {"fat", "fat2"}
    (x, _), _ = load_data(_config(dataset="fat2"))  # the dataset token picks the phantom
    every = phantoms(8, 32, 16, seed=0, style="fat2")[0]
    assert np.array_equal(x[0].numpy(), every[np.random.default_rng(0).permutation(8)[0]])
    with pytest.raises(TrainError, match="no phantom is called 'liver'.*fat, fat2.*--data"):
        load_data(_config(dataset="liver"))
