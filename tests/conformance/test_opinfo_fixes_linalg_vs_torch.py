"""The linear-algebra differences the OpInfo audit found, against PyTorch on the same inputs:
empty matrices, norms at zero, pinv (hermitian, rank-deficient gradients), lstsq's fields per
driver, integer/bool addmm-family scales, tensordot's size-1 dims, torch.lu(out=)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(5)


def _pair(a, grad=False):
    return (ember.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def _close(e, t, atol=1e-10):
    assert e.shape == tuple(t.shape), (e.shape, t.shape)
    assert str(e.dtype) == str(t.dtype), (e.dtype, t.dtype)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol)


def _complex(shape, complex_):
    a = RNG.standard_normal(shape)
    return a + 1j * RNG.standard_normal(shape) if complex_ else a


@pytest.mark.parametrize("name,args", [
    ("inv_ex", [(0, 0)]), ("solve_ex", [(0, 0), (0,)]), ("lu_factor_ex", [(2, 0, 0)]),
    ("ldl_factor_ex", [(0, 0)]), ("cond", [(2, 0, 0)]), ("matrix_norm", [(3, 0)]),
])
def test_empty_matrices(name, args):
    e_out = getattr(ember.linalg, name)(*[ember.zeros(*s, dtype=ember.float64) for s in args])
    t_out = getattr(torch.linalg, name)(*[torch.zeros(*s, dtype=torch.float64) for s in args])
    for e, t in zip(e_out if isinstance(e_out, tuple) else [e_out],
                    t_out if isinstance(t_out, tuple) else [t_out]):
        _close(e, t)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, np.inf])
@pytest.mark.parametrize("complex_", [False, True])
def test_norm_gradients_at_zero(ord, complex_):
    dtype = np.complex128 if complex_ else np.float64
    e, t = _pair(np.zeros((4, 4), dtype), True)
    ember.linalg.norm(e, ord).backward()
    torch.linalg.norm(t, ord).backward()
    _close(e.grad, t.grad)


@pytest.mark.parametrize("complex_", [False, True])
def test_hermitian_pinv_and_rank(complex_):
    e, t = _pair(_complex((2, 5, 5), complex_), True)
    pe, pt = ember.linalg.pinv(e, hermitian=True), torch.linalg.pinv(t, hermitian=True)
    _close(pe, pt, 1e-9)
    g = _complex((2, 5, 5), complex_)
    pe.backward(ember.tensor(g))
    pt.backward(torch.tensor(g))
    _close(e.grad, t.grad, 1e-8)
    _close(ember.linalg.matrix_rank(e.detach(), hermitian=True),
           torch.linalg.matrix_rank(t.detach(), hermitian=True))


@pytest.mark.parametrize("complex_", [False, True])
def test_pinv_gradient_of_rank_deficient_matrices(complex_):
    a = _complex((3, 1), complex_) @ _complex((1, 2), complex_)
    e, t = _pair(a, True)
    g = _complex((2, 3), complex_)
    ember.linalg.pinv(e).backward(ember.tensor(g))
    torch.linalg.pinv(t).backward(torch.tensor(g))
    _close(e.grad, t.grad, 1e-9)


@pytest.mark.parametrize("driver", ["gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shape", [(2, 3), (4, 3), (2, 4, 3)])
@pytest.mark.parametrize("complex_", [False, True])
def test_lstsq_fields(driver, shape, complex_):
    A, B = _complex(shape, complex_), _complex((*shape[:-1], 2), complex_)
    (ea, ta), (eb, tb) = _pair(A, True), _pair(B)
    res_e = ember.linalg.lstsq(ea, eb, driver=driver)
    res_t = torch.linalg.lstsq(ta, tb, driver=driver)
    for e, t in zip(res_e, res_t):
        _close(e, t, 1e-9)
        assert e.requires_grad == t.requires_grad


@pytest.mark.parametrize("op,shapes", [
    ("addmm", [(2, 3), (2, 4), (4, 3)]), ("addmv", [(2,), (2, 4), (4,)]),
    ("baddbmm", [(2, 2, 3), (2, 2, 4), (2, 4, 3)]), ("addbmm", [(2, 3), (2, 2, 4), (2, 4, 3)]),
])
@pytest.mark.parametrize("beta,alpha", [(0.6, 0.2), (1.6, 2.7), (-1.9, 3)])
def test_integer_scales_truncate(op, shapes, beta, alpha):
    arrays = [RNG.integers(-5, 5, s) for s in shapes]
    e = getattr(ember, op)(*[ember.tensor(a) for a in arrays], beta=beta, alpha=alpha)
    t = getattr(torch, op)(*[torch.tensor(a) for a in arrays], beta=beta, alpha=alpha)
    _close(e, t)


@pytest.mark.parametrize("beta,alpha", [(3, 2), (0, 1), (1, 0), (False, True)])
def test_addr_bool(beta, alpha):
    m, v, w = RNG.random((3, 4)) > 0.5, RNG.random(3) > 0.5, RNG.random(4) > 0.5
    e = ember.addr(ember.tensor(m), ember.tensor(v), ember.tensor(w), beta=beta, alpha=alpha)
    t = torch.addr(torch.tensor(m), torch.tensor(v), torch.tensor(w), beta=beta, alpha=alpha)
    assert e.dtype == ember.bool and e.tolist() == t.tolist()


def test_tensordot_size_one_dims():
    a, b = RNG.standard_normal((1, 1, 3)), RNG.standard_normal((2, 1, 2))
    (ea, ta), (eb, tb) = _pair(a, True), _pair(b, True)
    e = ember.tensordot(ea, eb, dims=((0, 1), (2, 0)))
    t = torch.tensordot(ta, tb, dims=((0, 1), (2, 0)))
    _close(e, t)
    e.sum().backward()
    t.sum().backward()
    _close(ea.grad, ta.grad)
    _close(eb.grad, tb.grad)


def test_legacy_lu_out():
    ea, ta = _pair(RNG.standard_normal((3, 4)))
    eo = (ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.int32))
    to = (torch.empty(0, dtype=torch.float64), torch.empty(0, dtype=torch.int32))
    ember.lu(ea, out=eo)
    torch.lu(ta, out=to)
    for e, t in zip(eo, to):
        _close(e, t)


def _spd(n=3):
    a = RNG.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


@pytest.mark.parametrize("name,make", [
    ("linalg.pinv", lambda: [RNG.standard_normal((3, 4))]),
    ("linalg.inv_ex", lambda: [_spd()]),
    ("linalg.cholesky_ex", lambda: [_spd()]),
    ("linalg.cond", lambda: [_spd()]),
    ("linalg.eigvalsh", lambda: [_spd()]),
    ("linalg.lu_factor", lambda: [_spd()]),
    ("linalg.lu_factor_ex", lambda: [_spd()]),
    ("linalg.matrix_rank", lambda: [_spd()]),
    ("linalg.svdvals", lambda: [_spd()]),
    ("linalg.tensorinv", lambda: [_spd(4).reshape(2, 2, 4)]),
    ("linalg.solve_ex", lambda: [_spd(), RNG.standard_normal(3)]),
    ("linalg.tensorsolve", lambda: [_spd(4).reshape(4, 2, 2), RNG.standard_normal(4)]),
    ("linalg.vecdot", lambda: [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))]),
    ("linalg.cross", lambda: [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))]),
    ("linalg.multi_dot", lambda: [[_spd(), _spd(), _spd()]]),
    ("qr", lambda: [RNG.standard_normal((4, 3))]),
])
def test_out_is_accepted(name, make):
    args = make()

    def call(mod):
        fn = mod
        for part in name.split("."):
            fn = getattr(fn, part)
        conv = [[mod.tensor(x) for x in a] if isinstance(a, list) else mod.tensor(a)
                for a in args]
        res = fn(*conv)
        if isinstance(res, tuple):
            out = tuple(mod.empty(0, dtype=r.dtype) for r in res)
        else:
            out = mod.empty(0, dtype=res.dtype)
        written = fn(*conv, out=out)
        assert written is out or all(w is o for w, o in zip(written, out))
        return out

    e, t = call(ember), call(torch)
    for a, b in zip(e if isinstance(e, tuple) else [e], t if isinstance(t, tuple) else [t]):
        _close(a, b, 1e-9)


def test_solver_outs_and_argument_names():
    a, b = _spd(), RNG.standard_normal((3, 2))
    out = ember.empty(0, dtype=ember.float64)
    ember.linalg.solve_triangular(ember.tensor(np.triu(a)), ember.tensor(b), upper=True, out=out)
    _close(out, torch.linalg.solve_triangular(torch.tensor(np.triu(a)), torch.tensor(b),
                                              upper=True))
    LU, piv = ember.linalg.lu_factor(ember.tensor(a))
    out = ember.empty(0, dtype=ember.float64)
    ember.linalg.lu_solve(LU, piv, ember.tensor(b), out=out)
    _close(out, torch.linalg.solve(torch.tensor(a), torch.tensor(b)))
    _close(ember.linalg.det(A=ember.tensor(a)), torch.linalg.det(A=torch.tensor(a)))
    h, tau = RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    _close(ember.linalg.householder_product(input=ember.tensor(h), tau=ember.tensor(tau)),
           torch.linalg.householder_product(input=torch.tensor(h), tau=torch.tensor(tau)))
    x = RNG.standard_normal((3, 3)).astype(np.float32)
    for ord in ("fro", "nuc", 1):
        _close(ember.linalg.matrix_norm(ember.tensor(x), ord, dtype=ember.float64),
               torch.linalg.matrix_norm(torch.tensor(x), ord, dtype=torch.float64))


@pytest.mark.parametrize("p", ["fro", 1, -1, np.inf, -np.inf, None, 2])
def test_cond_of_a_batch_holding_a_singular_matrix(p):
    a = np.stack([[[1.0, 2.0], [2.0, 4.0]], np.diag([2.0, 0.5])])
    e, t = _pair(a)
    got, want = ember.linalg.cond(e, p), torch.linalg.cond(t, p)
    if p in (None, 2):  # the singular matrix's smallest singular value is LAPACK's noise
        assert got[0].item() > 1e15 and want[0].item() > 1e15
        got, want = got[1:], want[1:]
    _close(got, want, 1e-6)


def test_multi_dot_half_matches_torchs_order():
    ms = [RNG.standard_normal(s).astype(np.float16) for s in [(2, 4), (4, 3), (3, 5), (5, 3)]]
    e = ember.linalg.multi_dot([ember.tensor(m) for m in ms])
    t = torch.linalg.multi_dot([torch.tensor(m) for m in ms])
    _close(e, t, 0)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.float16])
def test_addbmm_dtype(dtype):
    arrays = [RNG.integers(0, 4, s).astype(dtype) for s in [(5, 10), (4, 5, 3), (4, 3, 10)]]
    e = ember.addbmm(*[ember.tensor(a) for a in arrays])
    t = torch.addbmm(*[torch.tensor(a) for a in arrays])
    _close(e, t, 0)
