"""One optimizer step over 100 float32 parameter tensors holding 10M values in all (issue 4),
for SGD with momentum and for Adam: ember vs PyTorch, interleaved in one run.

Prints the median time of one ``step()`` (each timed step follows an untimed one of the same
library; the libraries take turns going first) and the ratio ember/torch.
Usage: python bench/bench_optim.py [repeats] [device]   (device: cpu, the default, or cuda)
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

N_PARAMS = 100
TOTAL = 10_000_000


def _shapes() -> list:
    # Mixed sizes like a real model: a few big matrices and many small vectors.
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 1.8, N_PARAMS)
    sizes = np.maximum(1, (weights / weights.sum() * TOTAL).astype(int))
    sizes[-1] += TOTAL - sizes.sum()
    return [int(s) for s in sizes]


def _step_time(opt, sync) -> float:
    # An untimed step first: PyTorch's OpenMP workers keep spinning on the cores for a while
    # after each parallel region, so a step timed right after the other library's step would
    # share the cores with them (ember lost ~30% to that). Each library gets the same treatment.
    opt.step()
    sync()
    t0 = time.perf_counter()
    opt.step()
    sync()
    return time.perf_counter() - t0


def main() -> None:
    import torch

    import ember
    import ember.optim

    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    esync = ember.cuda.synchronize if device == "cuda" else (lambda: None)
    tsync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in _shapes()]
    grads = [rng.standard_normal(n).astype(np.float32) for n in _shapes()]
    print(f"{N_PARAMS} float32 tensors on {device}, {sum(a.size for a in arrays):,} values; "
          f"torch threads: {torch.get_num_threads()}")
    print(f"{'workload':<22}{'ember ms':>10}{'torch ms':>10}{'ratio':>8}")
    for name, kwargs in (("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=1e-3))):
        ep = [ember.tensor(a, device=device, requires_grad=True) for a in arrays]
        tp = [torch.tensor(a, device=device, requires_grad=True) for a in arrays]
        for p, g in zip(ep, grads):
            p.grad = ember.tensor(g, device=device)
        for p, g in zip(tp, grads):
            p.grad = torch.tensor(g, device=device)
        eopt = getattr(ember.optim, name)(ep, **kwargs)
        topt = getattr(torch.optim, name)(tp, **kwargs)
        eopt.step()  # the first step creates the state: time the steady state
        topt.step()
        samples = {"ember": [], "torch": []}
        for i in range(repeat):  # each library goes first in every other round: no order bias
            order = (("ember", eopt, esync), ("torch", topt, tsync))
            for lib, opt, sync in order if i % 2 == 0 else order[::-1]:
                samples[lib].append(_step_time(opt, sync))
        e = statistics.median(samples["ember"]) * 1e3
        t = statistics.median(samples["torch"]) * 1e3
        print(f"{name + ' step':<22}{e:>10.2f}{t:>10.2f}{e / t:>8.2f}")


if __name__ == "__main__":
    main()
