"""LeNet-sized conv2d forward + backward on ember and PyTorch, interleaved in one run.

Workload (issue 3): batch 64, 1x32x32 input, Conv2d(1, 6, 5) with bias, float32;
``conv(x).sum().backward()`` computing grads for the input, weight and bias. Also a LeNet
conv stage (conv 6->16 5x5 + relu + max_pool2d) to show pooling's cost, and the CIFAR CNN's
second stage (conv 32->64 3x3 pad 1 + relu + max_pool2d), whose 32 input channels take the
channels-last column layout. Prints median times and the ratio ember/torch.
Usage: python bench/bench_conv.py
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))


def _interleaved(fns: dict, number: int, repeat: int) -> dict:
    """Alternate the candidates so that machine noise hits them alike; median per call."""
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {k: statistics.median(v) for k, v in samples.items()}


def _step(lib, conv, x, pool: bool):
    def run():
        conv.zero_grad()
        x.grad = None
        y = conv(x)
        if pool:
            y = lib.nn.functional.max_pool2d(lib.nn.functional.relu(y), 2)
        y.sum().backward()
    return run


def main() -> None:
    import torch

    import ember

    rng = np.random.default_rng(0)
    rows = []
    for name, cin, cout, size, k, pad, pool in [
            ("conv2d 1->6 5x5 fwd+bwd, 64x1x32x32", 1, 6, 32, 5, 0, False),
            ("conv 6->16 5x5 + relu + maxpool, 64x6x14x14", 6, 16, 14, 5, 0, True),
            ("conv 32->64 3x3 p1 + relu + maxpool, 64x32x16x16", 32, 64, 16, 3, 1, True)]:
        data = rng.standard_normal((64, cin, size, size)).astype(np.float32)
        conv_t = torch.nn.Conv2d(cin, cout, k, padding=pad)
        conv_e = ember.nn.Conv2d(cin, cout, k, padding=pad)
        with ember.no_grad():
            conv_e.weight.copy_(ember.tensor(conv_t.weight.detach().numpy()))
            conv_e.bias.copy_(ember.tensor(conv_t.bias.detach().numpy()))
        x_t = torch.tensor(data, requires_grad=True)
        x_e = ember.tensor(data, requires_grad=True)
        fns = {"ember": _step(ember, conv_e, x_e, pool), "torch": _step(torch, conv_t, x_t, pool)}
        for fn in fns.values():  # warm up
            fn()
        np.testing.assert_allclose(conv_e.weight.grad.numpy(), conv_t.weight.grad.numpy(),
                                   rtol=1e-3, atol=1e-2)
        rows.append((name, _interleaved(fns, number=10, repeat=7)))
    print(f"{'workload':52s} {'ember ms':>10s} {'torch ms':>10s} {'ember/torch':>12s}")
    for name, r in rows:
        print(f"{name:52s} {r['ember'] * 1e3:10.3f} {r['torch'] * 1e3:10.3f} "
              f"{r['ember'] / r['torch']:12.2f}")


if __name__ == "__main__":
    main()
