"""ember.nn: modules, parameters, layers, losses, ``functional``, ``init`` and ``utils``."""
# ruff: noqa: I001  (the order is deliberate: Module first, then the layers)
from ember.nn.parameter import (Buffer, Parameter, UninitializedBuffer,  # noqa: F401
                                UninitializedParameter)
from ember.nn.modules import *  # noqa: F401,F403  (the spatial layers arrive through this too)
from ember.nn import functional, init, parallel, utils  # noqa: F401,E402  isort: skip
from ember.nn.parallel import DataParallel  # noqa: F401,E402  isort: skip

# --- spatial and sequence layers (nn-spatial) ---


# The quantization packages load on first use, as ``ember``'s own lazy submodules do.
_LAZY_SUBMODULES = ("quantized", "intrinsic", "qat")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"ember.nn.{name}")
    raise AttributeError(f"module 'ember.nn' has no attribute '{name}'")
