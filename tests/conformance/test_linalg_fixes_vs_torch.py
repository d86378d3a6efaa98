"""linalg.qr (differentiable, every mode), linalg.solve's right-hand-side rules and
linalg.norm's vector/matrix dispatch, against torch.linalg."""
import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (3, 5), (2, 4, 3), (2, 3, 4)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_values_and_gradients(shape, mode):
    if mode == "complete" and shape[-2] > shape[-1]:
        pytest.skip("not differentiable (torch raises too)")
    a = RNG.standard_normal(shape)
    out = {}
    for lib in (ember, torch):
        t = lib.tensor(a, requires_grad=True)
        q, r = lib.linalg.qr(t, mode=mode)
        wq = np.random.default_rng(1).standard_normal(tuple(q.shape))
        wr = np.random.default_rng(2).standard_normal(tuple(r.shape))
        ((q * lib.tensor(wq)).sum() + (r * lib.tensor(wr)).sum()).backward()
        out[lib.__name__] = (q.detach().numpy(), r.detach().numpy(), t.grad.numpy())
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


def test_qr_r_mode_and_errors_match_torch():
    a = RNG.standard_normal((5, 3))
    for lib in (ember, torch):
        q, r = lib.linalg.qr(lib.tensor(a), mode="r")
        assert tuple(q.shape) == (0,) and tuple(r.shape) == (3, 3)
        t = lib.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match="mode='r'"):
            lib.linalg.qr(t, mode="r")[1].sum().backward()
        t = lib.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
            sum(x.sum() for x in lib.linalg.qr(t, mode="complete")).backward()


@pytest.mark.parametrize("a_shape,b_shape", [((2, 3, 3), (3, 1)), ((2, 3, 3), (3,)),
                                             ((3, 3), (3,)), ((2, 3, 3), (2, 3)),
                                             ((2, 3, 3), (4, 1, 3, 2)), ((3, 3), (5, 3, 1))])
def test_solve_broadcasting_and_gradients(a_shape, b_shape):
    a = RNG.standard_normal(a_shape) + 3 * np.eye(3)
    b = RNG.standard_normal(b_shape)
    out = {}
    for lib in (ember, torch):
        ta, tb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        x = lib.linalg.solve(ta, tb)
        w = np.random.default_rng(3).standard_normal(tuple(x.shape))
        (x * lib.tensor(w)).sum().backward()
        out[lib.__name__] = (x.detach().numpy(), ta.grad.numpy(), tb.grad.numpy())
    for e, t in zip(out["ember"], out["torch"]):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape,kwargs", [
    ((3, 4), {}), ((2, 3, 4), {}), ((5,), {}), ((3, 4), dict(ord=1, dim=1)),
    ((3, 4), dict(ord="fro")), ((3, 4), dict(ord="nuc")), ((3, 4), dict(ord=2)),
    ((3, 4), dict(ord=-1)), ((3, 4), dict(ord=math.inf)), ((2, 3, 4), dict(dim=(1, 2))),
    ((2, 3, 4), dict(ord=3, dim=-1, keepdim=True)), ((5,), dict(ord=0)),
    ((5,), dict(ord=-math.inf)), ((2, 3, 4), dict(keepdim=True)), ((3, 4), dict(dim=0))])
def test_norm_matches_torch(shape, kwargs):
    a = RNG.standard_normal(shape)
    ours = ember.linalg.norm(ember.tensor(a), **kwargs).numpy()
    theirs = torch.linalg.norm(torch.tensor(a), **kwargs).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_norm_rank_error_matches_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="must be 1D or 2D"):
            lib.linalg.norm(lib.ones(2, 2, 2), ord=2)
