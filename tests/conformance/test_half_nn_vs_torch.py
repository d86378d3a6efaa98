"""float16 / bfloat16 nn ops against torch's CPU kernels, which compute in float32 and round
once (normalization keeps its mean and rstd in the half dtype, as torch saves them). Inputs are
drawn so that float32 accumulation matters: long sums, values near 256 whose squares overflow
float16. Results may differ by one unit in the last place of the half type, plus a sliver of
the output's scale for values that cancel to near zero (float32 sums in another order)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as TF  # noqa: E402

import ember  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

HALF = [torch.float16, torch.bfloat16]
_BITS = {torch.float16: (10, -14), torch.bfloat16: (7, -126)}  # mantissa bits, min exponent


def _ulp(v, dtype):
    """The spacing of ``dtype`` at the float64 values ``v``."""
    mant, emin = _BITS[dtype]
    e = np.floor(np.log2(np.maximum(np.abs(v), 2.0 ** emin)))
    return 2.0 ** (e - mant)


def _assert_ulps(got, want, dtype, ulps=1.0, what="output", scale_ulps=1 / 64):
    assert got.dtype == getattr(ember, str(dtype).split(".")[-1]), (what, got.dtype)
    g = got.detach().float().numpy().astype(np.float64)
    w = want.detach().float().numpy().astype(np.float64)
    assert g.shape == w.shape, what
    finite = np.isfinite(w)
    np.testing.assert_array_equal(g[~finite], w[~finite], err_msg=what)
    scale = np.abs(w[finite]).max(initial=0.0)
    allowed = ulps * _ulp(w[finite], dtype) + scale_ulps * _ulp(scale, dtype)
    err = np.abs(g[finite] - w[finite])
    worst = int(np.argmax(err - allowed)) if err.size else 0
    assert (err <= allowed).all(), (
        f"{what}: {int((err > allowed).sum())}/{err.size} beyond {ulps} ulp; worst "
        f"{g[finite][worst]} vs {w[finite][worst]}")


def _pair(shape, dtype, lo, hi, seed):
    a = np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)
    t = torch.tensor(a).to(dtype)
    e = ember.tensor(t.float().numpy()).to(getattr(ember, str(dtype).split(".")[-1]))
    return t, e


def _check(fn_t, fn_e, specs, dtype, grad=True, ulps=1.0, grad_ulps=1.0, skip_grads=(),
           scale_ulps=1 / 64, grad_scale_ulps=None, torch_in_float32=False):
    """Run ``fn_t`` and ``fn_e`` on tensors drawn from ``specs`` ((shape, lo, hi) each) and
    compare the outputs, then (``grad``) the gradients of every input. ``torch_in_float32``
    runs torch on float32 copies and rounds its results: the float32 reference, where torch's
    own half kernel is less precise or missing."""
    pairs = [_pair(shape, dtype, lo, hi, seed) for seed, (shape, lo, hi) in enumerate(specs)]
    ts = [(t.float() if torch_in_float32 else t).requires_grad_(grad) for t, _ in pairs]
    es = [e.requires_grad_(grad) for _, e in pairs]
    out_t, out_e = fn_t(*ts), fn_e(*es)
    _assert_ulps(out_e, out_t.to(dtype), dtype, ulps, scale_ulps=scale_ulps)
    if not grad:
        return
    g_t, g_e = _pair(tuple(out_t.shape), dtype, -1, 1, 99)
    out_t.backward(g_t.to(out_t.dtype))
    out_e.backward(g_e)
    for i, (t, e) in enumerate(zip(ts, es)):
        if i not in skip_grads:
            _assert_ulps(e.grad, t.grad.to(dtype), dtype, grad_ulps, f"grad of input {i}",
                         scale_ulps if grad_scale_ulps is None else grad_scale_ulps)


# ----------------------------------------------------------------------------------------------
# Normalization

@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("affine", [False, True])
def test_rms_norm(dtype, affine):
    specs = [((4, 64), 200, 300)] + [((64,), -2, 2)] * affine
    _check(lambda x, *w: TF.rms_norm(x, (64,), *w), lambda x, *w: EF.rms_norm(x, (64,), *w),
           specs, dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_rms_norm_small_values_use_float32_eps(dtype):
    _check(lambda x: TF.rms_norm(x, (8,)), lambda x: EF.rms_norm(x, (8,)),
           [((4, 8), 0, 0.05)], dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_layer_norm(dtype):
    # torch sums the weight and bias gradients of half input in its own order, in half
    _check(lambda x, w, b: TF.layer_norm(x, (64,), w, b),
           lambda x, w, b: EF.layer_norm(x, (64,), w, b),
           [((6, 64), 200, 300), ((64,), -2, 2), ((64,), -2, 2)], dtype, skip_grads=(1, 2))


@pytest.mark.parametrize("dtype", HALF)
def test_group_norm(dtype):
    _check(lambda x, w, b: TF.group_norm(x, 2, w, b), lambda x, w, b: EF.group_norm(x, 2, w, b),
           [((3, 4, 40), 100, 300), ((4,), -2, 2), ((4,), -2, 2)], dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_batch_norm_training(dtype):
    _check(lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
           lambda x, w, b: EF.batch_norm(x, None, None, w, b, training=True),
           [((50, 4, 7), 100, 300), ((4,), -2, 2), ((4,), -2, 2)], dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_batch_norm_eval(dtype):
    _check(lambda x, m, v, w, b: TF.batch_norm(x, m, v, w, b, training=False),
           lambda x, m, v, w, b: EF.batch_norm(x, m, v, w, b, training=False),
           [((5, 4, 7), -3, 3), ((4,), -1, 1), ((4,), 0.5, 2), ((4,), -2, 2), ((4,), -2, 2)],
           dtype, grad=False)
    _check(lambda x, w, b: TF.batch_norm(x, torch.full((4,), 0.3, dtype=dtype),
                                         torch.full((4,), 1.7, dtype=dtype), w, b),
           lambda x, w, b: EF.batch_norm(x, ember.full((4,), 0.3, dtype=x.dtype),
                                         ember.full((4,), 1.7, dtype=x.dtype), w, b),
           [((5, 4, 7), -3, 3), ((4,), -2, 2), ((4,), -2, 2)], dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_instance_norm(dtype):
    # torch's bfloat16 rstd of (1, N * C, ...) can be an ulp off the float32 one rounded (more
    # than its rounded sum of squares explains): an error of up to an ulp of the output's scale
    scale_ulps = 1 if dtype == torch.bfloat16 else 1 / 64
    _check(lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
           lambda x, w, b: EF.instance_norm(x, weight=w, bias=b),
           [((3, 4, 60), 100, 300), ((4,), -2, 2), ((4,), -2, 2)], dtype, scale_ulps=scale_ulps)


_NATIVE_NORMS = {
    "layer": lambda lib, x: lib.native_layer_norm(x, (30,), None, None, 1e-5),
    "batch": lambda lib, x: lib.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5),
    "group": lambda lib, x: lib.native_group_norm(x, None, None, 6, 4, 30, 2, 1e-5),
}


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("kind", sorted(_NATIVE_NORMS))
def test_native_norm_statistics(dtype, kind):
    """The output, mean and rstd (in the half dtype) of the native_*_norm functions."""
    t, e = _pair((6, 4, 30), dtype, 100, 300, 0)
    for i, (got, want) in enumerate(zip(_NATIVE_NORMS[kind](ember, e),
                                        _NATIVE_NORMS[kind](torch, t))):
        _assert_ulps(got, want, dtype, what=f"result {i}")


# ----------------------------------------------------------------------------------------------
# Linear, convolution, pooling

@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("lead", [(5,), (2, 5)])
def test_linear(dtype, lead):
    _check(TF.linear, EF.linear, [(lead + (300,), -1, 1), ((7, 300), -1, 1), ((7,), -3, 3)],
           dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_linear_without_bias(dtype):
    _check(TF.linear, EF.linear, [((2, 5, 300), -1, 1), ((7, 300), -1, 1)], dtype)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("lead", [(20,), (2, 3)])
def test_bilinear(dtype, lead):
    # torch rounds input1 @ weight to the half dtype first; ember composes the same way
    specs = [(lead + (8,), -2, 2), (lead + (9,), -2, 2), ((7, 8, 9), -2, 2), ((7,), -2, 2)]
    _check(TF.bilinear, EF.bilinear, specs, dtype, grad=False)
    # torch's half gradients round other intermediates (its inputs' are several ulps off
    # float32's); ember's, each with one rounded intermediate (up to an ulp of its scale),
    # against the float32 reference
    _check(TF.bilinear, EF.bilinear, specs, dtype, scale_ulps=1, torch_in_float32=True)


# torch's float16 transposed convolution (and so conv's input gradient) rounds its GEMM columns
# to float16 before summing the overlapping windows and adding the bias, and its weight gradient
# adds the samples' products in float16; ember rounds once (closer to float64). The extra
# roundings cost torch up to about an ulp of the result's scale per spatial dim.
def _col2im_slack(dtype, nd):
    return nd if dtype == torch.float16 else 1 / 64


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv(dtype, nd):
    name = f"conv{nd}d"
    fn_t = lambda x, w, b: getattr(TF, name)(x, w, b, padding=1)  # noqa: E731
    fn_e = lambda x, w, b: getattr(EF, name)(x, w, b, padding=1)  # noqa: E731
    specs = [((2, 3) + (9,) * nd, -1, 1), ((4, 3) + (3,) * nd, -1, 1), ((4,), -2, 2)]
    _check(fn_t, fn_e, specs, dtype, grad_scale_ulps=_col2im_slack(dtype, nd))


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose(dtype, nd):
    name = f"conv_transpose{nd}d"
    _check(lambda x, w, b: getattr(TF, name)(x, w, b, stride=2),
           lambda x, w, b: getattr(EF, name)(x, w, b, stride=2),
           [((2, 3) + (9,) * nd, -1, 1), ((3, 4) + (3,) * nd, -1, 1), ((4,), -2, 2)], dtype,
           scale_ulps=_col2im_slack(dtype, nd))


# torch adds the gradients of overlapping pooling windows in the half dtype (ember in float32,
# rounding once): up to about an ulp of the gradient's scale apart.
_POOL_GRAD_SLACK = 1


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool(dtype, nd, count_include_pad):
    name = f"avg_pool{nd}d"
    # torch has no half avg_pool3d on the CPU: its float32 result rounded is the reference
    _check(lambda x: getattr(TF, name)(x, 4, 2, 1, count_include_pad=count_include_pad),
           lambda x: getattr(EF, name)(x, 4, 2, 1, count_include_pad=count_include_pad),
           [((2, 3) + (12,) * nd, 100, 300)], dtype, grad_scale_ulps=_POOL_GRAD_SLACK,
           torch_in_float32=nd == 3)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_avg_pool(dtype, nd):
    name = f"adaptive_avg_pool{nd}d"
    # torch's half adaptive_avg_pool3d sums its windows in the half dtype (many ulps off)
    _check(lambda x: getattr(TF, name)(x, 3), lambda x: getattr(EF, name)(x, 3),
           [((2, 3) + (11,) * nd, 100, 300)], dtype, grad_scale_ulps=_POOL_GRAD_SLACK,
           torch_in_float32=nd == 3)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("nd", [1, 2])
def test_lp_pool(dtype, nd):
    name = f"lp_pool{nd}d"
    _check(lambda x: getattr(TF, name)(x, 2, 3), lambda x: getattr(EF, name)(x, 2, 3),
           [((2, 3) + (9,) * nd, 1, 30)], dtype, grad_scale_ulps=_POOL_GRAD_SLACK)


# (mode, spatial dims, options, whether torch's half kernel is the reference: it has no half
# antialiasing, so float32's rounded is the reference there)
_INTERPOLATIONS = [("linear", 1, {}, True), ("bilinear", 2, {}, True),
                   ("bilinear", 2, {"align_corners": True}, True), ("bicubic", 2, {}, True),
                   ("bilinear", 2, {"antialias": True}, False), ("trilinear", 3, {}, True),
                   ("linear", 1, {"align_corners": True}, True)]


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("mode, nd, kw, torch_half", _INTERPOLATIONS)
@pytest.mark.parametrize("size", [5, 13])
def test_interpolate(dtype, mode, nd, kw, torch_half, size):
    _check(lambda x: TF.interpolate(x, size=size, mode=mode, **kw),
           lambda x: EF.interpolate(x, size=size, mode=mode, **kw),
           [((2, 3) + (9,) * nd, 100, 300)], dtype, grad_scale_ulps=_POOL_GRAD_SLACK,
           torch_in_float32=not torch_half)


# ----------------------------------------------------------------------------------------------
# Embedding bags

@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("mode, weighted", [("sum", False), ("mean", False), ("max", False),
                                            ("sum", True)])  # (weights need mode='sum')
def test_embedding_bag(dtype, mode, weighted):
    idx = np.random.default_rng(5).integers(0, 10, 60)
    offsets = np.array([0, 25, 25, 40])

    def fn(lib, F):
        def bag(w, *p):
            return F.embedding_bag(lib.tensor(idx), w, lib.tensor(offsets), mode=mode,
                                   per_sample_weights=p[0] if p else None)
        return bag

    specs = [((10, 6), 100, 300)] + [((60,), 0.5, 1.5)] * weighted
    # (torch rounds a mean bag's sum before dividing it; ember rounds once: within an ulp)
    _check(fn(torch, TF), fn(ember, EF), specs, dtype, grad=False)
    # torch adds the weight's gradient rows one by one in the half dtype; ember sums them in
    # float32 and rounds once: the float32 reference
    _check(fn(torch, TF), fn(ember, EF), specs, dtype, torch_in_float32=True)


@pytest.mark.parametrize("dtype", HALF)
def test_embedding_weight_grad_sums_in_float32(dtype):
    # torch adds the rows one by one in the half dtype: the float32 reference
    idx = np.random.default_rng(5).integers(0, 10, 300)
    _check(lambda w: TF.embedding(torch.tensor(idx), w),
           lambda w: EF.embedding(ember.tensor(idx), w),
           [((10, 6), -1, 1)], dtype, torch_in_float32=True)


# ----------------------------------------------------------------------------------------------
# torch.masked reductions: composed of half ops in torch (so float16 squares of values above 256
# overflow there too); ember composes the same ops

@pytest.mark.filterwarnings("ignore:The PyTorch API of MaskedTensors")
@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("op", ["var", "std", "mean", "sum"])
@pytest.mark.parametrize("lo, hi", [(-3, 3), (100, 300), (1000, 1010)])
def test_masked_reductions(dtype, op, lo, hi):
    mask = np.random.default_rng(7).random((6, 50)) > 0.3
    kw = {"unbiased": True} if op in ("var", "std") else {}
    _check(lambda x: getattr(torch.masked, op)(x, 1, mask=torch.tensor(mask), **kw),
           lambda x: getattr(ember.masked, op)(x, 1, mask=ember.tensor(mask), **kw),
           [((6, 50), lo, hi)], dtype)


@pytest.mark.filterwarnings("ignore:The PyTorch API of MaskedTensors")
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("args, kwargs", [((1,), {}), ((), {}), ((1, True), {}),
                                          ((), {"dim": 0, "keepdim": True})])
def test_masked_tensor_var_std(op, args, kwargs):
    # torch's MaskedTensor takes float16 but not bfloat16; a row with nothing specified is NaN
    mask = np.random.default_rng(7).random((6, 50)) > 0.3
    mask[2] = False
    t, e = _pair((6, 50), torch.float16, -3, 3, 0)
    out_t = getattr(torch.masked.masked_tensor(t, torch.tensor(mask)), op)(*args, **kwargs)
    out_e = getattr(ember.masked.masked_tensor(e, ember.tensor(mask)), op)(*args, **kwargs)
    np.testing.assert_array_equal(out_e.get_mask().numpy(), out_t.get_mask().numpy())
    _assert_ulps(out_e.get_data(), out_t.get_data(), torch.float16)
