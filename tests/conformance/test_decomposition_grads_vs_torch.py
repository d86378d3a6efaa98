"""Gradients (and gradients of gradients) of ember.linalg's decompositions and solvers and of
the pointwise ops of pointwise_extra against PyTorch's on the same inputs, real and complex;
the phase errors of complex eigen/singular vectors; values where a factorization fails."""
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

N = 4


def _rng():
    return np.random.default_rng(11)


def _mat(rng, *shape, complex_=False):
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if complex_ else a


def _spd(rng, complex_):
    a = _mat(rng, N, N, complex_=complex_)
    return a @ a.conj().T + N * np.eye(N)


def _herm(rng, complex_):
    a = _mat(rng, N, N, complex_=complex_)
    return a + a.conj().T


def _tri(rng, complex_):
    return np.triu(_mat(rng, N, N, complex_=complex_)) + 3 * np.eye(N)


def _numpy(t):
    t = t.detach()
    if hasattr(t, "resolve_conj"):
        t = t.resolve_conj().resolve_neg()
    return t.numpy()


def _outputs(out, lib):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, lib.Tensor) and o.requires_grad]


def _loss(lib, outs):
    """A real loss that weighs the real and imaginary parts of every output differently."""
    total = 0
    for k, o in enumerate(outs):
        w = lib.tensor(np.cos(np.arange(o.numel()) + k).reshape(tuple(o.shape)))
        total = total + ((o.real + 0.7 * o.imag if o.is_complex() else o) * w).sum()
    return total


def _grads(lib, fn, arrays, second_order):
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = _outputs(fn(lib, *xs), lib)
    assert outs, "no output requires grad"
    gs = lib.autograd.grad(_loss(lib, outs), xs, create_graph=second_order, allow_unused=True)
    first = [None if g is None else _numpy(g) for g in gs]
    if not second_order:
        return first, None
    live = [g for g in gs if g is not None and g.requires_grad]
    if not live:
        return first, None
    s = sum((g * g.conj()).real.sum() for g in live)
    second = [None if g is None else _numpy(g)
              for g in lib.autograd.grad(s, xs, allow_unused=True)]
    return first, second


def _eig_reconstruction(lib, a):
    w, v = lib.linalg.eig(a)
    return v @ lib.diag_embed(w) @ lib.linalg.inv(v)


