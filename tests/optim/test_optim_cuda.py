"""The fused optimizer updates on a GPU (one CuPy kernel per parameter) against the same
optimizer on the CPU: float64 trajectories agree to rounding (nvcc contracts a * b + c into
FMAs, so the last bits may differ)."""
import numpy as np
import pytest

import ember
import ember.optim as optim

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]

CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, betas=(0.3, 0.9), maximize=True)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[n for n, _ in CASES])
def test_cuda_steps_match_cpu_steps(name, kwargs, dtype):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((33, 7)).astype(dtype)
    grads = [rng.standard_normal((33, 7)).astype(dtype) for _ in range(10)]
    params = {d: ember.tensor(w0, device=d, requires_grad=True) for d in ("cpu", "cuda")}
    opts = {d: getattr(optim, name)([p], **kwargs) for d, p in params.items()}
    for g in grads:
        for d, p in params.items():
            p.grad = ember.tensor(g, device=d)
            opts[d].step()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(params["cuda"].detach().cpu().numpy(),
                               params["cpu"].detach().numpy(), rtol=tol, atol=tol)
