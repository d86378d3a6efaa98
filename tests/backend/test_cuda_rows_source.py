"""ember's row kernels (attention's softmax, layer norm, dropout) without a GPU: their CUDA C
for every dtype compiles with nvcc where it is installed, and defines every kernel that
``cuda_rows`` launches. (Their results are checked against NumPy and the CPU path on a GPU, in
tests/cuda/test_session6_cuda.py.)"""
import shutil
import subprocess

import pytest

from ember.backend import cuda_rows

DTYPES = ("float32", "float64", "bfloat16", "float16")


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_source_defines_every_kernel(dtype_name):
    code = cuda_rows.source(dtype_name)
    for name in cuda_rows.KERNEL_NAMES:
        assert f'extern "C" __global__ void ember_{name}(' in code


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize("dtype_name", DTYPES)
def test_source_compiles(dtype_name, tmp_path):
    source = tmp_path / f"rows_{dtype_name}.cu"
    source.write_text(cuda_rows.source(dtype_name))
    run = subprocess.run(["nvcc", "-arch=sm_90", "-ptx", "-o", str(tmp_path / "rows.ptx"),
                          str(source)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    ptx = (tmp_path / "rows.ptx").read_text()
    for name in cuda_rows.KERNEL_NAMES:
        assert f".entry ember_{name}(" in ptx


# The cast kernel compiled for the host: one thread walks the grid-stride loop.
_HOST_HARNESS = """
#include <cstring>
#define __device__
#define __forceinline__ inline
#define __global__
struct Dim { unsigned x; };
static Dim blockIdx = {0}, blockDim = {1}, threadIdx = {0}, gridDim = {1};
static inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
static inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("pair", [("float32", "bfloat16"), ("bfloat16", "float32")])
def test_bfloat16_cast_source_matches_ml_dtypes_on_the_host(pair, tmp_path):
    import ctypes

    import ml_dtypes
    import numpy as np
    source = tmp_path / "cast.cpp"
    source.write_text(_HOST_HARNESS + cuda_rows.cast_source(*pair) + """
extern "C" void run(const void* x, void* y, long long n) {
    ember_cast((const in_t*)x, (out_t*)y, n);
}
""")
    library = tmp_path / "cast.so"
    build = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)],
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr[-2000:]
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.standard_normal(1000) * 10.0 ** rng.integers(-40, 39, 1000),
        [0.0, -0.0, np.inf, -np.inf, np.nan, 3.4e38, 1e-45, 1.0 + 2.0 ** -8,
         1.0 + 3 * 2.0 ** -8, -(1.0 + 2.0 ** -8)]]).astype(np.float32)  # ties round to even
    dtypes = {"float32": np.dtype(np.float32), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
    x = values.astype(dtypes[pair[0]])
    y = np.empty(x.shape, dtypes[pair[1]])
    ctypes.CDLL(str(library)).run(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data),
                                  ctypes.c_longlong(x.size))
    want = x.astype(dtypes[pair[1]])
    np.testing.assert_array_equal(np.isnan(y.astype(np.float32)), np.isnan(want.astype(np.float32)))
    finite = ~np.isnan(want.astype(np.float32))
    np.testing.assert_array_equal(y[finite].view(np.uint16 if y.itemsize == 2 else np.uint32),
                                  want[finite].view(np.uint16 if y.itemsize == 2 else np.uint32))


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize("pair", [(a, b) for a in ("float32", "bfloat16", "float16")
                                  for b in ("float32", "bfloat16", "float16") if a != b])
def test_cast_source_compiles(pair, tmp_path):
    source = tmp_path / "cast.cu"
    source.write_text(cuda_rows.cast_source(*pair))
    run = subprocess.run(["nvcc", "-arch=sm_90", "-ptx", "-o", str(tmp_path / "cast.ptx"),
                          str(source)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
