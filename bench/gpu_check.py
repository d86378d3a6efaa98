"""The GPU check for issue 7, to run on a machine with an NVIDIA GPU and CuPy:

    pip install ".[cuda12,test]" && python bench/gpu_check.py

1. every op of the op table on CUDA against the CPU result;
2. a LeNet training step on CUDA against the same step on the CPU;
3. ember CUDA vs PyTorch CUDA timings (matmul, small-op overhead), as ratios ember/torch.
Prints one line per check and exits non-zero if a check fails. Record what it printed, the card
and the date in bench/RESULTS.md.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "ops"))

import ember  # noqa: E402


def check_op_table() -> int:
    """Every row of tests/ops' op table on CUDA against the CPU (the same samples)."""
    from op_table import OPS, call, leaves, samples_of

    def on_cpu(a, requires_grad=False):
        return ember.tensor(a).requires_grad_(requires_grad)

    def on_gpu(a, requires_grad=False):
        return ember.tensor(a).cuda().requires_grad_(requires_grad)

    failures = checked = 0
    for op in OPS:
        for dt in op.dtypes:
            for sample in samples_of(op, dt):
                try:
                    want = leaves(call(op, sample, ember, on_cpu)[0])
                except Exception:
                    continue  # a sample the CPU rejects on purpose (error rows)
                try:
                    got = leaves(call(op, sample, ember, on_gpu)[0])
                except Exception as exc:
                    print(f"FAIL {op.name} {dt}: {type(exc).__name__}: {exc}")
                    failures += 1
                    continue
                checked += 1
                for w, g in zip(want, got):
                    if isinstance(w, ember.Tensor) and not np.allclose(
                            w.detach().numpy(), g.detach().cpu().numpy(), rtol=1e-4,
                            atol=1e-5, equal_nan=True):
                        print(f"FAIL {op.name} {dt}: the CUDA result differs from the CPU")
                        failures += 1
    print(f"op table on CUDA: {checked} samples, {failures} failures")
    return failures


def check_training_step() -> int:
    nn = ember.nn
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 14 * 14, 10))
    x = ember.randn(8, 1, 32, 32)
    y = ember.randint(0, 10, (8,))
    loss_cpu = nn.functional.cross_entropy(model(x), y)
    loss_cpu.backward()
    grads_cpu = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model.cuda()
    loss_gpu = nn.functional.cross_entropy(model(x.cuda()), y.cuda())
    loss_gpu.backward()
    bad = sum(not np.allclose(g, p.grad.cpu().numpy(), rtol=1e-3, atol=1e-4)
              for g, p in zip(grads_cpu, model.parameters()))
    print(f"LeNet step on CUDA: loss {loss_cpu.item():.5f} (cpu) vs {loss_gpu.item():.5f} "
          f"(cuda), {bad} parameter grads differ")
    return bad


def _median(fn, sync, n=20) -> float:
    times = []
    for _ in range(n):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_against_torch() -> None:
    try:
        import torch
    except ImportError:
        print("torch not installed: no CUDA ratios")
        return
    sync_e, sync_t = ember.cuda.synchronize, torch.cuda.synchronize
    a_e, b_e = ember.randn(4096, 4096).cuda(), ember.randn(4096, 4096).cuda()
    a_t, b_t = torch.randn(4096, 4096, device="cuda"), torch.randn(4096, 4096, device="cuda")
    for name, fe, ft in [("matmul 4096 f32", lambda: a_e @ b_e, lambda: a_t @ b_t),
                         ("add 2x2", lambda: a_e[:2, :2] + b_e[:2, :2],
                          lambda: a_t[:2, :2] + b_t[:2, :2])]:
        te, tt = _median(fe, sync_e), _median(ft, sync_t)
        print(f"{name}: ember {te * 1e3:.3f} ms, torch {tt * 1e3:.3f} ms, ratio {te / tt:.2f}")


def main() -> int:
    if not ember.cuda.is_available():
        print("no CUDA device visible to CuPy: nothing to check")
        return 1
    print(f"device: {ember.cuda.get_device_name(0)}")
    failures = check_op_table() + check_training_step()
    bench_against_torch()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
