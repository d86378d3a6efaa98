"""``torch.distributed.tensor.device_mesh``: where DeviceMesh lived before it moved to
``torch.distributed.device_mesh``; PyTorch keeps the name for older scripts."""
from ember.distributed.device_mesh import DeviceMesh, init_device_mesh

__all__ = ["DeviceMesh", "init_device_mesh"]
