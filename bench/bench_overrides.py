"""What the __torch_function__ protocol costs ember: the same workloads with the dispatch
wrappers not installed (ember's default until a tensor-like type exists) and installed (after a
Tensor subclass is defined), each against PyTorch in the same run.

Usage: python bench/bench_overrides.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def add_time(lib) -> float:
    a, b = lib.ones(2, 2), lib.ones(2, 2)
    return min(timeit.repeat(lambda: a + b, number=20_000, repeat=5)) / 20_000


def mlp_time(lib) -> float:
    from bench_nn import mlp, step_time
    return step_time(lib, mlp, 20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import torch

    import ember
    import ember.overrides
    workloads = [("a + b, 2x2 (us)", add_time, 1e6), ("MLP training step (ms)", mlp_time, 1e3)]
    print(f"{'workload':<26}{'dispatch':>10}{'ember':>10}{'torch':>10}{'ratio':>8}")
    for installed in (False, True):
        if installed:
            class Tagged(ember.Tensor):  # defining a subclass installs the wrappers
                pass
        assert ember.overrides._installed == installed
        for name, run, scale in workloads:
            e = statistics.median(run(ember) for _ in range(args.repeat))
            t = statistics.median(run(torch) for _ in range(args.repeat))
            print(f"{name:<26}{'on' if installed else 'off':>10}{e * scale:10.2f}"
                  f"{t * scale:10.2f}{e / t:8.2f}", flush=True)


if __name__ == "__main__":
    main()
