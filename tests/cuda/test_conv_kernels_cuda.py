"""ember.backend.cuda_conv's kernels (im2col, col2im, max pooling) on a GPU: against the CPU
path, against the composed CuPy path they replace (bit for bit where both run the same GEMMs),
and float64 gradchecks."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import kernels as K

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]

TOL = {np.float64: 1e-10, np.float32: 1e-4, np.float16: 5e-2}

CONVS = [  # (C_in, C_out, kernel, stride, padding, dilation, groups)
    (1, 6, 5, 1, 2, 1, 1),  # LeNet-5's first layer
    (6, 16, 5, 1, 0, 1, 1),
    (4, 24, 3, 1, 1, 1, 1),
    (4, 6, 3, 2, 1, 2, 2),
    (5, 4, (3, 2), (1, 2), (2, 1), (1, 2), 1),
    (3, 4, 1, 2, 0, 1, 1),
    (3, 4, 2, 2, 0, 1, 1),
    (3, 16, 2, 2, 0, 1, 1),  # windows that tile, and the same GEMMs as the composed path
    (2, 24, 3, 2, 1, 1, 1),
    (32, 8, 3, 1, 1, 1, 1),  # channels-last columns
    (48, 10, 3, 2, (1, 2), 1, 2),
]


def _conv_step(device, x, w, b, gy, args):
    xt, wt, bt = (ember.tensor(a, device=device, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, *args)
    y.backward(ember.tensor(gy, device=device))
    return [t.detach().cpu().numpy() for t in (y, xt.grad, wt.grad, bt.grad)]


def _conv_data(dtype, c_in, c_out, kernel, stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    k = (kernel,) * 2 if isinstance(kernel, int) else kernel
    x = rng.standard_normal((3, c_in, 12, 11)).astype(dtype)
    w = (rng.standard_normal((c_out, c_in // groups) + k) / 4).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    args = (stride, padding, dilation, groups)
    y = F.conv2d(ember.tensor(x), ember.tensor(w), ember.tensor(b), *args)
    gy = rng.standard_normal(y.shape).astype(dtype)
    return x, w, b, gy, args


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("geometry", CONVS)
def test_conv2d_on_cuda_matches_cpu(dtype, geometry):
    x, w, b, gy, args = _conv_data(dtype, *geometry)
    got = _conv_step("cuda", x, w, b, gy, args)
    # the reference in float64 from the same (rounded) values
    want = _conv_step("cpu", *(a.astype(np.float64) for a in (x, w, b, gy)), args)
    for g, r in zip(got, want):
        assert g.dtype == dtype
        np.testing.assert_allclose(g.astype(np.float64), r, rtol=TOL[dtype],
                                   atol=TOL[dtype] * max(1.0, np.abs(r).max()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("geometry", CONVS)
def test_conv2d_kernels_match_the_composed_cupy_path(monkeypatch, dtype, geometry):
    x, w, b, gy, args = _conv_data(dtype, *geometry)
    got = _conv_step("cuda", x, w, b, gy, args)
    with monkeypatch.context() as mp:
        mp.setattr(K, "_on_gpu", lambda *args: False)
        want = _conv_step("cuda", x, w, b, gy, args)
    c_in, c_out, kernel = geometry[:3]
    k = (kernel,) * 2 if isinstance(kernel, int) else kernel
    cg = c_in // geometry[-1]
    # the kernels' input gradient runs other GEMMs than the composed path's here
    other_gemms = K._channels_last(cg) or K._batch_last(k, cg, c_out // geometry[-1])
    for i, (g, r) in enumerate(zip(got, want)):
        if i == 1 and other_gemms:
            np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64),
                                       rtol=TOL[dtype], atol=TOL[dtype] * np.abs(r).max())
        else:
            np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("nd", [1, 3])
def test_conv1d_conv3d_and_transposed_on_cuda_match_cpu(nd):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3) + (7,) * nd)
    w = rng.standard_normal((4, 3) + (3,) * nd)
    conv = F.conv1d if nd == 1 else F.conv3d
    transposed = F.conv_transpose1d if nd == 1 else F.conv_transpose3d
    results = []
    for device in ("cpu", "cuda"):
        xt = ember.tensor(x, device=device, requires_grad=True)
        wt = ember.tensor(w, device=device, requires_grad=True)
        y = conv(xt, wt, stride=2, padding=1)
        z = transposed(y, wt, stride=2, padding=1, output_padding=1)
        z.sum().backward()
        results.append([t.detach().cpu().numpy() for t in (y, z, xt.grad, wt.grad)])
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)


POOLS = [  # (kernel, stride, padding, dilation, ceil_mode)
    (2, 2, 0, 1, False),
    (3, 2, 1, 1, True),
    (3, 1, 1, 2, False),
    ((2, 3), (1, 2), (1, 1), (2, 1), True),
    (2, 1, 0, 1, False),
    (3, 3, 1, 1, True),
]


def _pool_step(device, x, g, v, args):
    xt = ember.tensor(x, device=device, requires_grad=True)
    y, idx = F.max_pool2d(xt, *args, return_indices=True)
    gt = ember.tensor(g, device=device, requires_grad=True)
    (gx,) = ember.autograd.grad(y, xt, gt, create_graph=True)
    (gg,) = ember.autograd.grad((gx * ember.tensor(v, device=device)).sum(), gt)
    return [t.detach().cpu().numpy() for t in (y, idx, gx, gg)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("geometry", POOLS)
def test_max_pool2d_on_cuda_matches_cpu_and_the_composed_path(monkeypatch, dtype, geometry):
    kernel, stride, padding, dilation, ceil_mode = geometry
    args = (kernel, stride, padding, dilation, ceil_mode)
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 3, (2, 3, 10, 9)).astype(dtype)  # many ties
    x[0, 0, 1, 1] = x[0, 0, 2, 0] = x[1, 2, 4, 5] = x[1, 2, 4, 6] = np.nan
    out = F.max_pool2d(ember.tensor(x), *args)
    g = rng.standard_normal(out.shape).astype(dtype)
    v = rng.standard_normal(x.shape).astype(dtype)
    got = _pool_step("cuda", x, g, v, args)
    want = _pool_step("cpu", x, g, v, args)
    with monkeypatch.context() as mp:
        mp.setattr(K, "_on_gpu", lambda *args: False)
        composed = _pool_step("cuda", x, g, v, args)
    assert got[1].dtype == np.int64
    for a, r, c in zip(got, want, composed):
        np.testing.assert_array_equal(a, r)
        np.testing.assert_array_equal(a, c)


def test_max_pool_1d_3d_integers_and_unbatched_on_cuda_match_cpu():
    rng = np.random.default_rng(2)
    cases = [(F.max_pool1d, rng.standard_normal((2, 3, 11)), (3, 2, 1)),
             (F.max_pool3d, rng.standard_normal((2, 2, 5, 6, 7)), (2, (1, 2, 2), 1)),
             (F.max_pool2d, rng.integers(-9, 9, (3, 8, 7)).astype(np.int32), (3, 2, 1))]
    for pool, x, args in cases:
        results = []
        for device in ("cpu", "cuda"):
            y, idx = pool(ember.tensor(x, device=device), *args, return_indices=True)
            results.append((y.cpu().numpy(), idx.cpu().numpy()))
        for a, r in zip(*results):
            np.testing.assert_array_equal(a, r)


def test_col2im_users_on_cuda_match_cpu():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    cols = rng.standard_normal((2, 3 * 6, 15)).astype(np.float32)
    w = rng.standard_normal((3, 4, 2, 2)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        xt = ember.tensor(x, device=device, requires_grad=True)
        F.avg_pool2d(xt, 3, 1, 1).sum().backward()
        folded = F.fold(ember.tensor(cols, device=device), (5, 6), (2, 3), dilation=(2, 1),
                        padding=1, stride=(1, 2))
        y = F.conv_transpose2d(ember.tensor(x, device=device), ember.tensor(w, device=device),
                               stride=2, padding=1, output_padding=1)
        results.append([t.cpu().numpy() for t in (xt.grad, folded, y)])
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5)


def test_conv_and_max_pool_gradcheck_in_float64_on_cuda():
    rng = np.random.default_rng(4)
    x = ember.tensor(rng.standard_normal((2, 4, 7, 6)), device="cuda", requires_grad=True)
    w = ember.tensor(rng.standard_normal((6, 2, 3, 3)), device="cuda", requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda a, b: F.conv2d(a, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (x, w))
    w_cl = ember.tensor(rng.standard_normal((3, 24, 3, 3)), device="cuda", requires_grad=True)
    x_cl = ember.tensor(rng.standard_normal((1, 24, 5, 5)), device="cuda", requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x_cl, w_cl))
    # distinct values: no ties, so max pooling is differentiable at x
    xp = ember.tensor(rng.permutation(2 * 3 * 8 * 7).reshape(2, 3, 8, 7) / 10.0, device="cuda",
                      requires_grad=True)
    assert ember.autograd.gradcheck(lambda a: F.max_pool2d(a, 3, 2, 1, ceil_mode=True), (xp,))
    assert ember.autograd.gradgradcheck(lambda a: F.max_pool2d(a, 2, 1), (xp,))
