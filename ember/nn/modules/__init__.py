"""The layer catalogue: every Module subclass under PyTorch's names."""
from ember.nn.modules.module import Module  # noqa: F401
from ember.nn.modules.container import (ModuleDict, ModuleList, ParameterDict,  # noqa: F401
                                        ParameterList, Sequential)

# --- spatial and sequence layers (nn-spatial) ---
