"""``torch.utils.dlpack``: tensors to and from DLPack capsules (zero-copy)."""
from ember import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
