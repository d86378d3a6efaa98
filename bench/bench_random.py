"""Seeded random draws on the CPU, which give PyTorch's numbers: ember vs PyTorch, interleaved.

Workloads: ``rand``/``randn``/``randint`` of 4M values, ``randperm`` of 60,000 (an MNIST
epoch's shuffle) and of 1M, dropout's forward on 4M values, a 2048x2048 ``nn.Linear``'s
initialisation, and 10,000 gamma and Poisson draws (rejection loops that ember runs element
by element in Python). Prints the median time of each (the libraries take turns going first)
and the ratio ember/torch.
Usage: python bench/bench_random.py [repeats]
"""
from __future__ import annotations

import statistics
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

N = 4 * 1024 * 1024


def _workloads(lib):
    x = lib.ones(N)
    alpha = lib.linspace(0.1, 10.0, 10_000)  # both of gamma's branches (below and above 1)
    rates = lib.linspace(0.0, 20.0, 10_000)  # both of Poisson's (below and above 10)
    return {
        "rand 4M": lambda: lib.rand(N),
        "randn 4M": lambda: lib.randn(N),
        "randint 4M": lambda: lib.randint(0, 1000, (N,)),
        "randperm 60k": lambda: lib.randperm(60_000),
        "randperm 1M": lambda: lib.randperm(1_000_000),
        "dropout 4M": lambda: lib.nn.functional.dropout(x, 0.1),
        "Linear(2048, 2048)": lambda: lib.nn.Linear(2048, 2048),
        "gamma 10k": lambda: lib._standard_gamma(alpha),
        "poisson 10k": lambda: lib.poisson(rates),
    }


def _time(fn) -> float:
    fn()  # untimed first call of each turn, as in the other benchmarks
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    import torch

    import ember

    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ember.manual_seed(0)
    torch.manual_seed(0)
    mine, theirs = _workloads(ember), _workloads(torch)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'workload':<22}{'ember ms':>10}{'torch ms':>10}{'ratio':>8}")
    for name in mine:
        times = {"ember": [], "torch": []}
        for r in range(repeat):
            order = (("ember", mine), ("torch", theirs))
            for lib, table in order if r % 2 == 0 else order[::-1]:
                times[lib].append(_time(table[name]))
        e, t = statistics.median(times["ember"]), statistics.median(times["torch"])
        print(f"{name:<22}{e * 1e3:>10.2f}{t * 1e3:>10.2f}{e / t:>8.2f}")


if __name__ == "__main__":
    main()
