"""PyTorch's module path for the batch-norm classes (``nn.modules.batchnorm._BatchNorm`` is used
in ``isinstance`` checks); they live in ``normalization.py``."""
# ruff: noqa: I001
from ember.nn.modules.normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d,  # noqa: F401
                                            _BatchNorm, _NormBase)
