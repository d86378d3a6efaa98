"""float16 / bfloat16 nn ops compute in float32 and round once (PyTorch's CPU rule): against
NumPy float32 oracles rounded to the half dtype, and gradients against ember's own float32
gradients rounded. Inputs make half-precision intermediates fail: float16 squares of values
near 300 overflow, long sums and 1/3 weights lose bits."""
import ml_dtypes
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import ember
import ember.nn.functional as F

HALVES = {ember.float16: (np.dtype(np.float16), 10),  # (NumPy dtype, mantissa bits)
          ember.bfloat16: (np.dtype(ml_dtypes.bfloat16), 7)}
DTYPES = list(HALVES)


def _data(shape, lo, hi, dtype, seed=0):
    """float32 values exactly representable in ``dtype`` (and the half tensor of them)."""
    a = np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)
    a = a.astype(HALVES[dtype][0]).astype(np.float32)
    return a, ember.tensor(a).to(dtype)


def _assert_rounded(got, want32, dtype, ulps=1):
    """``got`` (a half tensor) within ``ulps`` of the float32 ``want32`` rounded to ``dtype``
    (plus a sliver of the scale for results that cancel to near zero)."""
    np_half, mant = HALVES[dtype]
    assert got.dtype == dtype
    want = np.asarray(want32, np.float32).astype(np_half).astype(np.float64)
    g = got.detach().float().numpy().astype(np.float64)
    assert g.shape == want.shape
    finite = np.isfinite(want)
    np.testing.assert_array_equal(g[~finite], want[~finite])
    w, g = want[finite], g[finite]
    spacing = lambda v: 2.0 ** (np.floor(np.log2(np.maximum(np.abs(v), 1e-30))) - mant)  # noqa: E731
    allowed = ulps * spacing(w) + spacing(np.abs(w).max(initial=0.0)) / 64
    assert (np.abs(g - w) <= allowed).all(), np.abs(g - w).max()


def _grads_match_float32(fn, arrays, dtype, ulps=1):
    """The gradients of sum(fn(*inputs) * g) in ``dtype`` within ``ulps`` of the float32 ones
    rounded."""
    half = [ember.tensor(a).to(dtype).requires_grad_() for a in arrays]
    wide = [ember.tensor(a).requires_grad_() for a in arrays]
    out_h, out_w = fn(*half), fn(*wide)
    g, g_half = _data(tuple(out_w.shape), -1, 1, dtype, seed=9)
    out_h.backward(g_half)
    out_w.backward(ember.tensor(g))
    for h, w in zip(half, wide):
        _assert_rounded(h.grad, w.grad.numpy(), dtype, ulps)


# ----------------------------------------------------------------------------------------------
# Normalization

