"""Would other convolution kernels make the attention UNet train faster here?

    .venv/bin/python bench/conv_backends.py [--threads 2] [--repeats 7] [--shape 1x192x384]

For every convolution of the attention UNet of bench/train_speed.py (4 levels,
24 base filters, batch 2), with its input shape and a random output gradient,
times the three parts of a training step apart: forward, input gradient
("data") and weight gradient ("weight"), each through oneDNN in contiguous
(NCHW) and in channels_last (NHWC) tensors. Also, for contiguous tensors, the
three together through torch's own kernel (im2col and MKL's GEMM, oneDNN
switched off), and the forward through NNPACK (Winograd for 3x3 kernels)
where it takes the layer.

The totals compare whole strategies with the contiguous layout (what
``histkit train`` picks on an AVX2 CPU) and give the ceiling of a special
path that picks the fastest kernel and layout for each part of each layer
(not counting the copies between layouts it would need). Biases are left
out (the 3x3 convolutions have none). The first layer needs no input
gradient ("-"). Medians of ``--repeats`` timings after two warm-ups.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings


def _timed(fn, repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _layers(shape: tuple[int, int, int]):
    """(kind, input shape, module) of each convolution, in forward order."""
    import torch

    from histkit.train.unet import UNet

    torch.manual_seed(0)
    model = UNet(shape[0], 3, levels=4, base_filters=24, attention=True)
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((type(m).__name__,
                                                                  tuple(i[0].shape), m)))
             for m in model.modules() if isinstance(m, (torch.nn.Conv2d,
                                                        torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        model(torch.rand(2, *shape))
    for h in hooks:
        h.remove()
    return seen


def _parts(conv, x, layout, repeats: int, first: bool) -> dict[str, float]:
    """Milliseconds of forward, data and weight gradient of ``conv`` on ``x``."""
    import torch

    x = x.contiguous(memory_format=layout)
    w = conv.weight.detach().contiguous(memory_format=layout)
    transposed = isinstance(conv, torch.nn.ConvTranspose2d)
    out_pad = list(conv.output_padding) if transposed else [0, 0]
    args = (list(conv.stride), list(conv.padding), list(conv.dilation), transposed, out_pad,
            conv.groups)
    y = torch.ops.aten.convolution(x, w, None, *args)
    g = torch.rand_like(y).contiguous(memory_format=layout)

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(g, x, w, None, *args, mask)

    return {"fwd": _timed(lambda: torch.ops.aten.convolution(x, w, None, *args), repeats),
            "data": None if first else _timed(backward([True, False, False]), repeats),
            "weight": _timed(backward([False, True, False]), repeats)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--shape", default="1x192x384", help="CxHxW of one image")
    args = ap.parse_args()

    import torch

    warnings.filterwarnings("ignore", message="TF32 acceleration")
    torch.set_num_threads(args.threads)
    shape = tuple(int(v) for v in args.shape.split("x"))
    print(f"torch {torch.__version__}, {args.threads} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}; ms per call, median of {args.repeats}")
    print(f"{'layer':16} {'input':>18} {'weight':>17} | NCHW: fwd  data weight | "
          f"NHWC: fwd  data weight | native all | NNPACK fwd")
    total = {"NCHW": 0.0, "NHWC": 0.0, "native": 0.0, "best": 0.0, "nnpack_fwd": 0.0,
             "nchw_fwd": 0.0}
    for i, (kind, in_shape, conv) in enumerate(_layers(shape)):
        x = torch.rand(*in_shape)
        nchw = _parts(conv, x, torch.contiguous_format, args.repeats, i == 0)
        nhwc = _parts(conv, x, torch.channels_last, args.repeats, i == 0)
        with torch.backends.mkldnn.flags(enabled=False):
            native = _parts(conv, x, torch.contiguous_format, args.repeats, i == 0)
        nnpack = None
        if (kind == "Conv2d" and conv.stride == (1, 1) and torch.backends.nnpack.is_available()):
            bias = torch.zeros(conv.out_channels)
            w = conv.weight.detach()
            nnpack = _timed(lambda: torch._nnpack_spatial_convolution(x, w, bias,
                                                                      list(conv.padding)),
                            args.repeats)
        for parts in (nchw, nhwc, native):
            parts["data"] = parts["data"] or 0.0
        total["NCHW"] += sum(nchw.values())
        total["NHWC"] += sum(nhwc.values())
        total["native"] += sum(native.values())
        total["best"] += sum(min(nchw[k], nhwc[k], native[k], *([nnpack] if k == "fwd"
                                                                 and nnpack else []))
                             for k in nchw)
        data = (lambda parts: f"{parts['data']:5.1f}" if i else f"{'-':>5}")
        total["nchw_fwd"] += nchw["fwd"]
        total["nnpack_fwd"] += min(nchw["fwd"], nnpack or nchw["fwd"])
        print(f"{kind:16} {str(in_shape):>18} {str(tuple(conv.weight.shape)):>17} | "
              f"{nchw['fwd']:9.1f} {data(nchw)} {nchw['weight']:6.1f} | "
              f"{nhwc['fwd']:9.1f} {data(nhwc)} {nhwc['weight']:6.1f} | "
              f"{sum(native.values()):10.1f} | "
              + (f"{nnpack:10.1f}" if nnpack else f"{'-':>10}"))
    base = total["NCHW"]
    print(f"convolutions of a training step, NCHW: {base:.0f} ms; NHWC {total['NHWC']:.0f} ms "
          f"({total['NHWC'] / base:.2f}x); native kernel {total['native']:.0f} ms "
          f"({total['native'] / base:.2f}x)")
    print(f"the fastest kernel and layout for each part of each layer: {total['best']:.0f} ms "
          f"({total['best'] / base:.2f}x, before the copies between layouts); NNPACK where "
          f"faster saves {total['nchw_fwd'] - total['nnpack_fwd']:.0f} ms of "
          f"{total['nchw_fwd']:.0f} ms of forward")


if __name__ == "__main__":
    main()
