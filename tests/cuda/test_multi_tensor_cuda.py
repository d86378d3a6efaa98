"""Optimizer steps on a GPU through the multi-tensor kernels (ember.backend.multi_tensor):
bit for bit the per-parameter kernels' results, and the CPU's to rounding (nvcc contracts
a * b + c into FMAs), over many tensors of mixed sizes in one launch."""
import numpy as np
import pytest

import ember
import ember.optim as optim
from ember.backend import multi_tensor

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]

CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, maximize=True)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
]
SHAPES = [(33, 7), (0,), (1,), (), (3 * multi_tensor.CHUNK + 5,), (4, 0), (17,), (2, 3, 4)]
TOL = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 1e-2}


def _train(name, kwargs, dtype, device, shapes=SHAPES, transposed=False):
    """Params and optimizer after 4 steps; ``transposed``: the first param is a
    non-contiguous view."""
    rng = np.random.default_rng(0)
    params = [ember.tensor(np.asarray(rng.standard_normal(s), dtype), device=device,
                           requires_grad=True) for s in shapes]
    if transposed:
        params[0] = params[0].detach().t().requires_grad_()
    opt = getattr(optim, name)(params, **kwargs)
    for _ in range(4):
        for p in params:
            p.grad = ember.tensor(np.asarray(rng.standard_normal(p.shape), dtype),
                                  device=device)
        opt.step()
    return params, opt


def _arrays(params, opt) -> list:
    """The params and their state arrays, as NumPy arrays."""
    out = [p.detach().cpu().numpy() for p in params]
    for p in params:
        for key, value in sorted(opt.state[p].items()):
            if isinstance(value, ember.Tensor) and key != "step":
                out.append(value.detach().cpu().numpy())
    return out


@pytest.fixture
def launches(monkeypatch):
    """The number of kernels each step's device updates became."""
    counts = []
    prepare = multi_tensor.prepare_updates

    def counting(updates):
        kernels = prepare(updates)
        counts.append(len(kernels))
        return kernels

    monkeypatch.setattr(multi_tensor, "prepare_updates", counting)
    return counts


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[n for n, _ in CASES])
def test_multi_tensor_steps_equal_per_tensor_and_cpu_steps(name, kwargs, dtype, launches):
    got = _arrays(*_train(name, kwargs, dtype, "cuda"))
    assert launches == [1] * 4  # every step: one kernel for all parameters
    want = _arrays(*_train(name, dict(kwargs, foreach=False), dtype, "cuda"))  # per tensor
    cpu = _arrays(*_train(name, kwargs, dtype, "cpu"))
    assert len(got) == len(want) == len(cpu)
    for g, w, c in zip(got, want, cpu):
        np.testing.assert_array_equal(g, w, strict=True)
        np.testing.assert_allclose(g, c, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("name,kwargs", [CASES[1], CASES[3]], ids=["SGD", "Adam"])
def test_float16_parameters(name, kwargs, launches):
    got = _arrays(*_train(name, kwargs, np.float16, "cuda"))
    assert launches == [1] * 4
    want = _arrays(*_train(name, dict(kwargs, foreach=False), np.float16, "cuda"))
    cpu = _arrays(*_train(name, kwargs, np.float16, "cpu"))
    for g, w, c in zip(got, want, cpu):
        np.testing.assert_array_equal(g, w, strict=True)
        np.testing.assert_allclose(g.astype(np.float64), c.astype(np.float64), rtol=1e-2,
                                   atol=1e-2)


@pytest.mark.parametrize("name,kwargs", [CASES[1], CASES[3]], ids=["SGD", "Adam"])
def test_a_non_contiguous_parameter_takes_the_per_tensor_kernel(name, kwargs, launches):
    shapes = [(7, 5), (6,), (3, 2)]
    got = _arrays(*_train(name, kwargs, np.float32, "cuda", shapes, transposed=True))
    assert launches == [2] * 4  # the transposed parameter alone, the others together
    cpu = _arrays(*_train(name, kwargs, np.float32, "cpu", shapes, transposed=True))
    for g, c in zip(got, cpu):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-5)


def test_mixed_dtypes_and_groups_launch_once_per_kind(launches):
    rng = np.random.default_rng(1)
    start = [np.asarray(rng.standard_normal(s), dtype)
             for s, dtype in [((5,), np.float32), ((6,), np.float64), ((7,), np.float32),
                              ((8,), np.float64), ((3,), np.float32)]]
    params = {d: [ember.tensor(a, device=d, requires_grad=True) for a in start]
              for d in ("cuda", "cpu")}
    opts = {d: optim.SGD([{"params": ps[:4]}, {"params": ps[4:], "lr": 0.2}], lr=0.1,
                         momentum=0.9) for d, ps in params.items()}
    for _ in range(3):
        grads = [np.asarray(rng.standard_normal(p.shape), p.detach().numpy().dtype)
                 for p in params["cpu"]]
        for d, ps in params.items():
            for p, g in zip(ps, grads):
                p.grad = ember.tensor(g, device=d)
            opts[d].step()
    assert launches == [3] * 3  # float32, float64, and the lone parameter of lr 0.2
    for g, c in zip(params["cuda"], params["cpu"]):
        np.testing.assert_allclose(g.detach().cpu().numpy(), c.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_a_parameter_listed_twice_is_updated_twice():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    v = rng.standard_normal(9).astype(np.float32)
    results = {}
    for d in ("cuda", "cpu"):
        p, q = (ember.tensor(a, device=d, requires_grad=True) for a in (w, v))
        with pytest.warns(UserWarning, match="duplicate"):
            opt = optim.SGD([p, q, p], lr=0.1, momentum=0.9)
        for _ in range(3):
            p.grad = ember.ones_like(p)
            q.grad = ember.ones_like(q)
            opt.step()
        results[d] = (p.detach().cpu().numpy(), q.detach().cpu().numpy())
    for g, c in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