@pytest.mark.parametrize("dtype", DTYPES)
def test_rms_norm_squares_in_float32(dtype):
    x, xt = _data((4, 64), 200, 300, dtype)  # float16 squares overflow
    w, wt = _data((64,), -2, 2, dtype, 1)
    eps = np.finfo(np.float32).eps  # the float32 one: PyTorch upcasts before choosing it
    want = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w
    _assert_rounded(F.rms_norm(xt, (64,), wt), want, dtype)
    small, small_t = _data((3, 8), 0, 0.05, dtype, 2)
    want = small / np.sqrt((small * small).mean(-1, keepdims=True) + eps)
    _assert_rounded(F.rms_norm(small_t, (8,)), want, dtype)
    _grads_match_float32(lambda a, b: F.rms_norm(a, (64,), b), [x, w], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_eval_in_float32(dtype):
    x, xt = _data((5, 4, 7), -3, 3, dtype)
    stats = [_data((4,), lo, hi, dtype, s) for s, (lo, hi) in enumerate([(-1, 1), (0.5, 2),
                                                                         (-2, 2), (-2, 2)], 1)]
    (m, mt), (v, vt), (w, wt), (b, bt) = stats
    want = (x - m[:, None]) / np.sqrt(v[:, None] + 1e-5) * w[:, None] + b[:, None]
    _assert_rounded(F.batch_norm(xt, mt, vt, wt, bt), want, dtype)


def _rounded(a, dtype):
    return a.astype(HALVES[dtype][0]).astype(np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_training_normalizes_with_half_statistics(dtype):
    """PyTorch's kernel keeps the batch mean and rstd (and, for bfloat16, the sum of squared
    deviations) in the half dtype and normalizes with them."""
    x, xt = _data((50, 4, 7), 100, 300, dtype)
    axes = (0, 2)
    mean = x.mean(axes, keepdims=True)
    sq = ((x - mean) ** 2).sum(axes, keepdims=True)
    if dtype is ember.bfloat16:
        sq = _rounded(sq, dtype)
    rstd = _rounded(1 / np.sqrt(sq / 350 + 1e-5), dtype)
    want = (x - _rounded(mean, dtype)) * rstd
    _assert_rounded(F.batch_norm(xt, None, None, training=True), want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["layer", "group"])
def test_layer_and_group_norm_statistics_in_float32(dtype, kind):
    x, xt = _data((6, 4, 30), 200, 300, dtype)
    w, wt = _data((4, 30) if kind == "layer" else (4,), -2, 2, dtype, 1)
    if kind == "layer":
        fn = lambda a, b: F.layer_norm(a, (4, 30), b)  # noqa: E731
        axes, wb = (1, 2), w
    else:
        fn = lambda a, b: F.group_norm(a, 2, b)  # noqa: E731
        axes, wb = (2,), w[:, None]
    xs = x if kind == "layer" else x.reshape(6, 2, 60)
    mean = xs.mean(axes, keepdims=True)
    norm = (xs - mean) / np.sqrt(((xs - mean) ** 2).mean(axes, keepdims=True) + 1e-5)
    _assert_rounded(fn(xt, wt), norm.reshape(x.shape) * wb, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_instance_norm_forward(dtype):
    x, xt = _data((3, 4, 60), 100, 300, dtype)
    mean = x.mean(2, keepdims=True)
    sq = ((x - mean) ** 2).sum(2, keepdims=True)
    if dtype is ember.bfloat16:
        sq = _rounded(sq, dtype)
    rstd = _rounded(1 / np.sqrt(sq / 60 + 1e-5), dtype)
    _assert_rounded(F.instance_norm(xt), (x - _rounded(mean, dtype)) * rstd, dtype)


# ----------------------------------------------------------------------------------------------
# Linear and convolution

@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_adds_the_bias_before_rounding(dtype):
    x, xt = _data((5, 300), -1, 1, dtype)
    w, wt = _data((7, 300), -1, 1, dtype, 1)
    b, bt = _data((7,), -3, 3, dtype, 2)
    _assert_rounded(F.linear(xt, wt, bt), x @ w.T + b, dtype)


def _conv2d_f32(x, w, b, padding):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, w.shape[2:], axis=(2, 3))  # (N, C, H, W, kh, kw)
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True) + b[:, None, None]


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_in_float32(dtype):
    x, xt = _data((2, 16, 9, 9), -1, 1, dtype)
    w, wt = _data((4, 16, 3, 3), -1, 1, dtype, 1)
    b, bt = _data((4,), -2, 2, dtype, 2)
    _assert_rounded(F.conv2d(xt, wt, bt, padding=1), _conv2d_f32(x, w, b, 1), dtype)
    _grads_match_float32(lambda a, c, d: F.conv2d(a, c, d, padding=1), [x, w, b], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose1d_in_float32(dtype):
    x, xt = _data((2, 16, 9), -1, 1, dtype)
    w, wt = _data((16, 4, 3), -1, 1, dtype, 1)
    b, bt = _data((4,), -2, 2, dtype, 2)
    want = np.zeros((2, 4, 19), np.float32)
    for k in range(3):  # output position 2 * l + k gets x[:, :, l] @ w[:, :, k]
        want[:, :, k:k + 17:2] += np.einsum("ncl,co->nol", x, w[:, :, k])
    _assert_rounded(F.conv_transpose1d(xt, wt, bt, stride=2), want + b[:, None], dtype)
    _grads_match_float32(lambda a, c, d: F.conv_transpose1d(a, c, d, stride=2), [x, w, b],
                         dtype)


# ----------------------------------------------------------------------------------------------
# Pooling

@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool2d_sums_in_float32(dtype):
    x, xt = _data((2, 3, 12, 12), 100, 300, dtype)
    win = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (4, 4), axis=(2, 3))
    want = win[:, :, ::2, ::2].mean((-1, -2))
    _assert_rounded(F.avg_pool2d(xt, 4, 2, 1), want, dtype)
    _grads_match_float32(lambda a: F.avg_pool2d(a, 4, 2, 1, count_include_pad=False), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_avg_pool_means_in_float32(dtype, nd):
    x, xt = _data((2, 3) + (11,) * nd, 100, 300, dtype)
    bounds = [(0, 4), (3, 8), (7, 11)]  # the windows of 11 -> 3
    want = x
    for d in range(2, 2 + nd):
        want = np.stack([want.take(range(a, b), axis=d).mean(d) for a, b in bounds], axis=d)
    _assert_rounded(getattr(F, f"adaptive_avg_pool{nd}d")(xt, 3), want, dtype)
    _grads_match_float32(lambda a: getattr(F, f"adaptive_avg_pool{nd}d")(a, 3), [x], dtype)


def _linear_weights(length, out, dtype=None):
    """(out, length) linear interpolation (align_corners=False); with ``dtype`` lambda is
    rounded to it and 1 - lambda rounded from that, as PyTorch's half linear kernels do."""
    src = np.maximum((np.arange(out, dtype=np.float32) + 0.5) * np.float32(length / out) - 0.5, 0)
    i0 = np.minimum(np.floor(src).astype(int), length - 1)
    lam = (src - i0).astype(np.float32)
    lam0 = 1 - lam
    if dtype is not None:
        lam = _rounded(lam, dtype)
        lam0 = _rounded(1 - lam, dtype)
    mat = np.zeros((out, length), np.float32)
    np.add.at(mat, (np.arange(out), i0), lam0)
    np.add.at(mat, (np.arange(out), np.minimum(i0 + 1, length - 1)), lam)
    return mat


@pytest.mark.parametrize("dtype", DTYPES)
def test_interpolate_sums_in_float32(dtype):
    x, xt = _data((2, 3, 7, 9), 100, 300, dtype)
    # bilinear keeps float32 weights; linear (and trilinear, bicubic) round them first
    want = np.einsum("nchw,Hh,Ww->ncHW", x, _linear_weights(7, 11), _linear_weights(9, 5))
    _assert_rounded(F.interpolate(xt, size=(11, 5), mode="bilinear"), want, dtype)
    want = np.einsum("ncw,Ww->ncW", x[:, :, 0], _linear_weights(9, 13, dtype))
    _assert_rounded(F.interpolate(xt[:, :, 0], size=13, mode="linear"), want, dtype)
    _grads_match_float32(lambda a: F.interpolate(a, size=(11, 5), mode="bilinear"), [x], dtype)


# ----------------------------------------------------------------------------------------------
# Embeddings and bilinear

_IDX = np.random.default_rng(5).integers(0, 10, 200)
_OFFSETS = np.array([0, 150, 150, 180])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_in_float32(dtype, mode):
    w, wt = _data((10, 6), 100, 300, dtype)
    rows = w[_IDX]
    bags = np.split(rows, _OFFSETS[1:])
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[mode]
    want = np.stack([reduce(b, 0) if len(b) else np.zeros(6, np.float32) for b in bags])
    got = F.embedding_bag(ember.tensor(_IDX), wt, ember.tensor(_OFFSETS), mode=mode)
    _assert_rounded(got, want, dtype)
    _grads_match_float32(lambda a: F.embedding_bag(ember.tensor(_IDX), a, ember.tensor(_OFFSETS),
                                                   mode=mode), [w], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_bag_per_sample_weights_in_float32(dtype):
    w, wt = _data((10, 6), 100, 300, dtype)
    p, pt = _data((200,), 0.5, 1.5, dtype, 1)
    weighted = w[_IDX] * p[:, None]
    want = np.stack([b.sum(0) for b in np.split(weighted, _OFFSETS[1:])])
    got = F.embedding_bag(ember.tensor(_IDX), wt, ember.tensor(_OFFSETS), mode="sum",
                          per_sample_weights=pt)
    _assert_rounded(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_weight_grad_sums_in_float32(dtype):
    w, _ = _data((10, 6), -1, 1, dtype)
    _grads_match_float32(lambda a: F.embedding(ember.tensor(_IDX), a), [w], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_renorm_norms_in_float32(dtype):
    w, wt = _data((4, 6), 200, 300, dtype)  # float16 squares overflow
    F.embedding(ember.tensor([0, 2]), wt, max_norm=1.0)
    norms = np.linalg.norm(w, axis=1)
    scale = _rounded(1.0 / (_rounded(norms, dtype) + 1e-7), dtype)
    want = w * np.where(np.isin(np.arange(4), [0, 2]), scale, 1.0)[:, None]
    _assert_rounded(wt, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bilinear_rounds_as_pytorch(dtype):
    """PyTorch's half bilinear: input1 @ weight rounded, its products with input2 summed in
    float32 and rounded, then the bias added."""
    x1, x1t = _data((20, 8), -2, 2, dtype)
    x2, x2t = _data((20, 9), -2, 2, dtype, 1)
    w, wt = _data((7, 8, 9), -2, 2, dtype, 2)
    b, bt = _data((7,), -2, 2, dtype, 3)
    left = _rounded(np.einsum("ni,oij->noj", x1, w), dtype)
    want = _rounded(np.einsum("noj,nj->no", left, x2), dtype) + b
    _assert_rounded(F.bilinear(x1t, x2t, wt, bt), want, dtype)


# ----------------------------------------------------------------------------------------------
# torch.masked

@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_mean_sums_in_float32(dtype):
    x, xt = _data((6, 50), 1000, 1010, dtype)
    mask = np.random.default_rng(7).random((6, 50)) > 0.3
    want = np.where(mask, x, 0).sum(1) / mask.sum(1)
    _assert_rounded(ember.masked.mean(xt, 1, mask=ember.tensor(mask)), want, dtype)


@pytest.mark.filterwarnings("ignore:The PyTorch API of MaskedTensors")
@pytest.mark.parametrize("op", ["var", "std"])
def test_masked_tensor_var_std(op):
    x, xt = _data((6, 50), -3, 3, ember.float16)
    mask = np.random.default_rng(7).random((6, 50)) > 0.3
    out = getattr(ember.masked.masked_tensor(xt, ember.tensor(mask)), op)(1)
    want = getattr(ember.masked, op)(xt, 1, mask=ember.tensor(mask))
    np.testing.assert_array_equal(out.get_data().float().numpy(), want.float().numpy())
    np.testing.assert_array_equal(out.get_mask().numpy(), mask.any(1))
