import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from histkit.train import TrainConfig  # noqa: E402
from histkit.train.linknet import LinkNet  # noqa: E402
from histkit.train.models import build_model, fuse_for_inference  # noqa: E402
from histkit.train.unet import AttentionGate, ConvBlock, UNet  # noqa: E402


@pytest.mark.parametrize("levels", [2, 3, 4])
@pytest.mark.parametrize("cls", [UNet, LinkNet])
def test_output_is_per_pixel_logits_for_three_classes(cls, levels):
    model = cls(1, 3, levels=levels, base_filters=4)
    out = model(torch.randn(2, 1, 32, 16))
    assert out.shape == (2, 3, 32, 16)


def test_levels_and_base_filters_set_the_widths():
    model = UNet(1, 3, levels=3, base_filters=5)
    convs = [m.out_channels for m in model.down.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs == [5, 5, 10, 10, 20, 20]
    link = LinkNet(1, 3, levels=3, base_filters=5)
    assert link.encoders[-1][-1].body[-1][0].out_channels == 20


def test_attention_gates_sit_on_every_skip_and_gate_the_features():
    plain = UNet(1, 3, levels=3, base_filters=4)
    gated = UNet(1, 3, levels=3, base_filters=4, attention=True)
    assert sum(isinstance(m, AttentionGate) for m in gated.modules()) == 2
    assert not any(isinstance(m, AttentionGate) for m in plain.modules())
    gate = AttentionGate(4, 8, 2).eval()
    x, g = torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4)  # g from the coarser level
    out = gate(x, g)
    ratio = out / x
    # the gate multiplies every channel of a pixel by the same coefficient in (0, 1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()


def test_attention_gate_works_at_the_coarse_resolution_as_in_oktay_et_al():
    torch.manual_seed(0)
    gate = AttentionGate(4, 8, 2)
    with torch.no_grad():
        gate.phi.weight.abs_()  # so that raising g raises the gate's input
    assert gate.theta.stride == (2, 2) and gate.theta.kernel_size == (2, 2)
    x, g = torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4)
    alpha = gate.coefficients(x, g)
    assert alpha.shape == (1, 1, 8, 8)
    # one coarse pixel of g reaches only the fine pixels its bilinear resampling covers
    g2 = g.clone()
    g2[..., 0, 0] += 5
    changed = (gate.coefficients(x, g2) != alpha)[0, 0]
    assert changed[:2, :2].all() and not changed[4:, :].any() and not changed[:, 4:].any()


def test_dropout_is_active_in_training_only():
    model = UNet(1, 3, levels=2, base_filters=4, dropout=0.5)
    x = torch.randn(1, 1, 16, 16)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))
    assert any(isinstance(m, torch.nn.Dropout2d) for m in model.modules())
    assert not any(isinstance(m, torch.nn.Dropout2d) for m in UNet(1, 3, 2, 4).modules())


def test_build_model_follows_the_config():
    cfg = TrainConfig(model="unet", attention=True, shape="32x16x1", levels=3, base_filters=4).validate()
    assert isinstance(build_model(cfg), UNet) and build_model(cfg).attention
    cfg = TrainConfig(model="linknet", shape="32x16x1", levels=3, base_filters=4).validate()
    assert isinstance(build_model(cfg), LinkNet)


@pytest.mark.parametrize("model", [UNet(1, 3, 3, 4, attention=True), LinkNet(1, 3, 3, 4)])
def test_fused_inference_model_matches_and_has_no_batchnorm(model):
    x = torch.randn(2, 1, 32, 16)
    model.train()
    for _ in range(2):  # move BN running stats away from their defaults
        model(x)
    model.eval()
    fused = fuse_for_inference(model)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert n_bn < sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    with torch.no_grad():
        assert torch.allclose(fused(x), model(x), atol=1e-4)


def test_gradients_reach_the_first_layer():
    model = UNet(1, 3, levels=3, base_filters=4, attention=True)
    model(torch.randn(2, 1, 32, 16)).sum().backward()
    assert model.down[0][0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("build", [lambda: UNet(1, 3, levels=3, base_filters=4),
                                   lambda: UNet(1, 3, levels=3, base_filters=4, attention=True),
                                   lambda: LinkNet(1, 3, levels=3, base_filters=4)],
                         ids=["unet", "unet-attention", "linknet"])
def test_channels_last_gives_the_same_gradients_as_contiguous(build):
    # few channels and strided projections (LinkNet's 1x1, the gates' 2x2): the
    # shapes of oneDNN#6035, whose channels_last kernel corrupted memory or
    # returned wrong weight gradients
    torch.manual_seed(0)
    model = build()
    twin = __import__("copy").deepcopy(model).to(memory_format=torch.channels_last)
    x = torch.randn(4, 1, 32, 16)
    for _ in range(3):
        model.zero_grad(), twin.zero_grad()
        model(x).square().mean().backward()
        twin(x.contiguous(memory_format=torch.channels_last)).square().mean().backward()
        for (name, a), b in zip(model.named_parameters(), twin.parameters()):
            assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-6), name


def test_linknet_projection_is_a_strided_1x1_convolution():
    proj = LinkNet(1, 3, levels=2, base_filters=4).encoders[0][0].skip[0]
    assert proj.weight.shape == (8, 4, 1, 1)
    x = torch.randn(2, 4, 9, 6)  # odd height: the stride-2 output has ceil(9 / 2) rows
    expected = torch.nn.functional.conv2d(x, proj.weight, stride=2)
    assert proj(x).shape == expected.shape == (2, 8, 5, 3)
    assert torch.allclose(proj(x), expected, atol=1e-6)