# name -> (function of (lib, *tensors), inputs from (rng, complex_), double backward)
CASES = {
    "eig_values": (lambda L, a: L.linalg.eig(a)[0], lambda r, c: [_mat(r, N, N, complex_=c)], 1),
    "eig_abs_vectors": (lambda L, a: L.linalg.eig(a)[1].abs(),
                        lambda r, c: [_mat(r, N, N, complex_=c)], 1),
    "eig_reconstruction": (_eig_reconstruction, lambda r, c: [_mat(r, N, N, complex_=c)], 1),
    "eig_batched": (lambda L, a: (L.linalg.eig(a)[0], L.linalg.eig(a)[1].abs()),
                    lambda r, c: [_mat(r, 2, 3, 3, complex_=c)], 0),
    "eigvals": (lambda L, a: L.linalg.eigvals(a), lambda r, c: [_mat(r, N, N, complex_=c)], 1),
    "eigh": (lambda L, a: (L.linalg.eigh(a)[0], L.linalg.eigh(a)[1].abs()),
             lambda r, c: [_herm(r, c)], 1),
    "svd": (lambda L, a: (lambda u, s, vh: (u.abs(), s, vh.abs(), u @ vh))(
        *L.linalg.svd(a, full_matrices=False)), lambda r, c: [_mat(r, 5, 3, complex_=c)], 1),
    "cholesky": (lambda L, a: L.linalg.cholesky(a), lambda r, c: [_spd(r, c)], 1),
    "cholesky_upper": (lambda L, a: L.linalg.cholesky(a, upper=True), lambda r, c: [_spd(r, c)],
                       1),
    "cholesky_ex": (lambda L, a: L.linalg.cholesky_ex(a), lambda r, c: [_spd(r, c)], 1),
    "cholesky_ex_not_pd": (lambda L, a: L.linalg.cholesky_ex(a),
                           lambda r, c: [_herm(r, c) - 2 * N * np.eye(N)], 1),
    "lu_factor_tall": (lambda L, a: L.linalg.lu_factor(a), lambda r, c: [_mat(r, 5, 3,
                                                                               complex_=c)], 1),
    "lu_factor_wide": (lambda L, a: L.linalg.lu_factor(a), lambda r, c: [_mat(r, 3, 5,
                                                                               complex_=c)], 1),
    "lu_factor_ex": (lambda L, a: L.linalg.lu_factor_ex(a), lambda r, c: [_mat(r, N, N,
                                                                               complex_=c)], 1),
    "lu_tall_batched": (lambda L, a: L.linalg.lu(a), lambda r, c: [_mat(r, 2, 5, 3,
                                                                         complex_=c)], 1),
    "lu_wide": (lambda L, a: L.linalg.lu(a), lambda r, c: [_mat(r, 3, 5, complex_=c)], 1),
    "lu_solve": (lambda L, a, b: L.linalg.lu_solve(*L.linalg.lu_factor(a), b),
                 lambda r, c: [_mat(r, N, N, complex_=c), _mat(r, N, 2, complex_=c)], 1),
    "inv_ex": (lambda L, a: L.linalg.inv_ex(a), lambda r, c: [_mat(r, N, N, complex_=c)], 1),
    "solve_ex": (lambda L, a, b: L.linalg.solve_ex(a, b),
                 lambda r, c: [_mat(r, N, N, complex_=c), _mat(r, N, 2, complex_=c)], 1),
    "solve_triangular": (lambda L, a, b: L.linalg.solve_triangular(a, b, upper=True),
                         lambda r, c: [_tri(r, c), _mat(r, N, 2, complex_=c)], 1),
    "cholesky_solve": (lambda L, b, a: L.cholesky_solve(b, a),
                       lambda r, c: [_mat(r, N, 2, complex_=c), np.linalg.cholesky(_spd(r, c))],
                       1),
    "cholesky_inverse": (lambda L, a: L.cholesky_inverse(a),
                         lambda r, c: [np.linalg.cholesky(_spd(r, c))], 1),
    "qr": (lambda L, a: L.linalg.qr(a), lambda r, c: [_mat(r, 5, 3, complex_=c)], 1),
    "pinv": (lambda L, a: L.linalg.pinv(a), lambda r, c: [_mat(r, 5, 3, complex_=c)], 1),
    "matrix_exp": (lambda L, a: L.linalg.matrix_exp(a), lambda r, c: [_mat(r, N, N,
                                                                           complex_=c)], 1),
}


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_torch(name, complex_):
    fn, make, second_order = CASES[name]
    arrays = make(_rng(), complex_)
    expected = _grads(torch, fn, arrays, bool(second_order))
    got = _grads(ember, fn, arrays, bool(second_order))
    for order, (e_list, t_list) in enumerate(zip(got, expected)):
        if t_list is None:
            assert e_list is None or all(g is None for g in e_list)
            continue
        for e, t_ in zip(e_list, t_list):
            assert (e is None) == (t_ is None), f"order {order + 1}"
            if t_ is not None:
                np.testing.assert_allclose(e, t_, rtol=1e-7, atol=1e-9,
                                           err_msg=f"order {order + 1}")


def _vectors(lib, op, x):
    if op == "eig":
        return lib.linalg.eig(x)[1]
    if op == "eigh":
        return lib.linalg.eigh(x)[1]
    u, _, vh = lib.linalg.svd(x)
    return u if op == "svd_u" else vh


@pytest.mark.parametrize("op", ["eig", "eigh", "svd_u", "svd_vh"])
def test_phase_dependent_loss_raises_like_torch(op):
    rng = _rng()
    a = _mat(rng, 3, 3, complex_=True)
    if op == "eigh":
        a = a + a.conj().T
    errors = {}
    for lib in (torch, ember):
        x = lib.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            _vectors(lib, op, x).real.sum().backward()
        errors[lib.__name__] = str(info.value)
        _vectors(lib, op, x).abs().sum().backward()  # gauge invariant: fine in both
    assert errors["ember"] == errors["torch"]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_cholesky_ex_partial_factor_matches_torch(complex_):
    rng = _rng()
    good = _spd(rng, complex_)
    bad = good.copy()
    bad[2, 2] -= 100
    a = np.stack([good, bad, -np.eye(N)])
    for upper in (False, True):
        t_out = torch.linalg.cholesky_ex(torch.tensor(a), upper=upper)
        e_out = ember.linalg.cholesky_ex(ember.tensor(a), upper=upper)
        np.testing.assert_allclose(e_out.L.numpy(), _numpy(t_out.L), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(e_out.info.numpy(), t_out.info.numpy())
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match=r"\(Batch element 1\).*order 3 is not"):
            lib.linalg.cholesky_ex(lib.tensor(a), check_errors=True)


