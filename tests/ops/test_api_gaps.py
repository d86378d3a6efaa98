"""The API gaps filled (signal windows, special polynomials, Householder / LDL / low-rank
linear algebra, native nn spellings, pytrees, Tensor memory methods) against NumPy and SciPy,
with float64 gradchecks where PyTorch defines gradients."""
import numpy as np
import pytest
from numpy.polynomial import chebyshev, hermite, hermite_e, laguerre, legendre

import ember
import ember.utils._pytree as pytree

rng = np.random.default_rng(3)


def _t(a, requires_grad: bool = False):
    return ember.tensor(a, requires_grad=requires_grad)


@pytest.mark.parametrize("name,args", [("hann", ()), ("hamming", ()), ("blackman", ()),
                                       ("bartlett", ()), ("nuttall", ()), ("cosine", ()),
                                       ("gaussian", (1.5,)), ("kaiser", (4.0,)),
                                       ("general_hamming", (0.6,)),
                                       ("exponential", (None, 2.0))])
@pytest.mark.parametrize("sym", [True, False])
def test_windows_match_scipy(name, args, sym):
    from scipy.signal import windows
    keywords = {"gaussian": ("std",), "kaiser": ("beta",), "general_hamming": ("alpha",),
                "exponential": ("center", "tau")}.get(name, ())
    kwargs = dict(zip(keywords, args))
    if name == "exponential" and sym:
        kwargs.pop("center")
    got = getattr(ember.signal.windows, name)(9, sym=sym, dtype=ember.float64, **kwargs)
    np.testing.assert_allclose(got.numpy(), getattr(windows, name)(9, *args, sym=sym),
                               atol=1e-12)


def _poly_oracle(name, x, n):
    basis = {"t": chebyshev.Chebyshev, "p": legendre.Legendre, "h": hermite.Hermite,
             "he": hermite_e.HermiteE, "l": laguerre.Laguerre}[name]
    return basis.basis(n)(x)


@pytest.mark.parametrize("name", ["t", "p", "h", "he", "l"])
def test_polynomials_match_numpy(name):
    fn = {"t": ember.special.chebyshev_polynomial_t, "p": ember.special.legendre_polynomial_p,
          "h": ember.special.hermite_polynomial_h, "he": ember.special.hermite_polynomial_he,
          "l": ember.special.laguerre_polynomial_l}[name]
    x = np.linspace(-2, 2, 9)
    for n in range(7):
        np.testing.assert_allclose(fn(_t(x), n).numpy(), _poly_oracle(name, x, n), rtol=1e-10,
                                   atol=1e-10)
    assert fn(_t(x), -1).numpy().tolist() == [0.0] * 9


def test_chebyshev_kinds_and_shifted():
    theta = np.linspace(0.1, 3.0, 7)
    x = np.cos(theta)
    n = 5
    u = ember.special.chebyshev_polynomial_u(_t(x), n).numpy()
    np.testing.assert_allclose(u, np.sin((n + 1) * theta) / np.sin(theta), rtol=1e-10)
    v = ember.special.chebyshev_polynomial_v(_t(x), n).numpy()
    np.testing.assert_allclose(v, np.cos((n + 0.5) * theta) / np.cos(theta / 2), rtol=1e-9)
    w = ember.special.chebyshev_polynomial_w(_t(x), n).numpy()
    np.testing.assert_allclose(w, np.sin((n + 0.5) * theta) / np.sin(theta / 2), rtol=1e-9)
    y = (x + 1) / 2
    for kind in "tuvw":
        shifted = getattr(ember.special, f"shifted_chebyshev_polynomial_{kind}")(_t(y), n)
        plain = getattr(ember.special, f"chebyshev_polynomial_{kind}")(_t(x), n)
        np.testing.assert_allclose(shifted.numpy(), plain.numpy(), rtol=1e-9, atol=1e-12)


