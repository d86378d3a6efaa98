"""Tensor methods of ember/_tensor_methods.py: in-place forms, predicates, statistics, linear
algebra, against NumPy and the out-of-place functions."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck

rng = np.random.default_rng(3)


def t(a, grad=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


UNARY_INPLACE = ["absolute", "acos", "arccos", "asin", "arcsin", "atan", "arctan", "atanh",
                 "arctanh", "asinh", "arcsinh", "cos", "cosh", "deg2rad", "digamma", "erf",
                 "erfc", "erfinv", "exp2", "expm1", "fix", "frac", "i0", "lgamma", "log10",
                 "log1p", "log2", "negative", "rad2deg", "rsqrt", "sgn", "sign", "sin", "sinc",
                 "sinh", "square", "tan", "trunc"]


@pytest.mark.parametrize("name", UNARY_INPLACE)
def test_unary_inplace_methods(name):
    x = rng.random(4) * 0.8 + 0.1
    a = t(x)
    assert getattr(a, name + "_")() is a
    np.testing.assert_allclose(a.numpy(), getattr(ember, name)(t(x)).numpy())


def test_acosh_family():
    x = t([1.5, 2.0])
    np.testing.assert_allclose(x.arccosh().numpy(), np.arccosh([1.5, 2.0]))
    np.testing.assert_allclose(x.clone().acosh_().numpy(), np.arccosh([1.5, 2.0]))
    np.testing.assert_allclose(x.clone().arccosh_().numpy(), np.arccosh([1.5, 2.0]))
    np.testing.assert_allclose(t([0.5]).arcsinh().numpy(), np.arcsinh([0.5]))


@pytest.mark.parametrize("name,other", [
    ("atan2", 0.7), ("arctan2", 0.7), ("copysign", -1.0), ("float_power", 2.0),
    ("floor_divide", 0.3), ("fmod", 0.3), ("hypot", 0.5), ("ldexp", 2), ("nextafter", 1.0),
    ("remainder", 0.3), ("true_divide", 4.0), ("multiply", 3.0), ("xlogy", 2.0),
    ("eq", 0.5), ("ne", 0.5), ("lt", 0.5), ("le", 0.5), ("gt", 0.5), ("ge", 0.5),
    ("less", 0.5), ("less_equal", 0.5), ("greater", 0.5), ("greater_equal", 0.5),
    ("not_equal", 0.5), ("logical_and", 1.0), ("logical_or", 0.0), ("logical_xor", 1.0)])
def test_binary_inplace_methods(name, other):
    x = np.array([0.25, 0.5, 0.75])
    o = ember.tensor(other) if name in ("ldexp",) else other
    a = t(x)
    assert getattr(a, name + "_")(o) is a
    expected = getattr(ember, name)(t(x), o)
    np.testing.assert_allclose(a.numpy(), expected.numpy().astype(np.float64))


def test_integer_inplace_methods():
    a = ember.tensor([4, 6])
    a.gcd_(ember.tensor([6, 4]))
    np.testing.assert_array_equal(a.numpy(), [2, 2])
    a.lcm_(ember.tensor([3, 5]))
    np.testing.assert_array_equal(a.numpy(), [6, 10])
    b = ember.tensor([5, 12])
    b.bitwise_right_shift_(1)
    np.testing.assert_array_equal(b.numpy(), [2, 6])
    b.bitwise_not_()
    np.testing.assert_array_equal(b.numpy(), [-3, -7])
    g = ember.tensor([1.0, 2.0])
    expected = ember.igamma(g, ember.tensor([0.5, 3.0]))
    np.testing.assert_allclose(g.igamma(ember.tensor([0.5, 3.0])).numpy(), expected.numpy())
    g.igammac_(ember.tensor([0.5, 3.0]))
    np.testing.assert_allclose(g.numpy(), 1 - expected.numpy(), rtol=1e-6)
    h = ember.tensor([-1.0, 0.0, 1.0])
    h.heaviside_(ember.tensor([0.5, 0.5, 0.5]))
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.5, 1.0])


def test_other_inplace_methods():
    a = t([1.0, -2.0, 3.0])
    a.clamp_min_(0.0).clamp_max_(2.0)
    np.testing.assert_array_equal(a.numpy(), [1.0, 0.0, 2.0])
    a.subtract_(t([1.0, 1.0, 1.0]), alpha=2).divide_(2.0)
    np.testing.assert_array_equal(a.numpy(), [-0.5, -1.0, 0.0])
    c = t([1.0, 2.0, 3.0])
    c.cumprod_(0)
    np.testing.assert_array_equal(c.numpy(), [1.0, 2.0, 6.0])
    p = t([0.25, 0.5])
    p.logit_()
    np.testing.assert_allclose(p.numpy(), np.log([1 / 3, 1.0]))
    g = t([1.5])
    g.polygamma_(1)
    np.testing.assert_allclose(g.numpy(), ember.polygamma(1, t([1.5])).numpy())
    m = t([2.5])
    m.mvlgamma_(2)
    np.testing.assert_allclose(m.numpy(), ember.mvlgamma(t([2.5]), 2).numpy())
    n = t([np.nan, np.inf])
    n.nan_to_num_(0.0, 1.0)
    np.testing.assert_array_equal(n.numpy(), [0.0, 1.0])
    r = t(rng.standard_normal((3, 4)) * 3)
    expected = ember.renorm(r.clone(), 2, 0, 1.0)
    r.renorm_(2, 0, 1.0)
    np.testing.assert_allclose(r.numpy(), expected.numpy())
    s = ember.zeros(2, 3)
    s.swapaxes_(0, 1)
    assert s.shape == (3, 2)
    s.swapdims_(0, 1)
    assert s.shape == (2, 3)
    d = ember.zeros(3, 3)
    d.fill_diagonal_(4.0)
    np.testing.assert_array_equal(d.numpy(), 4 * np.eye(3))
    q = ember.zeros(2, 2)
    q.put_(ember.tensor([3]), ember.tensor([1.0]))
    assert q[1, 1].item() == 1.0
    assert ember.zeros(4).put(ember.tensor([0]), ember.tensor([2.0]))[0].item() == 2.0


def test_matrix_inplace_methods():
    base = rng.standard_normal((3, 3))
    b1, b2 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 3))
    a = t(base)
    a.addbmm_(t(b1), t(b2))
    np.testing.assert_allclose(a.numpy(), base + np.einsum("bij,bjk->ik", b1, b2))
    v = t(np.zeros(3))
    v.addmv_(t(base), t([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(v.numpy(), base[:, 0])
    o = t(np.zeros((2, 2)))
    o.addr_(t([1.0, 2.0]), t([3.0, 4.0]))
    np.testing.assert_allclose(o.numpy(), np.outer([1, 2], [3, 4]))
    bb = t(np.zeros((2, 3, 3)))
    bb.baddbmm_(t(b1), t(b2))
    np.testing.assert_allclose(bb.numpy(), b1 @ b2)


def test_inplace_method_gradient():
    x = t([0.3, 0.6], True)
    y = x * 1
    y.sin_()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.3, 0.6]))


def test_predicates_and_properties():
    a = ember.zeros(2, 3)
    assert a.itemsize == 4 and a.nbytes == 24
    assert ember.zeros(3, dtype=ember.float64).t().nbytes == 24
    assert a.is_same_size(ember.ones(2, 3)) and not a.is_conj() and not a.is_neg()
    assert not a.is_inference()
    assert ember.tensor([2]).is_nonzero()
    assert not a.is_mps and not a.is_xpu and not a.is_nested and not a.is_mkldnn
    assert a.dim_order() == (0, 1) and a.t().dim_order() == (1, 0)
    n = a.new(4, 2)
    assert n.shape == (4, 2) and n.dtype is a.dtype
    assert a.new([1, 2]).dtype is ember.float32
    s = a.new_empty_strided((2, 2), (1, 2))
    assert s.stride() == (1, 2)
    assert (a * 2).output_nr == 0


def test_out_of_place_methods():
    x = t(rng.standard_normal(6))
    y = t(rng.standard_normal(6))
    for name in ["sinc", "deg2rad", "rad2deg", "i0", "positive"]:
        np.testing.assert_allclose(getattr(x, name)().numpy(), getattr(ember, name)(x).numpy())
    for name in ["copysign", "logaddexp2", "nextafter", "ldexp"]:
        o = ember.tensor([1, 2, 3, 1, 2, 3]) if name == "ldexp" else y
        np.testing.assert_allclose(getattr(x, name)(o).numpy(), getattr(ember, name)(x, o)
                                   .numpy())
    assert x.frexp().exponent.dtype is ember.int32
    assert ember.tensor([4]).gcd(ember.tensor([6])).item() == 2
    assert ember.tensor([4]).lcm(ember.tensor([6])).item() == 12
    np.testing.assert_allclose(x.dist(y).item(), np.linalg.norm(x.numpy() - y.numpy()))
    m = t(rng.standard_normal((3, 5)))
    np.testing.assert_allclose(m.cov().numpy(), np.cov(m.numpy()))
    np.testing.assert_allclose(m.corrcoef().numpy(), np.corrcoef(m.numpy()))
    np.testing.assert_allclose(m.quantile(0.5, dim=1).numpy(), np.median(m.numpy(), 1))
    np.testing.assert_allclose(m.nanquantile(0.5).numpy(), np.median(m.numpy()))
    np.testing.assert_allclose(m.renorm(2, 0, 1.0).numpy(), ember.renorm(m, 2, 0, 1.0).numpy())
    hist = m.histogram(3).hist
    assert hist.sum().item() == 15
    assert [p.shape[1] for p in m.split_with_sizes([2, 3], 1)] == [2, 3]
    assert len(m.unsafe_chunk(3)) == 3 and len(m.unsafe_split(2)) == 2
    assert len(m.unsafe_split_with_sizes([1, 2])) == 2
    assert len(m.hsplit(5)) == 5 and len(m.vsplit(3)) == 3
    assert len(ember.zeros(2, 2, 4).dsplit(2)) == 2
    assert m.slice_scatter(ember.zeros(3, 2, dtype=ember.float64), 1, 0, 2).shape == (3, 5)
    assert m.select_scatter(ember.zeros(5, dtype=ember.float64), 0, 0)[0].sum().item() == 0
    assert m.diagonal_scatter(ember.zeros(3, dtype=ember.float64)).diagonal().abs().sum() == 0
    np.testing.assert_array_equal(m.msort().numpy(), np.sort(m.numpy(), 0))
    np.testing.assert_array_equal(ember.tensor([1, 1, 2]).unique_consecutive().numpy(), [1, 2])
    assert ember.tensor([1.0, np.nan, 3.0]).nanmedian().item() == 1.0
    assert ember.tensor([1.0, 2.0]).vdot(ember.tensor([3.0, 4.0])).item() == 11.0
    assert ember.tensor([1.0]).isreal().all()
    np.testing.assert_allclose(t([1.5]).polygamma(1).numpy(), ember.polygamma(1, t([1.5])))
    np.testing.assert_allclose(t([2.5]).mvlgamma(2).numpy(), ember.mvlgamma(t([2.5]), 2))
    np.testing.assert_allclose(x.hardshrink(0.5).numpy(),
                               np.where(np.abs(x.numpy()) > 0.5, x.numpy(), 0))
    assert x.reshape(1, 6).prelu(ember.tensor([0.25], dtype=ember.float64)).shape == (1, 6)


def test_linalg_methods():
    a = rng.standard_normal((3, 3))
    spd = a @ a.T + 3 * np.eye(3)
    A = t(spd)
    low = A.cholesky()
    np.testing.assert_allclose(low.numpy(), np.linalg.cholesky(spd))
    np.testing.assert_allclose(low.cholesky_inverse().numpy(), np.linalg.inv(spd))
    b = t(rng.standard_normal((3, 2)))
    np.testing.assert_allclose(b.cholesky_solve(low).numpy(), np.linalg.solve(spd, b.numpy()))
    LU, piv = A.lu()
    np.testing.assert_allclose(b.lu_solve(LU, piv).numpy(), np.linalg.solve(spd, b.numpy()))
    np.testing.assert_allclose(A.pinverse().numpy(), np.linalg.inv(spd))
    u, s, v = A.svd()
    np.testing.assert_allclose(((u * s) @ v.mT).numpy(), spd)
    q, r = t(a).qr()
    np.testing.assert_allclose((q @ r).numpy(), a)
    sol, _ = b.triangular_solve(t(np.triu(spd)))
    np.testing.assert_allclose(np.triu(spd) @ sol.numpy(), b.numpy())
    assert gradcheck(lambda m: m.matrix_exp(), (t(a * 0.3, True),))
    assert t(a).adjoint().shape == (3, 3)


def test_spectral_methods():
    x = t(rng.standard_normal(128))
    w = ember.hann_window(32, dtype=ember.float64)
    spec = x.stft(32, 8, window=w, return_complex=True)
    np.testing.assert_allclose(spec.istft(32, 8, window=w, length=128).numpy(), x.numpy(),
                               atol=1e-10)
