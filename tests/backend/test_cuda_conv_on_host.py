"""The CUDA kernels of ember.backend.cuda_conv, compiled as C++ for the host, against ember's
CPU path: the kernels' CUDA C runs unchanged (one thread walks every grid-stride loop) and
ember's CUDA branches run on NumPy arrays, so the kernels' index arithmetic and the Python glue
are checked on any machine with a C++ compiler. Results match the CPU path bit for bit (the
sums run in the same order), except where the GEMMs differ: one GEMM for all kernel offsets
(channels-last input gradients) or per sample (where the CPU moves the batch last)."""
import ctypes
import shutil
import subprocess
import types

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import cuda, cuda_conv
from ember.backend import kernels as K

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")

BF16 = np.dtype(ml_dtypes.bfloat16)

# What the kernels take from CUDA, for a host compiler: one block of one thread, whose
# grid-stride loops then walk every element.
_SHIM = r"""
#include <cstring>
struct ember_dim3 { unsigned int x, y, z; };
static const ember_dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0};
static const ember_dim3 blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
template <class To, class From> static inline To bits_as(From v) {
    To out; std::memcpy(&out, &v, sizeof out); return out; }
static inline float __int_as_float(int v) { return bits_as<float>(v); }
static inline float __uint_as_float(unsigned int v) { return bits_as<float>(v); }
static inline unsigned int __float_as_uint(float v) { return bits_as<unsigned int>(v); }
static inline double __longlong_as_double(long long v) { return bits_as<double>(v); }
"""
# float16's conversions without PTX (GCC's _Float16 rounds to nearest even, as cvt.rn does)
_HOST_FLOAT16 = ("_Float16 h; std::memcpy(&h, &x, 2); return (float)h;",
                 "_Float16 h = (_Float16)v; unsigned short b; std::memcpy(&b, &h, 2); return b;")
_NAMES = ("im2col", "col2im", "max_pool_forward", "max_pool_backward")


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """The kernels for a dtype, compiled for the host, as CuPy's launch would call them."""
    build = tmp_path_factory.mktemp("cuda_conv")
    libraries = {}

    def kernels(dtype):
        dtype_name = dtype.name
        if dtype_name not in libraries:
            src, lib = build / f"{dtype_name}.cpp", build / f"{dtype_name}.so"
            with pytest.MonkeyPatch.context() as mp:
                mp.setitem(cuda_conv._HALF_LOADS, "float16", _HOST_FLOAT16)
                src.write_text(_SHIM + cuda_conv.source(dtype_name))
            done = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)],
                                  capture_output=True, text=True)
            if done.returncode and dtype_name == "float16":
                pytest.skip("this g++ has no _Float16 (GCC 12 has)")
            assert done.returncode == 0, done.stderr
            libraries[dtype_name] = ctypes.CDLL(str(lib))
        return {name: _launcher(getattr(libraries[dtype_name], f"ember_{name}"))
                for name in _NAMES}
    return kernels


def _launcher(function):
    def launch(grid, block, args):
        function(*(ctypes.c_void_p(a.ctypes.data) if isinstance(a, np.ndarray)
                   else ctypes.c_int(int(a)) if isinstance(a, np.int32)
                   else ctypes.c_longlong(int(a)) for a in args))
    return launch


@pytest.fixture
def both(host_kernels):
    """``both(fn)``: ``fn()`` on the CPU path, then with ember's CUDA branches taken on NumPy
    arrays through the host-compiled kernels."""
    def run(fn):
        want = fn()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(cuda, "cupy", lambda: types.SimpleNamespace(
                empty=np.empty, ascontiguousarray=np.ascontiguousarray))
            mp.setattr(cuda_conv, "_kernels", host_kernels)
            mp.setattr(K, "_on_gpu",
                       lambda a, nd, elements: nd <= 3 and cuda_conv.supports(a.dtype))
            got = fn()
        return want, got
    return run


def _assert_same(want, got, exact=True, rtol=1e-12):
    for w, g in zip(want, got):
        assert w.dtype == g.dtype and w.shape == g.shape
        if w.dtype == BF16:  # which NumPy compares as numbers, NaN unequal to NaN
            w, g = w.astype(np.float32), g.astype(np.float32)
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol)


