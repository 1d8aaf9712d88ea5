import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
import torch.nn.functional as F  # noqa: E402

from histkit.train.losses import class_dice, dice_loss, make_loss, mdice_loss  # noqa: E402


def _r_mbdice_loss(y_true, y_pred, epsilon=0.0):
    """seeds/001 verbatim in numpy, Keras layout (batch, H, W, classes), R axes 1-based."""
    intersection = (y_true * y_pred).sum(axis=(1, 2))
    union = (y_true * y_true + y_pred * y_pred).sum(axis=(1, 2))
    dice = (2 * intersection / (union + epsilon)).mean(axis=(1, 0))
    return 1 - dice


def _sample(seed=0, n=3, h=8, w=6):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 3, h, w, generator=g)
    labels = torch.randint(0, 3, (n, h, w), generator=g)
    return logits, F.one_hot(labels, 3).permute(0, 3, 1, 2).float()


def test_mdice_is_the_seed_001_formula():
    logits, y = _sample()
    p = torch.sigmoid(logits)
    expected = _r_mbdice_loss(y.permute(0, 2, 3, 1).numpy(), p.permute(0, 2, 3, 1).numpy())
    assert mdice_loss(y, p, eps=0.0).item() == pytest.approx(float(expected), rel=1e-6)
    assert make_loss("mdice")(logits, y).item() == pytest.approx(float(expected), rel=1e-5)


def test_mdice_balances_classes_unlike_plain_dice():
    y = torch.zeros(1, 3, 10, 10)
    y[:, 0] = 1
    y[:, 0, :1, :1], y[:, 1, :1, :1] = 0, 1  # one VAT pixel, no SAT at all
    p = y.clone()
    p[:, 1] = 0  # miss the VAT pixel
    p[:, 0, :1, :1] = 1
    assert dice_loss(y, p).item() < 0.01
    assert mdice_loss(y, p).item() > 0.6  # two of three classes score ~0


def test_perfect_prediction_gives_zero_loss_and_unit_dice():
    _, y = _sample(1)
    assert mdice_loss(y, y).item() == pytest.approx(0, abs=1e-6)
    assert dice_loss(y, y).item() == pytest.approx(0, abs=1e-6)
    assert torch.allclose(class_dice(y, y), torch.ones(3, 3))


def test_bce_dice_mix_is_the_weighted_sum():
    logits, y = _sample(2)
    bce = F.binary_cross_entropy_with_logits(logits, y)
    dice = dice_loss(y, torch.sigmoid(logits))
    assert make_loss("bce").__call__(logits, y).item() == pytest.approx(bce.item(), rel=1e-6)
    mixed = make_loss("bce25dice75")(logits, y).item()
    assert mixed == pytest.approx(0.25 * bce.item() + 0.75 * dice.item(), rel=1e-6)


def test_ce_is_softmax_cross_entropy_from_logits():
    logits, y = _sample(3)
    expected = F.cross_entropy(logits, y.argmax(1)).item()
    assert make_loss("ce")(logits, y).item() == pytest.approx(expected, rel=1e-6)
    # a uniform prediction over 3 classes costs ln(3)
    assert make_loss("ce")(torch.zeros_like(logits), y).item() == pytest.approx(np.log(3), rel=1e-6)


def test_losses_backpropagate():
    logits, y = _sample(4)
    for name in ("mdice", "dice", "bce", "ce", "bce50mdice50"):
        z = logits.clone().requires_grad_()
        make_loss(name)(z, y).backward()
        assert z.grad.abs().sum() > 0, name