def test_singular_inv_ex_solve_ex_lu_factor_ex_match_torch():
    a = np.stack([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [1.0, 3.0]]])
    b = np.array([[1.0], [2.0]])
    fns = {
        "inv_ex": lambda L, x, y: L.linalg.inv_ex(x),
        "solve_ex": lambda L, x, y: L.linalg.solve_ex(x, y),
        "lu_factor_ex": lambda L, x, y: L.linalg.lu_factor_ex(x),
    }
    for name, fn in fns.items():
        res = {}
        for lib in (torch, ember):
            x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
            out = fn(lib, x, y)
            assert out[0].requires_grad, name
            with np.errstate(invalid="ignore"):
                grads = lib.autograd.grad(out[0][1].sum(), (x, y), allow_unused=True)
            res[lib.__name__] = (_numpy(out[0]), _numpy(out[-1]), grads)
        e, t_ = res["ember"], res["torch"]
        np.testing.assert_allclose(e[0][1], t_[0][1], rtol=1e-12)  # the invertible matrix
        assert np.isfinite(e[0][0]).all() == np.isfinite(t_[0][0]).all()
        np.testing.assert_array_equal(e[1], t_[1])
        np.testing.assert_allclose(_numpy(e[2][0])[1], _numpy(t_[2][0])[1], rtol=1e-10)


def test_singular_triangular_solve_matches_torch():
    a = np.array([[1.0, 2.0], [0.0, 0.0]])
    for b in ([[1.0], [2.0]], [[1.0], [0.0]]):
        e = ember.linalg.solve_triangular(ember.tensor(a), ember.tensor(b), upper=True)
        t_ = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=True)
        np.testing.assert_array_equal(e.numpy(), t_.numpy())


POINTWISE = {
    "frexp": (lambda L, x: L.frexp(x * 10), 1),
    "nextafter": (lambda L, x, y: L.nextafter(x, y), 2),
    "copysign": (lambda L, x, y: L.copysign(x, y), 2),
    "copysign_scalar": (lambda L, x: L.copysign(x, -1.0), 1),
    "ldexp": (lambda L, x, y: L.ldexp(x, y), 2),
    "logaddexp2": (lambda L, x, y: L.logaddexp2(x, y), 2),
    "sinc": (lambda L, x: L.sinc(x), 1),
    "i0": (lambda L, x: L.i0(x), 1),
    "igamma": (lambda L, x, y: L.igamma(L.tensor(np.abs(_numpy(x)) + 1), y.abs() + 0.5), 2),
    "mvlgamma": (lambda L, x: L.mvlgamma(x.abs() + 2, 3), 1),
}


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_gradients_match_torch(name):
    fn, arity = POINTWISE[name]
    rng = _rng()
    arrays = [rng.standard_normal(6) for _ in range(arity)]
    expected = _grads(torch, fn, arrays, True)
    got = _grads(ember, fn, arrays, True)
    for e_list, t_list in zip(got, expected):
        if t_list is None:
            assert e_list is None or all(g is None for g in e_list)
            continue
        for e, t_ in zip(e_list, t_list):
            assert (e is None) == (t_ is None)
            if t_ is not None:
                np.testing.assert_allclose(e, t_, rtol=1e-7, atol=1e-12)


def test_frexp_edge_gradients_match_torch():
    values = [0.0, -0.0, np.inf, np.nan, 1.7e308, 1e-310, 3.0]
    for dtype in ("float64", "float32"):
        grads = []
        for lib in (torch, ember):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x = lib.tensor(np.array(values, dtype=dtype), requires_grad=True)
            m, e = lib.frexp(x)
            assert m.grad_fn.name() == "FrexpBackward0" and not e.requires_grad
            m.sum().backward()
            grads.append((_numpy(m), e.numpy(), x.grad.numpy()))
        for g_t, g_e in zip(*grads):
            np.testing.assert_array_equal(g_e, g_t)


def test_heaviside_records_a_node_without_derivative_like_torch():
    for lib in (torch, ember):
        x = lib.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        out = lib.heaviside(x, lib.tensor([0.5]))
        assert out.requires_grad
        with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
            out.sum().backward()