CONVS = [  # (C_in, C_out, kernel, stride, padding, dilation, groups)
    (3, 6, 5, 1, 0, 1, 1),  # LeNet's first layer: channels-first columns, batch-last on the CPU
    (6, 16, 5, 1, 0, 1, 1),
    (4, 24, 3, 1, 1, 1, 1),  # "same" padding: one kernel offset covers the input, added first
    (4, 6, 3, 2, 1, 2, 2),
    (5, 4, (3, 2), (1, 2), (2, 1), (1, 2), 1),
    (3, 4, 1, 2, 0, 1, 1),
    (3, 4, 2, 2, 0, 1, 1),
    (3, 16, 2, 2, 0, 1, 1),  # windows that tile, and the same GEMMs as the composed path
    (2, 24, 3, 2, 1, 1, 1),  # windows that tile
    (32, 8, 3, 1, 1, 1, 1),  # channels-last columns
    (48, 10, 3, 2, (1, 2), 1, 2),
]


def _conv_exact(c_in, c_out, kernel, groups) -> bool:
    """Whether the kernels' path runs the CPU's GEMMs (see the module docstring)."""
    kernel = (kernel,) * 2 if isinstance(kernel, int) else kernel
    cg = c_in // groups
    return not K._channels_last(cg) and not K._batch_last(kernel, cg, c_out // groups)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("c_in,c_out,kernel,stride,padding,dilation,groups", CONVS)
def test_conv2d_kernels_match_the_cpu_path(both, dtype, c_in, c_out, kernel, stride, padding,
                                           dilation, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, c_in, 11, 10)).astype(dtype)
    k = (kernel,) * 2 if isinstance(kernel, int) else kernel
    w = rng.standard_normal((c_out, c_in // groups) + k).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)

    def run():
        xt, wt, bt = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xt, wt, bt, stride, padding, dilation, groups)
        gy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
        y.backward(ember.tensor(gy))
        return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()
    want, got = both(run)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    _assert_same(want[:1] + want[2:], got[:1] + got[2:])
    _assert_same(want[1:2], got[1:2], _conv_exact(c_in, c_out, kernel, groups), rtol)


@pytest.mark.parametrize("nd", [1, 3])
def test_conv1d_conv3d_and_transposed_match_the_cpu_path(both, nd):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3) + (7,) * nd)
    w = rng.standard_normal((4, 3) + (3,) * nd)
    conv = F.conv1d if nd == 1 else F.conv3d
    transposed = F.conv_transpose1d if nd == 1 else F.conv_transpose3d

    def run():
        xt, wt = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
        y = conv(xt, wt, stride=2, padding=1, dilation=1)
        z = transposed(y, wt, stride=2, padding=1, output_padding=1)
        z.sum().backward()
        return y.detach().numpy(), z.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()
    _assert_same(*both(run))


POOLS = [  # (kernel, stride, padding, dilation, ceil_mode)
    (2, 2, 0, 1, False),
    (3, 2, 1, 1, True),
    (3, 1, 1, 2, False),
    ((2, 3), (1, 2), (1, 1), (2, 1), True),
    (2, 1, 0, 1, False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, BF16])
@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode", POOLS)
def test_max_pool2d_kernels_match_the_cpu_path(both, dtype, kernel, stride, padding, dilation,
                                               ceil_mode):
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, (2, 3, 9, 8)).astype(dtype)  # many ties
    x[0, 0, 1, 1] = x[0, 0, 2, 0] = x[1, 2, 4, 5] = x[1, 2, 4, 6] = np.nan

    def run():
        xt = ember.tensor(x, requires_grad=True)
        y, idx = F.max_pool2d(xt, kernel, stride, padding, dilation, ceil_mode,
                              return_indices=True)
        g = ember.tensor(np.random.default_rng(4).standard_normal(y.shape).astype(dtype),
                         requires_grad=True)
        (gx,) = ember.autograd.grad(y, xt, g, create_graph=True)
        v = ember.tensor(np.random.default_rng(5).standard_normal(x.shape).astype(dtype))
        (gg,) = ember.autograd.grad((gx * v).sum(), g)  # the gather of v at the choices
        return y.detach().numpy(), idx.numpy(), gx.detach().numpy(), gg.numpy()
    _assert_same(*both(run))


