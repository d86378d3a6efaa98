"""``ember.backends``: the backend switches PyTorch code reads (cudnn, cuda, mps, ...)."""
from __future__ import annotations

# Real submodules, so that ``import torch.backends.cudnn as cudnn`` works as in PyTorch.
from ember.backends import cuda, cudnn, mkldnn, mps, openmp, opt_einsum, quantized  # noqa: F401
