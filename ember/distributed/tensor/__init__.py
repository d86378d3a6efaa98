"""``torch.distributed.tensor``: tensors laid out over a ``DeviceMesh`` (``DTensor``) and the
placements that describe the layout. See NOTE [ ember's DTensor ] (``_api.py``) for what ember
supports."""
from ember.distributed.device_mesh import DeviceMesh, init_device_mesh
from ember.distributed.tensor._api import DTensor, distribute_module, distribute_tensor
from ember.distributed.tensor.placement_types import Partial, Placement, Replicate, Shard

__all__ = ["DTensor", "DeviceMesh", "Partial", "Placement", "Replicate", "Shard",
           "distribute_module", "distribute_tensor", "init_device_mesh"]
