"""DDP communication hooks (``DistributedDataParallel.register_comm_hook``); the built-in
ones are in ``default_hooks``."""
from ember.distributed.algorithms.ddp_comm_hooks import default_hooks

__all__ = ["default_hooks"]
