import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from histkit.train import TrainError  # noqa: E402
from histkit.train import precision  # noqa: E402
from histkit.train.losses import make_loss  # noqa: E402
from histkit.train.precision import check_precision, forward  # noqa: E402
from histkit.train.unet import UNet  # noqa: E402

CPU = torch.device("cpu")


def _conv_dtypes(model, x, mode):
    seen = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    out = forward(model, x, mode)
    return out, set(seen)


@pytest.mark.parametrize("mode, conv_dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_forward_autocasts_the_convolutions_and_returns_fp32(mode, conv_dtype):
    torch.manual_seed(0)
    out, seen = _conv_dtypes(UNet(1, 3, levels=2, base_filters=4, attention=True),
                             torch.rand(2, 1, 16, 8), mode)
    assert seen == {conv_dtype}
    assert out.dtype == torch.float32 and out.shape == (2, 3, 16, 8)


def test_bf16_gradients_follow_fp32_ones_and_weights_stay_fp32():
    torch.manual_seed(0)
    model = UNet(1, 3, levels=3, base_filters=8, attention=True)
    x = torch.rand(2, 1, 32, 16)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 32, 16)), 3).permute(0, 3, 1, 2).float()
    grads = {}
    for mode in ("fp32", "bf16"):
        model.zero_grad()
        make_loss("mdice")(forward(model, x, mode), y).backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert grads["bf16"].dtype == torch.float32
    cos = torch.nn.functional.cosine_similarity(grads["fp32"], grads["bf16"], dim=0)
    assert cos > 0.95  # bfloat16 keeps 8 bits of mantissa (0.97-0.98 here): close, not equal
    assert not torch.equal(grads["fp32"], grads["bf16"])


def test_bf16_is_refused_where_it_would_be_emulated(monkeypatch):
    check_precision("fp32", CPU)
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    check_precision("fp32", CPU)
    with pytest.raises(TrainError, match=r"--precision bf16 needs a CPU with AMX or "
                                         r"AVX512-BF16; this CPU would emulate bfloat16"):
        check_precision("bf16", CPU)
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    check_precision("bf16", CPU)
