"""Elementwise, conversion, creation and movement fixes from the OpInfo audit, checked against
real PyTorch."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _e(t):
    return ember.tensor(t.detach().numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int16", "complex128"])
def test_linspace_matches_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    for _ in range(100):
        a, b = rng.normal(size=2) * 100
        if dtype == "complex128":
            a = complex(a, rng.normal())
        n = int(rng.integers(1, 80))
        want = torch.linspace(a, b, n, dtype=getattr(torch, dtype)).numpy()
        got = ember.linspace(a, b, n, dtype=getattr(ember, dtype)).numpy()
        if dtype == "complex128":  # PyTorch's complex step may round differently by an ulp
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "complex128"])
def test_logspace_matches(dtype):
    rng = np.random.default_rng(1)
    for _ in range(100):
        a, b = rng.normal(size=2) * 3
        if dtype == "int64":
            a, b = round(a), round(b)
        n = int(rng.integers(1, 60))
        base = float(rng.uniform(0.5, 10))
        want = torch.logspace(a, b, n, base, dtype=getattr(torch, dtype)).numpy()
        got = ember.logspace(a, b, n, base, dtype=getattr(ember, dtype)).numpy()
        if dtype == "int64":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == "float32" else 1e-13)


def test_linspace_logspace_tensor_ends():
    for start, end in [(torch.tensor(4.3), torch.tensor(2)), (torch.tensor(-4.8), 7)]:
        e_end = _e(end) if isinstance(end, torch.Tensor) else end
        for dt in ("int64", "float64", "complex128"):
            for fn in ("linspace", "logspace"):
                want = getattr(torch, fn)(start, end, 9, dtype=getattr(torch, dt))
                got = getattr(ember, fn)(_e(start), e_end, 9, dtype=getattr(ember, dt))
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-14)


def _layouts(lib):
    x = lib.tensor(np.arange(120.0, dtype=np.float32).reshape(2, 3, 4, 5))
    return [x[0, 0].t(), x, x.contiguous(memory_format=lib.channels_last)]


def test_cast_methods_with_memory_format():
    for x, ex in zip(_layouts(torch), _layouts(ember)):
        for method in ("float", "double", "long", "bool", "cdouble"):
            for fmt in ("contiguous_format", "preserve_format", "channels_last"):
                if fmt == "channels_last" and x.ndim != 4:
                    continue
                want = getattr(x, method)(memory_format=getattr(torch, fmt))
                got = getattr(ex, method)(memory_format=getattr(ember, fmt))
                assert got.stride() == want.stride(), (method, fmt)
                assert (got is ex) == (want is x), (method, fmt)


def test_integer_powers_and_rdiv():
    a = torch.tensor([-3, -2, -1, 0, 1, 2, 3])
    b = torch.tensor([-1, -2, -3, -1, -2, 5, -5])
    assert (_e(a) ** _e(b)).tolist() == (a ** b).tolist()
    assert (_e(b).__rpow__(_e(a))).tolist() == (b.__rpow__(a)).tolist()
    assert (2 ** _e(b)).tolist() == (2 ** b).tolist()
    x = torch.tensor([2.0, 4.0])
    assert _e(x).__rdiv__(3).tolist() == x.__rdiv__(3).tolist()


def test_float_power_logit_logaddexp():
    z = torch.tensor([1 + 1j, -2 + 0.5j], dtype=torch.complex64)
    want = torch.float_power(z, z)
    got = ember.float_power(_e(z), _e(z))
    assert str(got.dtype) == str(want.dtype)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    m = torch.tensor([True, False])
    np.testing.assert_array_equal(ember.logit(_e(m), 0.2).numpy(), torch.logit(m, 0.2).numpy())
    rng = np.random.default_rng(2)
    a = torch.tensor(rng.normal(size=20) * 3 + 1j * rng.normal(size=20) * 4)
    b = torch.tensor(rng.normal(size=20) * 3 + 1j * rng.normal(size=20) * 4)
    np.testing.assert_allclose(ember.logaddexp(_e(a), _e(b)).numpy(),
                               torch.logaddexp(a, b).numpy(), rtol=1e-12)


def test_ldexp_complex_gradient():
    x = torch.tensor([1 + 2j, 0.5 - 1j], dtype=torch.complex128, requires_grad=True)
    e = torch.tensor([0.5 - 1j, 2 + 0.25j], dtype=torch.complex128, requires_grad=True)
    torch.ldexp(x, e).abs().sum().backward()
    ex, ee = _e(x).requires_grad_(), _e(e).requires_grad_()
    ember.ldexp(ex, ee).abs().sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ee.grad.numpy(), e.grad.numpy(), rtol=1e-12)


def test_tensor_split_and_sum_to_size():
    x = torch.arange(7)
    for ind in ([5, 2], [-9], [-2, 10], [3, -6], [0, 0, 7, 7], 3, 8, torch.tensor(2),
                torch.tensor([1, -1])):
        e_ind = _e(ind) if isinstance(ind, torch.Tensor) else ind
        want = [t.tolist() for t in x.tensor_split(ind)]
        assert [t.tolist() for t in _e(x).tensor_split(e_ind)] == want
    m = torch.tensor([[True, False, True], [True, False, False]])
    for size in ((3,), (1, 3), (2, 3), (2, 1)):
        want, got = m.sum_to_size(size), _e(m).sum_to_size(size)
        assert str(got.dtype) == str(want.dtype) and got.tolist() == want.tolist()
    want = torch.tensor(True).sum_to_size(())
    got = ember.tensor(True).sum_to_size(())
    assert str(got.dtype) == str(want.dtype)


def test_polynomial_shapes():
    for n in (3, torch.tensor(3)):
        want = torch.special.legendre_polynomial_p(torch.tensor(0.3), n)
        got = ember.special.legendre_polynomial_p(ember.tensor(0.3),
                                                  _e(n) if isinstance(n, torch.Tensor) else n)
        assert tuple(got.shape) == tuple(want.shape)
        assert got.item() == pytest.approx(want.item())


@pytest.mark.parametrize("dtype", [None, "float64", "float32", "float16", "bfloat16", "int64",
                                   "int32", "uint8"])
def test_arange_matches_bit_for_bit(dtype):
    rng = np.random.default_rng(3)
    # (beyond 32768 values PyTorch splits the range between threads, each with its own loop)
    cases = [(0, 1, 0.1), (0.5, 4.5, 1.5), (10, 0, -0.3), (0, 12000, 0.37), (1, 10 ** 5, 7)]
    cases += [tuple(float(v) for v in rng.normal(size=2) * 10) + (float(rng.uniform(0.05, 2)),)
              for _ in range(60)]
    for a, b, s in cases:
        if dtype == "uint8" and min(a, b) < 0 or dtype == "uint8" and max(a, b) > 255:
            continue
        s = -abs(s) if b < a else abs(s)
        try:
            want = torch.arange(a, b, s, dtype=dtype and getattr(torch, dtype))
        except (RuntimeError, ValueError) as exc:
            with pytest.raises(type(exc), match=str(exc)):
                ember.arange(a, b, s, dtype=dtype and getattr(ember, dtype))
            continue
        got = ember.arange(a, b, s, dtype=dtype and getattr(ember, dtype))
        assert str(got.dtype) == str(want.dtype)
        np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())


def test_full_checked_fill_and_half_precision_ops():
    for value, dtype in [(-9, "uint8"), (300, "int8"), (2.7, "int8"), (-2.7, "uint8"),
                         (1e39, "float32"), (1e39, "bfloat16"), (1j, "float32"),
                         (2 ** 63, "int64")]:
        try:
            want = torch.full((2,), value, dtype=getattr(torch, dtype))
        except RuntimeError as exc:
            with pytest.raises(RuntimeError, match=str(exc)):
                ember.full((2,), value, dtype=getattr(ember, dtype))
            continue
        got = ember.full((2,), value, dtype=getattr(ember, dtype))
        assert got.float().tolist() == want.float().tolist()
    rng = np.random.default_rng(4)
    for dtype in ("float16", "bfloat16"):
        p, q, r = (torch.tensor(rng.normal(size=(5, 5)), dtype=getattr(torch, dtype))
                   for _ in range(3))
        ep, eq, er = (ember.tensor(t.float().numpy()).to(getattr(ember, dtype)) for t in (p, q, r))
        for want, got in [(torch.addcmul(p, q, r, value=3.14),
                           ember.addcmul(ep, eq, er, value=3.14)),
                          (torch.addcdiv(p, q, r), ember.addcdiv(ep, eq, er)),
                          (torch.lerp(p, q, 0.4), ember.lerp(ep, eq, 0.4)),
                          (torch.lerp(p, q, r), ember.lerp(ep, eq, er)),
                          (torch.igamma(p.abs(), q.abs()), ember.igamma(ep.abs(), eq.abs()))]:
            assert str(got.dtype) == str(want.dtype)
            np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
