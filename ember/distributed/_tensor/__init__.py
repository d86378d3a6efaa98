"""``torch.distributed._tensor``: the old name of ``torch.distributed.tensor``, which PyTorch
keeps for compatibility; its submodules are the new package's modules under the old names."""
import sys
from importlib import import_module

from ember.distributed.tensor import (  # noqa: F401
    DeviceMesh,
    DTensor,
    Partial,
    Placement,
    Replicate,
    Shard,
    distribute_module,
    distribute_tensor,
    init_device_mesh,
)

for _submodule in ("_utils", "device_mesh", "experimental", "placement_types"):
    sys.modules[f"{__name__}.{_submodule}"] = import_module(
        f"ember.distributed.tensor.{_submodule}")
