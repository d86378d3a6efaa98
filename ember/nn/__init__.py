"""ember.nn: modules, parameters, layers, losses, ``functional``, ``init`` and ``utils``."""
# ruff: noqa: I001  (the order is deliberate: Module first, then the layers)
from ember.nn.parameter import (Buffer, Parameter, UninitializedBuffer,  # noqa: F401
                                UninitializedParameter)
from ember.nn.modules import *  # noqa: F401,F403  (the spatial layers arrive through this too)
from ember.nn import functional, init, parallel, utils  # noqa: F401,E402  isort: skip
from ember.nn.parallel import DataParallel  # noqa: F401,E402  isort: skip

# --- spatial and sequence layers (nn-spatial) ---