@pytest.mark.parametrize("nd", [1, 3])
def test_max_pool1d_max_pool3d_and_integers_match_the_cpu_path(both, nd):
    rng = np.random.default_rng(6)
    x = rng.integers(-3, 4, (2, 2) + (7,) * nd)
    pool = F.max_pool1d if nd == 1 else F.max_pool3d

    def run():
        xt = ember.tensor(x.astype(np.float32), requires_grad=True)
        y, idx = pool(xt, 3, 2, 1, return_indices=True, ceil_mode=True)
        y.backward(ember.ones_like(y))
        yi, ii = pool(ember.tensor(x.astype(np.int32)), 2, 1, return_indices=True)
        return y.detach().numpy(), idx.numpy(), xt.grad.numpy(), yi.numpy(), ii.numpy()
    _assert_same(*both(run))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16])
def test_col2im_users_match_the_cpu_path(both, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    cols = rng.standard_normal((2, 3 * 6, 15)).astype(dtype)

    def run():
        xt = ember.tensor(x, requires_grad=True)
        F.avg_pool2d(xt, 3, 1, 1).backward(ember.ones((2, 3, 9, 8), dtype=xt.dtype))
        folded = F.fold(ember.tensor(cols), (5, 6), (2, 3), dilation=(2, 1), padding=1,
                        stride=(1, 2))
        return xt.grad.numpy(), folded.numpy()
    _assert_same(*both(run))


def test_im2col_crops_for_negative_padding(both):
    x = np.random.default_rng(8).standard_normal((2, 4, 9, 7)).astype(np.float32)
    pads = ((-1, 2), (1, -2))
    want, got = both(lambda: K.im2col(x, (3, 2), (2, 1), pads, (1, 2), 2))
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]


def test_summation_order_names_the_covering_offset():
    # stride 1 and "same" padding: offset (1, 1) covers every element, so it comes first
    assert K._summation_order((5, 5), (3, 3), (1, 1), (1, 1), (5, 5),
                              ((1, 1), (1, 1))) == (4, True)
    assert K._summation_order((2, 2), (3, 3), (2, 2), (1, 1), (5, 5),
                              ((0, 0), (0, 0))) == (-1, False)


def test_strided_inputs_match_the_cpu_path(both):
    rng = np.random.default_rng(9)
    base = rng.standard_normal((2, 9, 11, 32))
    weight = rng.standard_normal((8, 32, 3, 3))

    def run():
        x = ember.tensor(base, requires_grad=True)
        cl = x.permute(0, 3, 1, 2)  # (2, 32, 9, 11) laid out channels-last
        y = F.conv2d(cl, ember.tensor(weight), padding=1)
        pooled = F.max_pool2d(cl[:, ::3, :, 1:], 3, 2, 1)  # a strided view
        (y.sum() + pooled.sum()).backward()
        return y.detach().numpy(), pooled.detach().numpy(), x.grad.numpy()
    want, got = both(run)
    _assert_same(want[1:2], got[1:2])
    _assert_same(want[::2], got[::2], exact=False)


def test_max_pool_kernel_never_chooses_the_padding(host_kernels):
    # a window of lowest values: PyTorch's index is its first element inside the input
    torch = pytest.importorskip("torch")
    x = np.full((1, 1, 4, 5), -np.inf)
    x[0, 0, 2, 3] = np.nan
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cuda, "cupy", lambda: types.SimpleNamespace(empty=np.empty))
        mp.setattr(cuda_conv, "_kernels", host_kernels)
        values, index = cuda_conv.max_pool_forward(x, (3, 3), (2, 2), ((1, 1), (1, 1)),
                                                   (1, 1), (2, 3))
    want, want_index = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1,
                                                      return_indices=True)
    np.testing.assert_array_equal(values, want.numpy())
    np.testing.assert_array_equal(index, want_index.numpy())
