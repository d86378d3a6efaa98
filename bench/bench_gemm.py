"""The matrix products of issue 3's training steps, on NumPy's BLAS and on PyTorch's, in one run.

ember's CPU GEMM is NumPy's BLAS (OpenBLAS in NumPy's wheels); PyTorch's CPU build uses MKL.
For each workload of bench_nn.py this times the products one training step makes (forward and
backward, as ember lowers them: convolutions as im2col GEMMs) with ``numpy.matmul`` and with
``torch.matmul`` on the same shapes, and prints the sums beside PyTorch's whole step time from
bench_nn (pass ``--steps`` to measure it here too). A workload whose NumPy GEMMs alone take longer
than PyTorch's whole step cannot reach a ratio of 1 by work outside the GEMMs.
Usage: python bench/bench_gemm.py [--repeat 5] [--steps]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _linear(tokens: int, fan_in: int, fan_out: int, input_grad: bool = True) -> list:
    """A Linear layer's products: forward, weight gradient, input gradient (batch, count)."""
    shapes = [(1, tokens, fan_in, fan_out, 1), (1, fan_out, tokens, fan_in, 1)]
    if input_grad:
        shapes.append((1, tokens, fan_out, fan_in, 1))
    return shapes


def _conv(n: int, c: int, o: int, k: int, length: int, input_grad: bool = True) -> list:
    """A k x k convolution's products over ``length`` output positions per sample: per-sample
    GEMMs for few channels, one GEMM over the batch for many (ember's two column layouts)."""
    ck = c * k * k
    if c < 24:  # channels-first columns: per-sample (O, C k k) @ (C k k, L)
        shapes = [(n, o, ck, length, 1), (n, ck, length, o, 1)]
        if input_grad:
            shapes.append((n, ck, o, length, 1))
        return shapes
    rows = n * length  # channels-last columns: (N L, C k k) @ (C k k, O)
    shapes = [(1, rows, ck, o, 1), (1, ck, rows, o, 1)]
    if input_grad:
        shapes.append((1, rows, o, c, k * k))  # one GEMM per kernel offset
    return shapes


def _workloads() -> dict:
    tokens = 16 * 128
    transformer = (_linear(tokens, 256, 768) + _linear(tokens, 256, 256)
                   + _linear(tokens, 256, 2048) + _linear(tokens, 2048, 256)
                   + _linear(16, 256, 10)
                   # attention: Q K^T and its output's gradient; P V and three gradients
                   + [(64, 128, 64, 128, 2), (64, 128, 128, 64, 4)])
    lstm = (_linear(700, 256, 10000) + _linear(700, 256, 1024) * 2
            + [(1, 20, 256, 1024, 35)] * 2  # the recurrent products, one per step
            + [(1, 20, 1024, 256, 35)] * 2  # their gradients, one per step
            + [(1, 1024, 700, 256, 1)] * 2)  # the recurrent weights' gradients
    return {
        "MLP 784-256-256-10, batch 128": (_linear(128, 784, 256, False) + _linear(128, 256, 256)
                                          + _linear(128, 256, 10)),
        "LeNet-5 32x32, batch 64": (_conv(64, 1, 6, 5, 784, False) + _conv(64, 6, 16, 5, 100)
                                    + _linear(64, 400, 120) + _linear(64, 120, 84)
                                    + _linear(64, 84, 10)),
        "CIFAR CNN, batch 64": (_conv(64, 3, 32, 3, 1024, False) + _conv(64, 32, 64, 3, 256)
                                + _linear(64, 4096, 256) + _linear(64, 256, 10)),
        "2-layer LSTM 256, seq 35, batch 20": lstm,
        "TransformerEncoderLayer 256/4, seq 128, batch 16, Adam": transformer,
    }


def _time(fn, runs: int = 5) -> float:
    """Median seconds of ``runs`` calls after a warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gemm_time(lib, shapes: list) -> float:
    """Seconds for the products ``(batch, m, k, n, count)`` in ``lib`` (numpy or torch)."""
    rng = np.random.default_rng(0)
    operands = []
    for batch, m, k, n, count in shapes:
        a = rng.standard_normal((batch, m, k)).astype(np.float32)
        b = rng.standard_normal((batch, k, n)).astype(np.float32)
        if lib is not np:
            a, b = lib.from_numpy(a), lib.from_numpy(b)
        operands.append((a.squeeze(0) if batch == 1 else a, b.squeeze(0) if batch == 1 else b,
                         count))

    def run():
        for a, b, count in operands:
            for _ in range(count):
                lib.matmul(a, b)
    return _time(run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", action="store_true",
                        help="also time PyTorch's whole training step (bench_nn)")
    args = parser.parse_args()
    import bench_nn
    import torch
    builders = {name: build for name, build, _ in bench_nn.WORKLOADS}
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'workload':<56}{'numpy ms':>10}{'torch ms':>10}{'ratio':>8}"
          + (f"{'torch step':>12}" if args.steps else ""))
    for name, shapes in _workloads().items():
        times = {"numpy": [], "torch": []}
        for _ in range(args.repeat):  # interleaved; each after the other's pool fell asleep
            for label, lib in (("numpy", np), ("torch", torch)):
                time.sleep(0.25)
                times[label].append(gemm_time(lib, shapes))
        e, t = statistics.median(times["numpy"]), statistics.median(times["torch"])
        line = f"{name:<56}{e * 1e3:10.2f}{t * 1e3:10.2f}{e / t:8.2f}"
        if args.steps:
            time.sleep(0.25)
            line += f"{bench_nn.step_time(torch, builders[name], 4) * 1e3:12.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
