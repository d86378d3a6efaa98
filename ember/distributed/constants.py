"""``torch.distributed.constants``: how long a collective waits by default before it fails
(PyTorch's build without NCCL has no separate NCCL timeout: None)."""
from ember.distributed.process_group import default_pg_timeout

default_pg_nccl_timeout = None

__all__ = ["default_pg_timeout", "default_pg_nccl_timeout"]
