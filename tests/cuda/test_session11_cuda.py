"""Sessions 8-11's CUDA paths against NumPy and the CPU: cuBLAS products of vectors and empty
matrices, ReLU's one-kernel backward, the foreach ops, antialiased interpolation, the half-type
pointwise ops and sparse products."""
import ml_dtypes
import numpy as np
import pytest

import ember

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")]

BF16 = np.dtype(ml_dtypes.bfloat16)
FLOATS = [np.float64, np.float32, np.float16, BF16]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shapes", [((5,), (5,)), ((5,), (5, 3)), ((4, 5), (5,)),
                                    ((2, 4, 5), (5,)), ((5,), (2, 5, 3)), ((0, 2), (2, 0)),
                                    ((2, 0), (0, 3)), ((3, 0, 2), (3, 2, 4)), ((0,), (0,))])
def test_gemm_vectors_and_empty_match_numpy(dtype, shapes):
    import cupy

    from ember.backend import cuda
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    got = cuda.gemm(cupy.asarray(a), cupy.asarray(b))
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape and got.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5 if dtype == np.float32 else 2e-2
    np.testing.assert_allclose(got.get().astype(np.float64), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_backward_kernel_matches_cpu(dtype):
    x = np.array([-2.0, -0.0, 0.0, 1.5, np.inf, -np.inf, np.nan, 3.0], dtype)
    g = np.array([1.0, 2.0, 3.0, np.nan, np.inf, 4.0, 5.0, -np.inf], dtype)
    grads = []
    for device in ("cpu", "cuda"):
        t = ember.tensor(x, device=device, requires_grad=True)
        ember.relu(t).backward(ember.tensor(g, device=device))
        grads.append(t.grad.cpu().numpy())
    np.testing.assert_array_equal(grads[1].view(np.uint8), grads[0].view(np.uint8))


def test_relu_double_backward_on_cuda_matches_cpu():
    results = []
    for device in ("cpu", "cuda"):
        x = ember.tensor([-1.0, 0.5, 2.0], dtype=ember.float64, device=device,
                         requires_grad=True)
        g = ember.ones(3, dtype=ember.float64, device=device, requires_grad=True)
        (gx,) = ember.autograd.grad(ember.relu(x * x - 1), x, g, create_graph=True)
        (gg,) = ember.autograd.grad(gx.sum(), g)
        results.append((gx.detach().cpu().numpy(), gg.cpu().numpy()))
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-12)


@pytest.mark.parametrize("name", ["_foreach_add", "_foreach_mul", "_foreach_lerp",
                                  "_foreach_addcmul", "_foreach_sqrt", "_foreach_norm",
                                  "_foreach_maximum"])