def test_airy_and_spherical_bessel_j0():
    from scipy import special
    x = np.array([-4.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(ember.special.airy_ai(_t(x)).numpy(), special.airy(x)[0])
    np.testing.assert_allclose(ember.special.spherical_bessel_j0(_t(x)).numpy(),
                               special.spherical_jn(0, x))


def test_householder_product_rebuilds_q():
    a = rng.standard_normal((2, 5, 3))
    h, tau = ember.geqrf(_t(a))
    q = ember.linalg.householder_product(h, tau).numpy()
    r = np.triu(h.numpy())[..., :3, :]
    np.testing.assert_allclose(q @ r, a, atol=1e-12)
    np.testing.assert_allclose(q.swapaxes(-1, -2) @ q, np.broadcast_to(np.eye(3), (2, 3, 3)),
                               atol=1e-12)
    c = rng.standard_normal((2, 5, 4))
    full_q = ember.ormqr(h, tau, _t(np.broadcast_to(np.eye(5), (2, 5, 5)).copy())).numpy()
    np.testing.assert_allclose(ember.ormqr(h, tau, _t(c), True, True).numpy(),
                               full_q.swapaxes(-1, -2) @ c, atol=1e-12)


def test_householder_gradcheck():
    h, tau = ember.geqrf(_t(rng.standard_normal((4, 3))))
    args = (_t(h.numpy(), True), _t(tau.numpy(), True))
    assert ember.autograd.gradcheck(ember.linalg.householder_product, args)
    assert ember.autograd.gradgradcheck(ember.linalg.householder_product, args)
    other = _t(rng.standard_normal((2, 4)), True)
    assert ember.autograd.gradcheck(lambda a, t, c: ember.ormqr(a, t, c, False, False),
                                    (*args, other))


def test_ldl_solves():
    s = rng.standard_normal((6, 6))
    s = s + s.T
    b = rng.standard_normal((6, 2))
    LD, pivots = ember.linalg.ldl_factor(_t(s))
    assert pivots.dtype == ember.int32
    x = ember.linalg.ldl_solve(LD, pivots, _t(b)).numpy()
    np.testing.assert_allclose(s @ x, b, atol=1e-10)
    with pytest.raises(RuntimeError):
        ember.linalg.ldl_factor(ember.zeros(2, 2))


def test_lowrank():
    a = rng.standard_normal((20, 3)) @ rng.standard_normal((3, 12))
    U, S, V = ember.svd_lowrank(_t(a), q=4)
    np.testing.assert_allclose(S.numpy()[:3], np.linalg.svd(a, compute_uv=False)[:3],
                               rtol=1e-10)
    np.testing.assert_allclose((U.numpy() * S.numpy()) @ V.numpy().T, a, atol=1e-10)
    _, S, _ = ember.pca_lowrank(_t(a + 3.0), q=3)
    centred = a - a.mean(0)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(centred, compute_uv=False)[:3],
                               rtol=1e-10)
    spd = rng.standard_normal((18, 18))
    spd = spd @ spd.T
    E, X = ember.lobpcg(_t(spd), k=2)
    np.testing.assert_allclose(E.numpy(), np.linalg.eigvalsh(spd)[::-1][:2], rtol=1e-7)
    E, X = ember.lobpcg(_t(spd), X=_t(rng.standard_normal((18, 3))), k=2, largest=False)
    np.testing.assert_allclose(E.numpy(), np.linalg.eigvalsh(spd)[:2], rtol=1e-6)


def test_native_rnn_gradcheck():
    x = _t(rng.standard_normal((3, 2)), True)
    h = _t(rng.standard_normal((3, 4)), True)
    c = _t(rng.standard_normal((3, 4)), True)
    w_ih = _t(rng.standard_normal((16, 2)), True)
    w_hh = _t(rng.standard_normal((16, 4)), True)
    assert ember.autograd.gradcheck(
        lambda *a: ember.lstm_cell(a[0], (a[1], a[2]), a[3], a[4]), (x, h, c, w_ih, w_hh))
    w3i, w3h = _t(rng.standard_normal((12, 2)), True), _t(rng.standard_normal((12, 4)), True)
    assert ember.autograd.gradcheck(ember.gru_cell, (x, h, w3i, w3h))


def test_segment_reduce_matches_numpy():
    d = rng.standard_normal((7, 3))
    lengths = [3, 0, 4]
    got = ember.segment_reduce(_t(d), "max", lengths=_t(lengths)).numpy()
    np.testing.assert_allclose(got[0], d[:3].max(0))
    assert np.isneginf(got[1]).all()
    np.testing.assert_allclose(got[2], d[3:].max(0))


def test_pytree_roundtrip():
    tree = {"a": [1, (2, None)], "b": ember.ones(1)}
    leaves, spec = pytree.tree_flatten(tree)
    assert leaves[:3] == [1, 2, None] and spec.num_leaves == 4
    rebuilt = pytree.tree_unflatten(leaves, spec)
    assert rebuilt["a"] == [1, (2, None)] and rebuilt["b"] is tree["b"]
    assert pytree.tree_structure(tree) == spec


def test_tensor_set_and_apply():
    a = ember.arange(6.0)
    b = ember.empty(0)
    b.set_(a.untyped_storage(), 1, (2, 2))
    assert b.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(RuntimeError):
        b.set_(a.untyped_storage(), 4, (2, 2))
    c = ember.tensor([[1, 2], [3, 4]]).t()
    c.apply_(lambda v: v * v)
    assert c.tolist() == [[1, 9], [4, 16]]


def test_compiler_and_future_namespaces():
    assert ember.compiler.disable(recursive=False)(len)([1]) == 1
    with ember.compiler.set_stance("force_eager"):
        assert not ember.compiler.is_exporting()
    assert ember.__future__.get_swap_module_params_on_conversion() is False


def test_native_nn_gradchecks():
    x = _t(rng.standard_normal((2, 3, 5)), True)
    w = _t(rng.standard_normal((4, 3, 2)), True)
    b = _t(rng.standard_normal(4), True)
    assert ember.autograd.gradcheck(
        lambda *a: ember.convolution(*a, [1], [1], [1], False, [0], 1), (x, w, b))
    seq, kern = _t(rng.standard_normal((5, 2, 3)), True), _t(rng.standard_normal((2, 3, 4)), True)
    assert ember.autograd.gradcheck(lambda s, k, c: ember.conv_tbc(s, k, c, 1), (seq, kern, b))
    im = _t(rng.standard_normal((1, 2, 4, 4)), True)
    grid = _t(rng.random((1, 3, 3, 2)) * 1.6 - 0.8, True)
    assert ember.autograd.gradcheck(lambda i, g: ember.grid_sampler(i, g, 0, 0, False),
                                    (im, grid))
    g3 = _t(rng.standard_normal(3), True)
    assert ember.autograd.gradcheck(
        lambda a, s: ember.native_batch_norm(a, s, s, None, None, True, 0.1, 1e-5)[0], (x, g3))
    x6 = _t(rng.standard_normal((2, 6, 3)), True)
    assert ember.autograd.gradcheck(
        lambda a: ember.native_group_norm(a, None, None, 2, 6, 3, 3, 1e-5)[0], (x6,))
    h0 = _t(rng.standard_normal((1, 2, 4)), True)
    params = [_t(rng.standard_normal(s), True) for s in [(4, 3), (4, 4), (4,), (4,)]]
    seq_in = _t(rng.standard_normal((3, 2, 3)), True)
    assert ember.autograd.gradcheck(
        lambda s, h, *p: ember.rnn_tanh(s, h, list(p), True, 1, 0.0, False, False, False)[0],
        (seq_in, h0, *params))
    assert ember.autograd.gradcheck(lambda v: ember.norm_except_dim(v, 2, 1), (x,))


def test_lobpcg_gradient_matches_eigh():
    a = rng.standard_normal((12, 12))
    a = a @ a.T + np.eye(12)
    g_e, g_x = rng.standard_normal(2), rng.standard_normal((12, 2))
    grads = []
    for use_lobpcg in (True, False):
        A = _t(a, True)
        if use_lobpcg:
            E, X = ember.lobpcg(A, k=2, tol=1e-10)
        else:
            w, v = ember.linalg.eigh(A)
            E, X = w.flip(0)[:2], v.flip(1)[:, :2]
        X = X * X[:1].sign()  # eigenvectors up to sign
        ((E * _t(g_e)).sum() + (X * _t(g_x)).sum()).backward()
        grads.append(A.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-7)


def test_lobpcg_gradient_differentiates_again_as_eigh():
    """lobpcg's backward is itself differentiable (a Hessian-vector product through the
    eigenpairs), and symmetric like eigh's."""
    a = rng.standard_normal((9, 9))
    a = a @ a.T + 4 * np.eye(9)
    g_e, g_x = rng.standard_normal(2), rng.standard_normal((9, 2))
    results = []
    for use_lobpcg in (True, False):
        A = _t(a, True)
        if use_lobpcg:
            E, X = ember.lobpcg(A, k=2, X=_t(rng.standard_normal((9, 2))), tol=1e-12)
        else:
            w, v = ember.linalg.eigh(A)
            E, X = w.flip(0)[:2], v.flip(1)[:, :2]
        X = X * X[:1].sign()
        loss = (E * _t(g_e)).sum() + (X * _t(g_x)).sum()
        grad, = ember.autograd.grad(loss, A, create_graph=True)
        hessian_vector, = ember.autograd.grad((grad ** 2).sum(), A)
        results.append((grad.detach().numpy(), hessian_vector.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-7)
    np.testing.assert_allclose(results[0][1], results[1][1], atol=1e-7)
    np.testing.assert_allclose(results[0][1], results[0][1].T, atol=1e-12)
