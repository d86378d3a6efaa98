"""``ember.backends``: the backend switches PyTorch code reads (cudnn, mps, cuda, ...)."""
from __future__ import annotations

import types


def _flags(**defaults):
    return types.SimpleNamespace(**defaults)


# cuDNN is used through CuPy when a GPU is present; these flags are accepted and recorded.
cudnn = _flags(enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
               is_available=lambda: _cuda_available(), version=lambda: None)

# Apple's Metal backend does not exist in ember.
mps = _flags(is_available=lambda: False, is_built=lambda: False)

cuda = _flags(is_built=lambda: True,
              matmul=_flags(allow_tf32=False, allow_fp16_reduced_precision_reduction=True))

mkldnn = _flags(enabled=False, is_available=lambda: False)
openmp = _flags(is_available=lambda: False)


def _cuda_available() -> bool:
    from ember.backend import cuda as backend_cuda
    return backend_cuda.is_available()