def test_foreach_ops_on_cuda_match_cpu(name):
    rng = np.random.default_rng(1)
    arrays = [np.abs(rng.standard_normal(s)) + 0.1 for s in [(3,), (2, 4), (5, 1, 2)]]
    others = [np.abs(rng.standard_normal(a.shape)) + 0.1 for a in arrays]
    args = {"_foreach_add": lambda ts, os: (ts, os), "_foreach_mul": lambda ts, os: (ts, 2.5),
            "_foreach_lerp": lambda ts, os: (ts, os, 0.3),
            "_foreach_addcmul": lambda ts, os: (ts, os, os, 0.5),
            "_foreach_sqrt": lambda ts, os: (ts,), "_foreach_norm": lambda ts, os: (ts,),
            "_foreach_maximum": lambda ts, os: (ts, os)}[name]
    results = []
    for device in ("cpu", "cuda"):
        ts = [ember.tensor(a, device=device) for a in arrays]
        os = [ember.tensor(o, device=device) for o in others]
        out = getattr(ember, name)(*args(ts, os))
        assert all(o.device.type == device for o in out)
        results.append([o.cpu().numpy() for o in out])
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_antialiased_interpolate_on_cuda_matches_cpu(mode):
    x = np.random.default_rng(2).standard_normal((2, 3, 17, 23))
    outs, grads = [], []
    for device in ("cpu", "cuda"):
        t = ember.tensor(x, device=device, requires_grad=True)
        y = ember.nn.functional.interpolate(t, size=(6, 9), mode=mode, antialias=True)
        y.pow(2).sum().backward()
        outs.append(y.detach().cpu().numpy())
        grads.append(t.grad.cpu().numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
@pytest.mark.parametrize("op", ["lerp", "addcmul", "addcdiv", "sigmoid"])
def test_half_pointwise_on_cuda_match_cpu(op, dtype):
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal(64) + 2 for _ in range(3))
    call = {"lerp": lambda x, y, z: ember.lerp(x, y, 0.25),
            "addcmul": lambda x, y, z: ember.addcmul(x, y, z),
            "addcdiv": lambda x, y, z: ember.addcdiv(x, y, z, value=0.5),
            "sigmoid": lambda x, y, z: ember.sigmoid(x)}[op]
    results = []
    for device in ("cpu", "cuda"):
        out = call(*(ember.tensor(v, dtype=dtype, device=device) for v in (a, b, c)))
        assert out.dtype == dtype
        results.append(out.float().cpu().numpy())
    # CuPy and NumPy may differ in the last bit of a half-type result
    np.testing.assert_allclose(results[1], results[0], rtol=1e-2, atol=1e-3)


def test_sparse_coo_product_and_gradient_on_cuda_match_cpu():
    dense = np.random.default_rng(4).standard_normal((4, 3))
    results = []
    for device in ("cpu", "cuda"):
        s = ember.sparse_coo_tensor([[0, 1, 3], [2, 0, 1]], [1.0, -2.0, 0.5], (5, 4),
                                    dtype=ember.float64, device=device)
        d = ember.tensor(dense, device=device, requires_grad=True)
        y = ember.sparse.mm(s, d)
        y.sum().backward()
        results.append((y.detach().cpu().numpy(), d.grad.cpu().numpy()))
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, BF16])
@pytest.mark.parametrize("bias_shape", [(6,), (4, 6), (1, 6)])
def test_half_addmm_adds_the_bias_inside_cublas_rounding_once(dtype, bias_shape):
    import cupy

    from ember.backend import cuda
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((4, 40)).astype(dtype), rng.standard_normal((40, 6)).astype(dtype)
    bias = (rng.standard_normal(bias_shape) * 100).astype(dtype)
    got = cuda.addmm(cupy.asarray(bias), cupy.asarray(a), cupy.asarray(b))
    want = (a.astype(np.float32) @ b.astype(np.float32) + bias.astype(np.float32)).astype(dtype)
    assert got.dtype == dtype and got.shape == (4, 6)
    # float32 sums in another order than NumPy's: at most one unit in the last place apart
    np.testing.assert_allclose(got.get().astype(np.float64), want.astype(np.float64),
                               rtol=2 ** -7 if dtype == BF16 else 2 ** -10, atol=1e-6)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_half_linear_on_cuda_matches_cpu(dtype):
    rng = np.random.default_rng(6)
    x, w, bias = rng.standard_normal((8, 32)), rng.standard_normal((5, 32)), rng.standard_normal(5)
    results = []
    for device in ("cpu", "cuda"):
        xs = [ember.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in (x, w, bias)]
        y = ember.nn.functional.linear(*xs)
        y.float().pow(2).sum().backward()
        results.append([y.detach().float().cpu().numpy()] +
                       [t.grad.float().cpu().numpy() for t in xs])
    for cpu, cuda in zip(*results):
        np.testing.assert_allclose(cuda, cpu, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_half_times_python_number_on_cuda_matches_cpu(dtype):
    # both in float32 with the number unrounded, rounded once (PyTorch's opmath)
    x = np.random.default_rng(7).standard_normal(1000) * 10
    got = [(ember.tensor(x, device=d).to(dtype) * 0.1).float().cpu().numpy()
           for d in ("cpu", "cuda")]
    np.testing.assert_array_equal(got[1], got[0])
