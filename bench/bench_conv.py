"""The convolution stages of bench_nn's LeNet-5 and CIFAR CNN on ember and PyTorch, interleaved.

Each stage is its network's conv + relu + max_pool2d(2) at batch 64, float32, with the shapes
of the training step: the first stage's input needs no gradient (as a network's input), later
ones do. Per stage it prints the forward alone and forward + ``sum().backward()`` (grads for
the weight, the bias and, past the first stage, the input): median ms and ember/torch.
Usage: python bench/bench_conv.py [--repeat 7] [--torch-threads N]  (N=1 beside
OPENBLAS_NUM_THREADS=1 compares one core with one core, which a loaded machine still allows)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

# name, in channels, out channels, input size, kernel, padding, whether the input needs a grad
STAGES = [("LeNet conv1 1->6 5x5, 64x1x32x32", 1, 6, 32, 5, 0, False),
          ("LeNet conv2 6->16 5x5, 64x6x14x14", 6, 16, 14, 5, 0, True),
          ("CIFAR conv1 3->32 3x3 p1, 64x3x32x32", 3, 32, 32, 3, 1, False),
          ("CIFAR conv2 32->64 3x3 p1, 64x32x16x16", 32, 64, 16, 3, 1, True)]


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


def _stage(lib, conv, x):
    F = lib.nn.functional
    return F.max_pool2d(F.relu(conv(x)), 2)


def _forward(lib, conv, x):
    def run():
        with lib.no_grad():
            _stage(lib, conv, x)
    return run


def _step(lib, conv, x):
    def run():
        conv.zero_grad()
        x.grad = None
        _stage(lib, conv, x).sum().backward()
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--torch-threads", type=int, default=0, help="0: PyTorch's default")
    args = parser.parse_args()
    import torch
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    import ember

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    rows = []
    for name, cin, cout, size, k, pad, input_grad in STAGES:
        data = rng.standard_normal((64, cin, size, size)).astype(np.float32)
        conv_t = torch.nn.Conv2d(cin, cout, k, padding=pad)
        conv_e = ember.nn.Conv2d(cin, cout, k, padding=pad)
        with ember.no_grad():
            conv_e.weight.copy_(ember.tensor(conv_t.weight.detach().numpy()))
            conv_e.bias.copy_(ember.tensor(conv_t.bias.detach().numpy()))
        x_t = torch.tensor(data, requires_grad=input_grad)
        x_e = ember.tensor(data, requires_grad=input_grad)
        result = {}
        for phase, make in (("forward", _forward), ("fwd+bwd", _step)):
            fns = {"ember": make(ember, conv_e, x_e), "torch": make(torch, conv_t, x_t)}
            for fn in fns.values():  # warm up
                fn()
            result[phase] = _interleaved(fns, number=10, repeat=args.repeat)
        # a sanity check, not a tolerance test: where two values of a pooling window tie within
        # rounding, the libraries may route that window's gradient to different elements
        want = conv_t.weight.grad.numpy()
        err = np.linalg.norm(conv_e.weight.grad.numpy() - want) / np.linalg.norm(want)
        assert err < 0.05, f"{name}: weight gradients differ by {err:.3g} (relative norm)"
        rows.append((name, result))
    print(f"{'conv + relu + maxpool stage':40s} {'phase':8s} {'ember ms':>9s} {'torch ms':>9s} "
          f"{'ember/torch':>12s}")
    for name, result in rows:
        for phase, r in result.items():
            print(f"{name:40s} {phase:8s} {r['ember'] * 1e3:9.3f} {r['torch'] * 1e3:9.3f} "
                  f"{r['ember'] / r['torch']:12.2f}")


if __name__ == "__main__":
    main()
