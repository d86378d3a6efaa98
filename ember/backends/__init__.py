"""``ember.backends``: the backend switches PyTorch code reads (cudnn, mps, cuda, ...)."""
from __future__ import annotations

import types

# Real submodules, so that ``import torch.backends.cudnn as cudnn`` works as in PyTorch.
from ember.backends import cudnn, mps, quantized  # noqa: F401


def _flags(**defaults):
    return types.SimpleNamespace(**defaults)


cuda = _flags(is_built=lambda: True,
              matmul=_flags(allow_tf32=False, allow_fp16_reduced_precision_reduction=True))

mkldnn = _flags(enabled=False, is_available=lambda: False)
openmp = _flags(is_available=lambda: False)

