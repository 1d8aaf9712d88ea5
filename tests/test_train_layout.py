import types

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from histkit.train.layout import choose_memory_format  # noqa: E402
from histkit.train.losses import make_loss  # noqa: E402
from histkit.train.unet import UNet  # noqa: E402


class Clock:
    """A stand-in for time.perf_counter that only the model moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def __deepcopy__(self, memo):  # the probe times copies of the model: one clock for all
        return self


class SlowIn(torch.nn.Module):
    """A conv that costs one second of ``clock`` when its output is in the ``slow`` layout."""

    def __init__(self, slow: torch.memory_format, clock: Clock):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.slow, self.clock = slow, clock

    def forward(self, x):
        out = self.conv(x)
        if out.is_contiguous(memory_format=self.slow):
            self.clock.now += 1.0
        return out


def _batch():
    x = torch.rand(2, 1, 16, 8)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 16, 8)), 3).permute(0, 3, 1, 2).float()
    return x, y


@pytest.mark.parametrize("slow, fast", [(torch.channels_last, "contiguous"),
                                        (torch.contiguous_format, "channels_last")])
def test_the_faster_layout_wins_and_both_are_timed(slow, fast, monkeypatch):
    from histkit.train import layout

    clock = Clock()
    monkeypatch.setattr(layout, "time", types.SimpleNamespace(perf_counter=clock))
    name, seconds = choose_memory_format(SlowIn(slow, clock), *_batch(), make_loss("mdice"))
    assert name == fast
    other = "channels_last" if fast == "contiguous" else "contiguous"
    assert seconds == {fast: 0.0, other: 1.0}  # the best of the timed steps of each


def test_probing_leaves_the_model_and_the_random_stream_alone():
    torch.manual_seed(1)
    model = UNet(1, 3, levels=2, base_filters=4, dropout=0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = _batch()
    rng = torch.get_rng_state()
    choose_memory_format(model, *batch, make_loss("mdice"))
    assert torch.equal(torch.get_rng_state(), rng)  # dropout draws were undone
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics too
    assert all(p.grad is None for p in model.parameters())
    assert model.down[1][0].weight.is_contiguous()  # the copy, not the model, changed layout


def test_layouts_are_timed_in_the_trainers_precision():
    seen = []

    class Recording(torch.nn.Conv2d):
        def forward(self, x):
            out = super().forward(x)
            seen.append(out.dtype)
            return out

    choose_memory_format(Recording(1, 3, 3, padding=1), *_batch(), make_loss("mdice"),
                         precision="bf16")
    assert len(seen) == 6 and set(seen) == {torch.bfloat16}  # 2 layouts x (warm-up + 2 rounds)
