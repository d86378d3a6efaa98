"""scaled_dot_product_attention on CUDA: ember's fused kernels (ember.backend.cuda_flash) vs
PyTorch's (cuDNN / flash attention), forward and forward + backward, interleaved in one run.

Usage: python bench/bench_attention.py [repeats]   (needs CuPy, a GPU and a CUDA build of torch)
Prints, per library, the median milliseconds of one call waited for (host and GPU time) and the
mean of ten calls queued back to back (the GPU's time, where it is the slower side), with the
ratios ember / torch.
"""
from __future__ import annotations

import statistics
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

CASES = [  # (batch, heads, length, head dim, causal, dropout)
    (32, 16, 512, 64, False, 0.0),
    (32, 16, 512, 64, False, 0.1),
    (8, 16, 2048, 64, True, 0.0),
    (16, 16, 1024, 128, True, 0.0),
]


def median_ms(fn, sync, repeat: int) -> float:
    """Median milliseconds of ``fn()`` waited for with ``sync()``, after one untimed call (also
    gpu_check's timing)."""
    fn()
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _queued_ms(fn, sync, calls: int = 10) -> float:
    fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    sync()
    return (time.perf_counter() - t0) / calls * 1e3


def _steps(lib, case):
    batch, heads, length, dim, causal, dropout = case
    q, k, v = (lib.randn(batch, heads, length, dim, device="cuda", dtype=lib.bfloat16,
                         requires_grad=True) for _ in range(3))
    grad = lib.randn(batch, heads, length, dim, device="cuda", dtype=lib.bfloat16)
    sdpa = lib.nn.functional.scaled_dot_product_attention

    def forward():
        with lib.no_grad():
            sdpa(q, k, v, is_causal=causal, dropout_p=dropout)

    def both():
        sdpa(q, k, v, is_causal=causal, dropout_p=dropout).backward(grad)
    return forward, both


def main() -> None:
    import torch

    import ember
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(f"{'bf16 (B, H, L, D), causal, dropout':<40}{'pass':<10}{'ember ms':>10}"
          f"{'torch ms':>10}{'ratio':>8}{'queued: ember':>15}{'torch':>8}{'ratio':>8}")
    for case in CASES:
        ember_steps = _steps(ember, case)
        torch_steps = _steps(torch, case)
        for name, fe, ft in zip(("forward", "fwd+bwd"), ember_steps, torch_steps):
            te = median_ms(fe, ember.cuda.synchronize, repeat)
            tt = median_ms(ft, torch.cuda.synchronize, repeat)
            qe = _queued_ms(fe, ember.cuda.synchronize)
            qt = _queued_ms(ft, torch.cuda.synchronize)
            label = f"{case[:4]}, {case[4]}, {case[5]}"
            print(f"{label:<40}{name:<10}{te:10.3f}{tt:10.3f}{te / tt:8.2f}"
                  f"{qe:15.3f}{qt:8.3f}{qe / qt:8.2f}", flush=True)


if __name__ == "__main__":
    main()
