"""scaled_dot_product_attention, forward and forward + backward, ember vs PyTorch in one run:
on CUDA, ember's fused kernels (ember.backend.cuda_flash) against cuDNN / flash attention in
bfloat16; on the CPU, ember's one-node attention (ops.attention.HostAttention) against
PyTorch's CPU flash kernel in float32.

Usage: python bench/bench_attention.py [repeats] [device]   (device: cuda, the default, which
needs CuPy, a GPU and a CUDA build of torch; or cpu)
Prints, per library, the median milliseconds of one call waited for (host and GPU time) and,
on CUDA, the mean of ten calls queued back to back (the GPU's time, where it is the slower
side), with the ratios ember / torch.
"""
from __future__ import annotations

import statistics
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

CASES = {  # (batch, heads, length, head dim, causal, dropout)
    "cuda": [(32, 16, 512, 64, False, 0.0), (32, 16, 512, 64, False, 0.1),
             (8, 16, 2048, 64, True, 0.0), (16, 16, 1024, 128, True, 0.0)],
    "cpu": [(2, 8, 512, 64, False, 0.0), (2, 8, 512, 64, True, 0.0),
            (8, 4, 128, 32, True, 0.0)],
}


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


def queued_ms(fn, sync, calls: int = 10, host_only: bool = False) -> float:
    """Milliseconds per call of ``fn`` called ``calls`` times back to back (the GPU queue
    kept full), until the GPU is done, or with ``host_only`` until the last call returns (the
    host's cost of the launches; also gpu_check's)."""
    fn()
    sync()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    sync()
    return ((t1 if host_only else time.perf_counter()) - t0) / calls * 1e3


def _steps(lib, case, device: str):
    batch, heads, length, dim, causal, dropout = case
    dtype = lib.bfloat16 if device == "cuda" else lib.float32
    q, k, v = (lib.randn(batch, heads, length, dim, device=device, dtype=dtype,
                         requires_grad=True) for _ in range(3))
    grad = lib.randn(batch, heads, length, dim, device=device, dtype=dtype)
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
    device = sys.argv[2] if len(sys.argv) > 2 else "cuda"
    gpu = device == "cuda"
    if not gpu:  # one thread each, as OPENBLAS_NUM_THREADS=1 gives ember's NumPy
        torch.set_num_threads(1)
    esync = ember.cuda.synchronize if gpu else (lambda: None)
    tsync = torch.cuda.synchronize if gpu else (lambda: None)
    queued = f"{'queued: ember':>15}{'torch':>8}{'ratio':>8}" if gpu else ""
    print(f"{('bf16' if gpu else 'f32') + ' (B, H, L, D), causal, dropout':<40}{'pass':<10}"
          f"{'ember ms':>10}{'torch ms':>10}{'ratio':>8}{queued}")
    for case in CASES[device]:
        ember_steps = _steps(ember, case, device)
        torch_steps = _steps(torch, case, device)
        for name, fe, ft in zip(("forward", "fwd+bwd"), ember_steps, torch_steps):
            te = median_ms(fe, esync, repeat)
            tt = median_ms(ft, tsync, repeat)
            label = f"{case[:4]}, {case[4]}, {case[5]}"
            row = f"{label:<40}{name:<10}{te:10.3f}{tt:10.3f}{te / tt:8.2f}"
            if gpu:
                qe, qt = queued_ms(fe, esync), queued_ms(ft, tsync)
                row += f"{qe:15.3f}{qt:8.3f}{qe / qt:8.2f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
