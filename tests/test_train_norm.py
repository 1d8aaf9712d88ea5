import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from histkit.train.models import fuse_for_inference  # noqa: E402
from histkit.train.norm import BatchNorm2d  # noqa: E402

CL = torch.channels_last


def _pair(channels: int, momentum=0.1):
    torch.manual_seed(0)
    ref = torch.nn.BatchNorm2d(channels, momentum=momentum)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
    ours = BatchNorm2d(channels, momentum=momentum)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def _step(bn, x, grad):
    x = x.clone().requires_grad_()
    out = bn(x)
    out.backward(grad)
    return out, x.grad, bn.weight.grad, bn.bias.grad


# 24 channels, where torch's channels_last kernel is slow; 3x5x6 = 90 pixels and 1x1x7 = 7:
# pixel counts 16 does not divide, so the wide view holds fewer pixels per row
@pytest.mark.parametrize("shape", [(3, 24, 5, 6), (2, 16, 8, 8), (1, 3, 1, 7)])
def test_channels_last_training_matches_torch(shape):
    ref, ours = _pair(shape[1])
    torch.manual_seed(1)
    x = (torch.randn(shape) * 3 + 1).contiguous(memory_format=CL)
    grad = torch.randn(shape).contiguous(memory_format=CL)
    for a, b in zip(_step(ref, x, grad), _step(ours, x, grad)):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    for name, value in ref.state_dict().items():  # running statistics and batch count
        torch.testing.assert_close(ours.state_dict()[name], value)
    assert ours.num_batches_tracked.item() == 1


def test_channels_last_path_is_taken_and_keeps_the_layout(monkeypatch):
    from histkit.train import norm

    calls = []
    real = norm._ChannelsLastBatchNorm.apply
    monkeypatch.setattr(norm._ChannelsLastBatchNorm, "apply",
                        lambda *a: calls.append(1) or real(*a))
    _, ours = _pair(24)
    x = torch.randn(2, 24, 4, 4).contiguous(memory_format=CL).requires_grad_()
    ours(x).sum().backward()
    assert calls == [1]
    assert x.grad.is_contiguous(memory_format=CL)
    ours(torch.randn(2, 24, 4, 4))  # contiguous: torch's own kernel
    assert calls == [1]
    x16 = x.detach().bfloat16().contiguous(memory_format=CL).requires_grad_()
    ours(x16).sum().backward()  # mixed precision: torch's kernel is the faster there
    assert calls == [1]
    assert x16.grad.dtype == torch.bfloat16


def test_a_contiguous_gradient_into_a_channels_last_output():
    ref, ours = _pair(8)
    x = torch.randn(2, 8, 4, 6).contiguous(memory_format=CL)
    grad = torch.randn(2, 8, 4, 6)  # contiguous
    torch.testing.assert_close(_step(ours, x, grad)[1], _step(ref, x, grad)[1],
                               rtol=1e-4, atol=1e-5)


def test_cumulative_momentum_and_eval_take_torchs_kernel(monkeypatch):
    from histkit.train import norm

    calls = []
    real = norm._ChannelsLastBatchNorm.apply
    monkeypatch.setattr(norm._ChannelsLastBatchNorm, "apply",
                        lambda *a: calls.append(1) or real(*a))
    x = torch.randn(2, 4, 3, 3).contiguous(memory_format=CL)
    _, cumulative = _pair(4, momentum=None)  # a running average the fast path does not keep
    cumulative(x)
    assert cumulative.num_batches_tracked.item() == 1
    _, ours = _pair(4)
    ours.eval()
    ours(x)
    assert ours.num_batches_tracked.item() == 0
    assert calls == []


def test_folds_into_the_convolution_for_inference():
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1, bias=False), BatchNorm2d(4))
    model(torch.randn(2, 2, 5, 5).contiguous(memory_format=CL))  # move the statistics
    fused = fuse_for_inference(model)
    assert isinstance(fused[1], torch.nn.Identity)
    x = torch.randn(1, 2, 5, 5)
    torch.testing.assert_close(fused(x), model.eval()(x), rtol=1e-4, atol=1e-5)
