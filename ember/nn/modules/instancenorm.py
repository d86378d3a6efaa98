"""PyTorch's module path for the instance-norm classes; they live in ``normalization.py``."""
# ruff: noqa: I001
from ember.nn.modules.normalization import (InstanceNorm1d, InstanceNorm2d,  # noqa: F401
                                            InstanceNorm3d, _InstanceNorm)
