"""The torch.* / torch.linalg names added for API coverage, against real PyTorch: values,
dtypes and shapes on the same inputs, and float64 gradients where differentiable."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

rng = np.random.default_rng(2)
A = rng.standard_normal((4, 3))
SQ = rng.standard_normal((3, 3))
SPD = SQ @ SQ.T + 3 * np.eye(3)
V = rng.standard_normal(6)
V[0] = 0.0
W = rng.standard_normal(6)


def _both(a):
    return ember.tensor(a), torch.tensor(a)


def _np(x):
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def _same(e, t, atol=1e-9):
    e, t = _np(e), _np(t)
    if isinstance(t, list):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            _same(a, b, atol)
        return
    assert e.shape == t.shape and e.dtype == t.dtype, (e.shape, t.shape, e.dtype, t.dtype)
    np.testing.assert_allclose(e, t, rtol=1e-6, atol=atol, equal_nan=True)


CASES = [
    ("sinc", lambda m, x, y: m.sinc(x), V),
    ("deg2rad", lambda m, x, y: m.deg2rad(x), V),
    ("rad2deg", lambda m, x, y: m.rad2deg(x), V),
    ("i0", lambda m, x, y: m.i0(x), V),
    ("copysign", lambda m, x, y: m.copysign(x, y), V),
    ("logaddexp2", lambda m, x, y: m.logaddexp2(x, y), V),
    ("nextafter", lambda m, x, y: m.nextafter(x, y), V),
    ("heaviside", lambda m, x, y: m.heaviside(x, y), V),
    ("frexp", lambda m, x, y: tuple(m.frexp(x)), V),
    ("mvlgamma", lambda m, x, y: m.mvlgamma(x.abs() + 2, 2), V),
    ("dist", lambda m, x, y: m.dist(x, y, 3), V),
    ("cov", lambda m, x, y: m.cov(m.stack([x, y])), V),
    ("corrcoef", lambda m, x, y: m.corrcoef(m.stack([x, y])), V),
    ("quantile", lambda m, x, y: m.quantile(x, 0.3), V),
    ("nanquantile", lambda m, x, y: m.nanquantile(x.reshape(2, 3), 0.7, 1, True), V),
    ("trapezoid", lambda m, x, y: m.trapezoid(x, y.cumsum(0)), V),
    ("cumulative_trapezoid", lambda m, x, y: m.cumulative_trapezoid(x, dx=0.5), V),
    ("renorm", lambda m, x, y: m.renorm(x.reshape(2, 3), 2, 0, 0.5), V),
    ("histogram", lambda m, x, y: tuple(m.histogram(x, 3)), V),
    ("vander", lambda m, x, y: m.vander(x, 3), V),
    ("block_diag", lambda m, x, y: m.block_diag(x[:2].reshape(1, 2), y[:3]), V),
    ("combinations", lambda m, x, y: m.combinations(x[:4], 3), V),
    ("slice_scatter", lambda m, x, y: m.slice_scatter(x, y[:3], 0, 0, None, 2), V),
    ("select_scatter", lambda m, x, y: m.select_scatter(x.reshape(2, 3), y[:3], 0, 1), V),
    ("diagonal_scatter", lambda m, x, y: m.diagonal_scatter(x.reshape(2, 3), y[:2], 1), V),
    ("ravel", lambda m, x, y: m.ravel(x.reshape(2, 3).t()), V),
    ("cosine_similarity", lambda m, x, y: m.cosine_similarity(x.reshape(2, 3),
                                                             y.reshape(2, 3)), V),
    ("pairwise_distance", lambda m, x, y: m.pairwise_distance(x.reshape(2, 3),
                                                             y.reshape(2, 3)), V),
    ("pdist", lambda m, x, y: m.pdist(x.reshape(3, 2)), V),
    ("kl_div", lambda m, x, y: m.kl_div(x.log_softmax(0), y.softmax(0)), V),
    ("kl_div_mean", lambda m, x, y: m.kl_div(x.log_softmax(0), y.softmax(0), 1), V),
    ("bce_logits", lambda m, x, y: m.binary_cross_entropy_with_logits(x, y.sigmoid()), V),
    ("hinge", lambda m, x, y: m.hinge_embedding_loss(x, y.sign(), 1.0, 2), V),
    ("layer_norm", lambda m, x, y: m.layer_norm(x.reshape(2, 3), (3,)), V),
    ("hardshrink", lambda m, x, y: m.hardshrink(x), V),
    ("threshold", lambda m, x, y: m.threshold(x, 0.1, 20.0), V),
    ("linalg.solve_triangular",
     lambda m, x, y: m.linalg.solve_triangular(m.tensor(SQ) + 3 * m.eye(3, dtype=m.float64),
                                               x.reshape(3, 2), upper=True), V),
    ("linalg.matrix_exp", lambda m, x, y: m.linalg.matrix_exp(x[:4].reshape(2, 2)), V),
    ("linalg.cond", lambda m, x, y: m.linalg.cond(m.tensor(SQ)), V),
    ("linalg.matrix_rank", lambda m, x, y: m.linalg.matrix_rank(m.tensor(A)), V),
    ("linalg.lu_factor", lambda m, x, y: tuple(m.linalg.lu_factor(m.tensor(SQ))), V),
    ("linalg.lu", lambda m, x, y: tuple(m.linalg.lu(m.tensor(A))), V),
    ("linalg.cholesky", lambda m, x, y: m.linalg.cholesky(m.tensor(SPD)), V),
    ("cholesky_inverse", lambda m, x, y: m.cholesky_inverse(m.linalg.cholesky(m.tensor(SPD))),
     V),
    ("linalg.eigvalsh", lambda m, x, y: m.linalg.eigvalsh(m.tensor(SPD)), V),
    ("linalg.svdvals", lambda m, x, y: m.linalg.svdvals(m.tensor(A)), V),
    ("linalg.lstsq", lambda m, x, y: m.linalg.lstsq(m.tensor(A), x[:4]).solution, V),
    ("linalg.vecdot", lambda m, x, y: m.linalg.vecdot(x, y), V),
    ("linalg.vander", lambda m, x, y: m.linalg.vander(x[:3]), V),
    ("linalg.inv_ex", lambda m, x, y: tuple(m.linalg.inv_ex(m.tensor(SPD))), V),
    ("pinverse", lambda m, x, y: m.pinverse(m.tensor(A)), V),
]


@pytest.mark.parametrize("name,fn,data", CASES, ids=[c[0] for c in CASES])
def test_values_match_torch(name, fn, data):
    (ex, tx), (ey, ty) = _both(data), _both(W)
    _same(fn(ember, ex, ey), fn(torch, tx, ty))


GRAD_CASES = [c for c in CASES if c[0] in (
    "sinc", "i0", "copysign", "logaddexp2", "mvlgamma", "dist", "cov", "corrcoef", "quantile",
    "trapezoid", "renorm", "slice_scatter", "diagonal_scatter", "linalg.matrix_exp",
    "linalg.solve_triangular", "linalg.lstsq", "layer_norm", "cosine_similarity")]


@pytest.mark.parametrize("name,fn,data", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_torch(name, fn, data):
    ex = ember.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    ey, ty = ember.tensor(W), torch.tensor(W)
    (fn(ember, ex, ey) * ember.tensor(1.7)).sum().backward()
    (fn(torch, tx, ty) * torch.tensor(1.7)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_decomposition_gradients_match_torch():
    def svd_loss(m, x):
        u, s, vh = m.linalg.svd(x, full_matrices=False)
        return (u[:, :1] @ vh[:1]).pow(2).sum() + s.sum()

    def eigh_loss(m, x):
        w, v = m.linalg.eigh(x + x.mT)
        return w.pow(2).sum() + (v[:, :1] @ v[:, :1].mT).pow(2).sum()

    def chol_loss(m, x):
        return m.linalg.cholesky(x @ x.mT + 3 * m.eye(3, dtype=m.float64)).sum()

    for loss, data in [(svd_loss, A), (eigh_loss, SQ), (chol_loss, SQ)]:
        ex = ember.tensor(data, requires_grad=True)
        tx = torch.tensor(data, requires_grad=True)
        loss(ember, ex).backward()
        loss(torch, tx).backward()
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window",
                                  "bartlett_window", "kaiser_window"])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch(name, periodic):
    for n in (0, 1, 5, 8):
        # float32 windows: PyTorch's cosines round differently near zero
        _same(getattr(ember, name)(n, periodic), getattr(torch, name)(n, periodic), atol=1e-7)


@pytest.mark.parametrize("kwargs", [
    dict(n_fft=32), dict(n_fft=32, hop_length=5, win_length=20), dict(n_fft=16, center=False),
    dict(n_fft=32, normalized=True, onesided=False), dict(n_fft=32, pad_mode="constant")])
def test_stft_istft_match_torch(kwargs):
    x = rng.standard_normal((2, 200))
    ew = ember.hann_window(kwargs.get("win_length", kwargs["n_fft"]), dtype=ember.float64)
    tw = torch.hann_window(kwargs.get("win_length", kwargs["n_fft"]), dtype=torch.float64)
    es = ember.stft(ember.tensor(x), window=ew, return_complex=True, **kwargs)
    ts = torch.stft(torch.tensor(x), window=tw, return_complex=True, **kwargs)
    _same(es, ts)
    ikw = {k: v for k, v in kwargs.items() if k != "pad_mode"}
    if ikw.get("center", True):
        _same(ember.istft(es, window=ew, length=200, **ikw),
              torch.istft(ts, window=tw, length=200, **ikw))


def test_runtime_getters_match_torch_defaults():
    assert ember.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    assert ember.are_deterministic_algorithms_enabled() == \
        torch.are_deterministic_algorithms_enabled()
    assert ember.is_anomaly_enabled() == torch.is_anomaly_enabled()
    assert ember.is_autocast_enabled() == torch.is_autocast_enabled()
    assert ember.get_autocast_dtype("cpu") == ember.bfloat16
    assert ember.typename(ember.zeros(2)) == torch.typename(torch.zeros(2))
    assert ember.typename(3) == torch.typename(3)
    assert ember.is_signed(ember.zeros(1, dtype=ember.uint8)) == \
        torch.is_signed(torch.zeros(1, dtype=torch.uint8))
    assert (ember.pi, ember.e, ember.inf) == (torch.pi, torch.e, torch.inf)


def test_functional_aliases_take_torch_level_signatures():
    w = rng.standard_normal((5, 2))
    idx = np.array([1, 4, 1])
    _same(ember.embedding(ember.tensor(w), ember.tensor(idx)),
          torch.embedding(torch.tensor(w), torch.tensor(idx)))
    x = rng.standard_normal((4, 3, 2))
    e_rm, e_rv = ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)
    t_rm, t_rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    _same(ember.batch_norm(ember.tensor(x), None, None, e_rm, e_rv, True, 0.1, 1e-5, False),
          torch.batch_norm(torch.tensor(x), None, None, t_rm, t_rv, True, 0.1, 1e-5, False))
    _same(e_rm, t_rm)
    _same(e_rv, t_rv)
    _same(ember.instance_norm(ember.tensor(x), None, None, None, None, True, 0.1, 1e-5, False),
          torch.instance_norm(torch.tensor(x), None, None, None, None, True, 0.1, 1e-5, False))
    _same(ember.group_norm(ember.tensor(x), 1), torch.group_norm(torch.tensor(x), 1))
    _same(ember.dropout(ember.tensor(x), 0.5, False), torch.dropout(torch.tensor(x), 0.5, False))
    kept = ember.feature_dropout(ember.ones(8, 4, 5), 0.5, True).numpy()
    assert set(np.unique(kept)) <= {0.0, 2.0}
    assert (kept.std(axis=2) == 0).all()  # whole channels are kept or dropped
    _same(ember.margin_ranking_loss(ember.tensor(V), ember.tensor(W), ember.tensor(np.sign(W))),
          torch.margin_ranking_loss(torch.tensor(V), torch.tensor(W), torch.tensor(np.sign(W))))


@pytest.mark.parametrize("name,data,kwargs", [
    ("fft", A, {}), ("fft", A.astype(np.float32), {"n": 6, "norm": "ortho"}),
    ("ifft", A + 1j * A, {"dim": 0}), ("rfft", A, {}), ("irfft", A + 1j * A, {"n": 5}),
    ("hfft", A + 1j * A, {}), ("fft2", A, {}), ("rfft2", A, {"s": (3, 4)}),
    ("irfft2", A + 1j * A, {}), ("fftn", A + 1j * A, {"dim": (0,)}), ("fftshift", A, {}),
    ("ifftshift", A, {"dim": 1})])
def test_fft_matches_torch(name, data, kwargs):
    _same(getattr(ember.fft, name)(ember.tensor(data), **kwargs),
          getattr(torch.fft, name)(torch.tensor(data), **kwargs), atol=1e-5)
