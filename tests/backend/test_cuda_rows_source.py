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
