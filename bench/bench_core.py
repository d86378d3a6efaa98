"""Eager overhead of ember vs PyTorch, measured interleaved in one run.

Workloads (issue 2): a 2x2 ``a + b``; a small autograd step
``((x * 2 + 1).relu()).sum().backward()`` on 10x10; a 1024x1024 float32 matmul (against NumPy's
own ``@`` too); an STFT of 1 s at 16 kHz; and ``import ember`` vs ``import torch`` in fresh
interpreters. Also an MLP-like autograd step (32x64 batch, two linear layers) to check that
autograd gains carry over, and the host cost of one recorded op on 4x4 tensors that require grad
(``a + b``, ``a * b``, ``x @ w``, ``F.linear``, ``relu``, ``sum``), a tiny 3-layer MLP's forward
and backward, and a tiny TransformerEncoderLayer training step (d_model 32, 4 heads, seq 8,
batch 2, Adam), where the array work is negligible and ember's Python per op is what is timed.
Prints medians and the ratio ember/torch. Usage: python bench/bench_core.py
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))


def _median_time(fn, number: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def _interleaved(fns: dict, number: int, repeat: int) -> dict:
    """Alternate the candidates so that machine noise hits them alike."""
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            samples[name].append(_median_time(fn, number, 1))
    return {k: statistics.median(v) for k, v in samples.items()}


def _import_time(module: str, runs: int = 5) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    out = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout) for _ in range(runs)]
    return statistics.median(out)


def _tiny_cases(lib) -> dict:
    """Per-op host cost: each case records a node on 4x4 tensors (the array work is tiny)."""
    from bench.bench_nn import transformer

    F = lib.nn.functional
    lib.manual_seed(0)
    a, b, w = (lib.randn(4, 4, requires_grad=True) for _ in range(3))
    bias = lib.randn(4, requires_grad=True)
    nn = lib.nn
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    x_mlp = lib.randn(4, 4)
    model, x, y, _ = transformer(lib, 32, 4, 8, 2)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def transformer_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return {"grad a + b 4x4": (lambda: a + b, 20000),
            "grad a * b 4x4": (lambda: a * b, 20000),
            "grad x @ w 4x4": (lambda: a @ w, 20000),
            "grad F.linear 4x4": (lambda: F.linear(a, w, bias), 20000),
            "grad relu 4x4": (lambda: F.relu(a), 20000),
            "grad sum 4x4": (lambda: a.sum(), 20000),
            "tiny MLP fwd+bwd": (lambda: mlp(x_mlp).sum().backward(), 1000),
            "tiny Transformer step": (transformer_step, 100)}


def _tiny_rows(ember, torch) -> list:
    cases_e, cases_t = _tiny_cases(ember), _tiny_cases(torch)
    rows = []
    for name, (fn_e, number) in cases_e.items():
        r = _interleaved({"ember": fn_e, "torch": cases_t[name][0]}, number=number, repeat=7)
        rows.append((name, r))
    return rows


def main() -> None:
    import torch

    import ember

    rows = []
    a_e, b_e = ember.ones(2, 2), ember.ones(2, 2)
    a_t, b_t = torch.ones(2, 2), torch.ones(2, 2)
    a_n, b_n = np.ones((2, 2), np.float32), np.ones((2, 2), np.float32)
    r = _interleaved({"ember": lambda: a_e + b_e, "torch": lambda: a_t + b_t,
                      "numpy": lambda: a_n + b_n}, number=20000, repeat=7)
    rows.append(("add 2x2", r))

    x_e = ember.randn(10, 10, requires_grad=True)
    x_t = torch.randn(10, 10, requires_grad=True)
    r = _interleaved({"ember": lambda: ((x_e * 2 + 1).relu()).sum().backward(),
                      "torch": lambda: ((x_t * 2 + 1).relu()).sum().backward()},
                     number=2000, repeat=7)
    rows.append(("autograd step 10x10", r))

    # A slightly bigger step, MLP-like: matmuls, broadcast bias adds, relu, mean.
    def mlp_step(x, w1, b1, w2, b2):
        ((x @ w1 + b1).relu() @ w2 + b2).mean().backward()

    params_e = [ember.randn(*s, requires_grad=True) for s in ((64, 64), (64,), (64, 10), (10,))]
    params_t = [torch.randn(*s, requires_grad=True) for s in ((64, 64), (64,), (64, 10), (10,))]
    xb_e, xb_t = ember.randn(32, 64), torch.randn(32, 64)
    r = _interleaved({"ember": lambda: mlp_step(xb_e, *params_e),
                      "torch": lambda: mlp_step(xb_t, *params_t)},
                     number=1000, repeat=7)
    rows.append(("autograd MLP 32x64x10", r))

    rows += _tiny_rows(ember, torch)

    m_e, n_e = ember.randn(1024, 1024), ember.randn(1024, 1024)
    m_t, n_t = torch.randn(1024, 1024), torch.randn(1024, 1024)
    m_n, n_n = m_e.numpy(), n_e.numpy()
    r = _interleaved({"ember": lambda: m_e @ n_e, "torch": lambda: m_t @ n_t,
                      "numpy": lambda: m_n @ n_n}, number=5, repeat=7)
    rows.append(("matmul 1024x1024 f32", r))

    # float32 exp: ember rounds the float64 exponential once (PyTorch's values; NumPy's float32
    # exp is an ulp off for 40% of inputs)
    e_e = ember.randn(1_000_000)
    e_t, e_n = torch.from_numpy(e_e.numpy().copy()), e_e.numpy().copy()
    r = _interleaved({"ember": lambda: ember.exp(e_e), "torch": lambda: torch.exp(e_t),
                      "numpy": lambda: np.exp(e_n)}, number=20, repeat=7)
    rows.append(("exp 1M f32", r))

    # spectrogram front end (scipy.fft under ember): 1 s at 16 kHz, Whisper's n_fft and hop
    sig_e, sig_t = ember.randn(16000), torch.randn(16000)
    win_e, win_t = ember.hann_window(400), torch.hann_window(400)
    r = _interleaved({"ember": lambda: ember.stft(sig_e, 400, 160, window=win_e,
                                                  return_complex=True),
                      "torch": lambda: torch.stft(sig_t, 400, 160, window=win_t,
                                                  return_complex=True)}, number=20, repeat=7)
    rows.append(("stft 16k, 400/160", r))

    rows.append(("import", {"ember": _import_time("ember"), "torch": _import_time("torch")}))

    print(f"{'workload':<24}{'ember':>12}{'torch':>12}{'numpy':>12}{'ember/torch':>13}")
    for name, r in rows:
        numpy_col = f"{r['numpy'] * 1e6:10.2f}us" if "numpy" in r else " " * 12
        print(f"{name:<24}{r['ember'] * 1e6:10.2f}us{r['torch'] * 1e6:10.2f}us{numpy_col}"
              f"{r['ember'] / r['torch']:13.2f}")
    mm = dict(rows)["matmul 1024x1024 f32"]
    print(f"matmul: ember/numpy = {mm['ember'] / mm['numpy']:.3f}, "
          f"{2 * 1024 ** 3 / mm['ember'] / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
